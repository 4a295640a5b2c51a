//! `coverforge worker`: reads jobs from the consumer group, renders them through the one job
//! function, and acknowledges each only once its result is final.
//!
//! Each thread is its own consumer (`NAME-1`, `NAME-2`, …) with its own connection. Before new
//! entries it takes, in order, its own pending entries (a restarted worker with the same name
//! finishes what it held), then entries idle past the visibility timeout (XAUTOCLAIM: a dead
//! worker's). In-flight entries are re-claimed every third of the timeout, so a long job is not
//! taken over. Failures by kind: a bad video, template or metadata, a limit or something
//! unsupported goes to the dead letters at once; anything else is retried (left pending, taken
//! again after the timeout) until the delivery count reaches its maximum. Dead-lettering and
//! acknowledging happen in one MULTI/EXEC. SIGTERM or SIGINT: no new reads, in-flight jobs
//! finish and are acknowledged, then the worker exits 0. A lost connection is reopened with
//! backoff; an unfinished job is never acknowledged. Edits to the data folder's templates, fonts
//! and assets (and `queue control reload`) rebuild each thread's environment before its next job.

use super::{id_ms, Keys, QueueJob, QueueResult};
use crate::env::Env;
use crate::error::{Error, ErrorKind, ErrorReport};
use crate::keyframe::cache::FrameCache;
use crate::pipeline::{self, Delivery, RenderOptions};
use redis::Commands;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a worker runs.
#[derive(Clone)]
pub struct WorkerOptions {
    /// Redis URL.
    pub url: String,
    /// The stream's keys.
    pub keys: Keys,
    /// Consumer group.
    pub group: String,
    /// Consumer name (threads add `-1`, `-2`, …).
    pub name: String,
    /// Threads.
    pub threads: usize,
    /// Where the enqueuing side's shared root is here (default: the same paths).
    pub root: Option<PathBuf>,
    /// Entries idle longer than this are taken from their consumer.
    pub visibility: Duration,
    /// Deliveries before a retried failure is dead-lettered.
    pub max_deliveries: u64,
    /// Device choices.
    pub render: RenderOptions,
    /// Keep keyframes in memory and on disk for later jobs of the same clip.
    pub cache: bool,
}

/// Set by SIGTERM/SIGINT or `queue control drain`: stop reading, finish what is in flight.
static STOP: AtomicBool = AtomicBool::new(false);
/// Set by `queue control pause`, cleared by `resume`: take no new jobs.
static PAUSED: AtomicBool = AtomicBool::new(false);
/// Bumped by `queue control reload`: threads build their environment afresh.
static RELOADS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// Entries a thread handles between two trims of the streams.
const TRIM_EVERY: u64 = 50;

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Asks every worker thread of this process to stop after its current job.
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// How long a blocking read waits; the connection's read timeout is above it.
const BLOCK: Duration = Duration::from_millis(1000);
/// How long done markers are kept.
const DONE_TTL_S: u64 = 7 * 24 * 3600;

/// Runs the worker until SIGTERM/SIGINT (or [`request_stop`]), with `make_env` built once per
/// thread (templates, fonts and logos cached in memory; template text is checked on every use).
///
/// # Errors
/// When Redis cannot be reached at start.
pub fn run(opts: &WorkerOptions, make_env: &(dyn Fn() -> Env + Sync)) -> Result<(), super::QueueError> {
    // SAFETY: installing a handler that only stores to an atomic, which is signal-safe.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
    // As batch: the allocator keeps freed buffers (~10 % of a cover's CPU otherwise), and
    // OpenCV works on the calling thread (the workers are one per core already).
    crate::av::keep_freed_memory();
    crate::pixels::opencv_single_threaded();
    let mut con = super::connect(&opts.url)?;
    let created: redis::RedisResult<()> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&opts.keys.jobs)
        .arg(&opts.group)
        .arg("0")
        .arg("MKSTREAM")
        .query(&mut con);
    if let Err(e) = created {
        if e.code() != Some("BUSYGROUP") {
            return Err(e.into());
        }
    }
    // Keyframes: memory, then this machine's disk cache (as batch's), shared by the threads;
    // none with --no-cache (every frame decoded, as `batch --no-cache`).
    let frames = opts.cache.then(|| {
        FrameCache::new(FrameCache::default_dir(), 2048 << 20)
            .map(|c| c.with_memory(128 << 20))
            .unwrap_or_else(|_| FrameCache::memory_only(128 << 20))
    });
    {
        let opts = opts.clone();
        std::thread::spawn(move || listen_for_control(&opts));
    }
    // Like the other long runs: an edited font, logo or template in the data folder reloads
    // the threads' environments (templates are also compared with their text on every use).
    {
        let env = make_env();
        let folders =
            vec![env.templates_dir().to_owned(), env.fonts.dir().to_owned(), env.assets_dir().to_owned()];
        std::thread::spawn(move || {
            let _ = crate::batch::watch::watch_folders(
                &folders,
                std::path::Path::new("/nonexistent"),
                &mut |_| {
                    RELOADS.fetch_add(1, Ordering::SeqCst);
                    true
                },
            );
        });
    }
    let (commits, pending) = std::sync::mpsc::channel();
    let committer = {
        let url = opts.url.clone();
        std::thread::spawn(move || committer(url, pending))
    };
    std::thread::scope(|scope| {
        for i in 1..=opts.threads.max(1) {
            let consumer = format!("{}-{i}", opts.name);
            let frames = frames.clone();
            let commits = commits.clone();
            scope.spawn(move || Thread::new(opts, consumer, frames, commits).run(make_env));
        }
    });
    // Every render thread is done: the committer settles what they handed over, then ends.
    drop(commits);
    let _ = committer.join();
    Ok(())
}

/// One consumer.
struct Thread<'a> {
    opts: &'a WorkerOptions,
    consumer: String,
    frames: Option<FrameCache>,
    in_flight: Arc<Mutex<HashSet<String>>>,
    commits: std::sync::mpsc::Sender<Commit>,
}

/// A rendered job waiting for its cover to reach the disk before it is acknowledged.
struct Commit {
    output: PathBuf,
    /// SET done, XACK, XADD result: one MULTI/EXEC.
    pipe: redis::Pipeline,
    id: String,
    in_flight: Arc<Mutex<HashSet<String>>>,
}

impl Commit {
    /// Flushes the cover, then settles the job in Redis.
    fn settle(self, con: &mut redis::Connection) -> redis::RedisResult<()> {
        if let Ok(f) = std::fs::File::open(&self.output) {
            let _ = f.sync_data();
        }
        let done = self.pipe.query(con);
        if done.is_ok() {
            self.in_flight.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
        }
        done
    }
}

/// Settles commits in order, off the render threads (as batch's committer flushes covers), and
/// never drops one: a lost connection is reopened until it goes through.
fn committer(url: String, commits: std::sync::mpsc::Receiver<Commit>) {
    let mut con: Option<redis::Connection> = None;
    for commit in commits {
        let output = commit.output.clone();
        if let Ok(f) = std::fs::File::open(&output) {
            let _ = f.sync_data();
        }
        let mut wait = Duration::from_millis(100);
        loop {
            if con.is_none() {
                con = redis::Client::open(url.as_str()).and_then(|c| c.get_connection()).ok();
            }
            if let Some(c) = con.as_mut() {
                if commit.pipe.query::<()>(c).is_ok() {
                    commit.in_flight.lock().unwrap_or_else(|e| e.into_inner()).remove(&commit.id);
                    break;
                }
                con = None;
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }
}

/// An entry to handle: its id and fields.
type Entry = (String, String);

impl<'a> Thread<'a> {
    fn new(
        opts: &'a WorkerOptions,
        consumer: String,
        frames: Option<FrameCache>,
        commits: std::sync::mpsc::Sender<Commit>,
    ) -> Self {
        Thread { opts, consumer, frames, in_flight: Arc::new(Mutex::new(HashSet::new())), commits }
    }

    fn connect(&self) -> redis::Connection {
        let mut wait = Duration::from_millis(100);
        loop {
            if let Ok(client) = redis::Client::open(self.opts.url.as_str()) {
                if let Ok(con) = client.get_connection() {
                    let _ = con.set_read_timeout(Some(BLOCK * 3));
                    return con;
                }
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    fn run(&self, make_env: &(dyn Fn() -> Env + Sync)) {
        let mut env = make_env();
        let mut reloads = RELOADS.load(Ordering::SeqCst);
        let heartbeat = self.heartbeat();
        let mut con = self.connect();
        let mut own_pending_done = false;
        let mut handled = 0u64;
        while !STOP.load(Ordering::SeqCst) {
            if RELOADS.load(Ordering::SeqCst) != reloads {
                reloads = RELOADS.load(Ordering::SeqCst);
                env = make_env(); // templates, fonts, logos and settings read afresh
            }
            if PAUSED.load(Ordering::SeqCst) {
                // After the pause, this consumer's pending entries come first again: one may
                // have been delivered while the pause arrived.
                own_pending_done = false;
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            let next = if own_pending_done {
                self.claim_idle(&mut con).and_then(|e| match e {
                    Some(e) => Ok(Some(e)),
                    None => self.read(&mut con, ">"),
                })
            } else {
                self.read(&mut con, "0")
            };
            match next {
                // Delivered just as a pause came: it stays pending for this consumer.
                Ok(Some(_)) if PAUSED.load(Ordering::SeqCst) => {}
                Ok(Some((id, json))) => {
                    if let Err(e) = self.handle(&mut con, &env, &id, &json) {
                        eprintln!("worker {}: {id}: redis: {e}; reconnecting", self.consumer);
                        con = self.connect();
                    }
                    handled += 1;
                    if handled.is_multiple_of(TRIM_EVERY) {
                        let _ = super::trim(&mut con, &self.opts.keys, &self.opts.group);
                        if let Some(f) = &self.frames {
                            f.evict(); // the disk cache keeps to its bound
                        }
                    }
                }
                Ok(None) => own_pending_done = true,
                Err(e) => {
                    if !e.is_timeout() {
                        eprintln!("worker {}: redis: {e}; reconnecting", self.consumer);
                    }
                    con = self.connect();
                }
            }
        }
        drop(heartbeat);
    }

    /// Keeps this consumer's in-flight entries claimed (their idle time reset) while it works.
    fn heartbeat(&self) -> Heartbeat {
        let stop = Arc::new(AtomicBool::new(false));
        let (in_flight, opts, consumer, flag) =
            (self.in_flight.clone(), self.opts.clone(), self.consumer.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            let mut con: Option<redis::Connection> = None;
            while !flag.load(Ordering::SeqCst) {
                std::thread::sleep(opts.visibility / 3);
                let ids: Vec<String> =
                    in_flight.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
                if ids.is_empty() {
                    continue;
                }
                if con.is_none() {
                    con = redis::Client::open(opts.url.as_str()).and_then(|c| c.get_connection()).ok();
                }
                if let Some(c) = con.as_mut() {
                    let mut cmd = redis::cmd("XCLAIM");
                    cmd.arg(&opts.keys.jobs).arg(&opts.group).arg(&consumer).arg(0).arg(&ids).arg("JUSTID");
                    if cmd.query::<redis::Value>(c).is_err() {
                        con = None;
                    }
                }
            }
        });
        Heartbeat { stop, handle: Some(handle) }
    }

    /// The next entry of this consumer's pending list (`from` = "0") or a new one (">").
    fn read(&self, con: &mut redis::Connection, from: &str) -> redis::RedisResult<Option<Entry>> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP").arg(&self.opts.group).arg(&self.consumer).arg("COUNT").arg(1);
        if from == ">" {
            cmd.arg("BLOCK").arg(BLOCK.as_millis() as u64);
        }
        cmd.arg("STREAMS").arg(&self.opts.keys.jobs).arg(from);
        let reply: Option<redis::streams::StreamReadReply> = cmd.query(con)?;
        Ok(reply
            .and_then(|r| r.keys.into_iter().next())
            .and_then(|k| k.ids.into_iter().next())
            .and_then(entry))
    }

    /// An entry idle past the visibility timeout, taken over from whoever held it.
    fn claim_idle(&self, con: &mut redis::Connection) -> redis::RedisResult<Option<Entry>> {
        let reply: redis::Value = redis::cmd("XAUTOCLAIM")
            .arg(&self.opts.keys.jobs)
            .arg(&self.opts.group)
            .arg(&self.consumer)
            .arg(self.opts.visibility.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(1)
            .query(con)?;
        // [next-cursor, [[id, [field, value, …]], …], [deleted ids]]
        let redis::Value::Array(parts) = reply else { return Ok(None) };
        let Some(redis::Value::Array(claimed)) = parts.get(1) else { return Ok(None) };
        for item in claimed {
            let redis::Value::Array(pair) = item else { continue };
            let (Some(id), Some(redis::Value::Array(fields))) = (pair.first(), pair.get(1)) else { continue };
            let id: String = redis::from_redis_value(id)?;
            for kv in fields.chunks(2) {
                let key: String = redis::from_redis_value(&kv[0]).unwrap_or_default();
                if key == "job" && kv.len() == 2 {
                    return Ok(Some((id, redis::from_redis_value(&kv[1])?)));
                }
            }
        }
        Ok(None)
    }

    /// How many times `id` has been delivered.
    fn deliveries(&self, con: &mut redis::Connection, id: &str) -> u64 {
        let reply: redis::RedisResult<Vec<(String, String, u64, u64)>> = redis::cmd("XPENDING")
            .arg(&self.opts.keys.jobs)
            .arg(&self.opts.group)
            .arg(id)
            .arg(id)
            .arg(1)
            .query(con);
        reply.ok().and_then(|v| v.first().map(|e| e.3)).unwrap_or(1)
    }

    /// Renders one entry and settles it. A Redis error leaves it pending (it is not acked).
    fn handle(&self, con: &mut redis::Connection, env: &Env, id: &str, json: &str) -> redis::RedisResult<()> {
        let keys = &self.opts.keys;
        let Ok(entry) = serde_json::from_str::<QueueJob>(json) else {
            let mut tx = redis::pipe();
            tx.atomic()
                .cmd("XADD")
                .arg(&keys.dead)
                .arg("*")
                .arg("job")
                .arg(json)
                .arg("error")
                .arg("not a coverforge job")
                .ignore()
                .cmd("XACK")
                .arg(&keys.jobs)
                .arg(&self.opts.group)
                .arg(id)
                .ignore();
            return tx.query(con);
        };
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string());
        let started = Instant::now();
        let outcome = self.render(con, env, &entry, id);
        let fresh = matches!(outcome, Outcome::Done { skipped: false, .. });
        let job = entry.mapped(self.opts.root.as_deref());
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as f64)
            .unwrap_or(0.0);
        let mut result = QueueResult {
            enqueue: entry.enqueue.clone(),
            seq: entry.seq,
            input: job.video.clone(),
            output: job.output.clone(),
            variant: job.variant.clone(),
            status: String::new(),
            worker: self.consumer.clone(),
            error: None,
            render_ms: started.elapsed().as_secs_f64() * 1000.0,
            queue_ms: now_ms - id_ms(id),
        };
        let mut tx = redis::pipe();
        tx.atomic();
        match outcome {
            Outcome::Done { hash, skipped } => {
                result.status = if skipped { "skipped" } else { "ok" }.into();
                tx.cmd("SET").arg(keys.done(&hash)).arg(1).arg("EX").arg(DONE_TTL_S).ignore();
                tx.cmd("XACK").arg(&keys.jobs).arg(&self.opts.group).arg(id).ignore();
            }
            Outcome::Failed(e) => {
                let permanent = matches!(
                    e.kind,
                    ErrorKind::InputMedia
                        | ErrorKind::Template
                        | ErrorKind::Limit
                        | ErrorKind::Unsupported
                        | ErrorKind::Usage
                );
                let deliveries = self.deliveries(con, id);
                if permanent || deliveries >= self.opts.max_deliveries {
                    result.status = "dead".into();
                    tx.cmd("XADD")
                        .arg(&keys.dead)
                        .arg("*")
                        .arg("job")
                        .arg(json)
                        .arg("error")
                        .arg(&e.message)
                        .ignore();
                    tx.cmd("XACK").arg(&keys.jobs).arg(&self.opts.group).arg(id).ignore();
                } else {
                    // Left pending: taken again once idle past the visibility timeout.
                    result.status = "failed".into();
                }
                result.error = Some(e);
            }
        }
        let line = serde_json::to_string(&result).expect("results serialise");
        tx.cmd("XADD").arg(&keys.results).arg("*").arg("result").arg(line).ignore();
        if fresh {
            // A new cover: flushed to disk, then acknowledged, by the committer.
            let commit = Commit {
                output: job.output,
                pipe: tx,
                id: id.to_string(),
                in_flight: self.in_flight.clone(),
            };
            if let Err(std::sync::mpsc::SendError(c)) = self.commits.send(commit) {
                c.settle(con)?;
            }
            return Ok(());
        }
        let settled = tx.query(con);
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
        settled
    }

    fn render(&self, con: &mut redis::Connection, env: &Env, entry: &QueueJob, id: &str) -> Outcome {
        let job = entry.mapped(self.opts.root.as_deref());
        let fail = |e: Error| Outcome::Failed(ErrorReport::new(&e, format!("{}: {e}", job.video.display())));
        let _deadline = pipeline::Deadline::start(env);
        let prepared = match pipeline::prepare(&job, env) {
            Ok(p) => p,
            Err(e) => return fail(e),
        };
        let identity = match crate::files::content_identity(&job.video) {
            Ok(i) => i,
            Err(e) => {
                return fail(
                    crate::probe::ProbeError::Io { path: job.video.clone(), message: e.to_string() }.into(),
                )
            }
        };
        let hash = match crate::batch::job_hash(
            &identity,
            &prepared.meta,
            &prepared.doc,
            "queue",
            &self.opts.render,
            env,
        ) {
            Ok(h) => h,
            Err(e) => return fail(e),
        };
        let done: bool = con.exists(self.opts.keys.done(&hash)).unwrap_or(false);
        if done && job.output.is_file() {
            return Outcome::Done { hash, skipped: true };
        }
        if let Some(hook) = test_hooks::transient(&job.output, || self.deliveries(con, id)) {
            return Outcome::Failed(hook);
        }
        if let Some(dir) = job.output.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir); // a failure shows as the write's error
        }
        let delivery = Delivery {
            cache: self.frames.as_ref().map(|f| (f, identity.as_str())),
            // Flushed by the committer before the job is acknowledged (off this thread's path).
            durability: crate::files::Durability::Unsynced,
            keep_canvas: false,
            measure_contrast: false,
        };
        match pipeline::finish(&job, prepared, &self.opts.render, env, &delivery) {
            Ok(_) => {
                test_hooks::rendered(&job.output);
                Outcome::Done { hash, skipped: false }
            }
            Err(e) => fail(e),
        }
    }
}

enum Outcome {
    Done { hash: String, skipped: bool },
    Failed(ErrorReport),
}

/// Follows the control stream (`queue control`) from now on and sets the fleet flags.
fn listen_for_control(opts: &WorkerOptions) {
    let mut last = "$".to_string();
    let mut con: Option<redis::Connection> = None;
    while !STOP.load(Ordering::SeqCst) {
        if con.is_none() {
            con = redis::Client::open(opts.url.as_str()).and_then(|c| c.get_connection()).ok();
            if let Some(c) = &con {
                let _ = c.set_read_timeout(Some(BLOCK * 3));
            }
            if con.is_none() {
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
        }
        let Some(c) = con.as_mut() else { continue };
        let reply: redis::RedisResult<Option<redis::streams::StreamReadReply>> = redis::cmd("XREAD")
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&opts.keys.control)
            .arg(&last)
            .query(c);
        match reply {
            Ok(reply) => {
                for key in reply.map(|r| r.keys).unwrap_or_default() {
                    for id in key.ids {
                        last = id.id.clone();
                        let command: String = id
                            .map
                            .get("command")
                            .and_then(|v| redis::from_redis_value(v).ok())
                            .unwrap_or_default();
                        match command.as_str() {
                            "reload" => {
                                RELOADS.fetch_add(1, Ordering::SeqCst);
                            }
                            "pause" => PAUSED.store(true, Ordering::SeqCst),
                            "resume" => PAUSED.store(false, Ordering::SeqCst),
                            "drain" => STOP.store(true, Ordering::SeqCst),
                            _ => {}
                        }
                    }
                }
            }
            Err(e) if e.is_timeout() => {}
            Err(_) => con = None,
        }
    }
}

fn entry(id: redis::streams::StreamId) -> Option<Entry> {
    let json: String = id.map.get("job").and_then(|v| redis::from_redis_value(v).ok())?;
    Some((id.id, json))
}

/// Stops the heartbeat thread when dropped.
struct Heartbeat {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// What the fleet tests need to see and provoke, enabled only by environment variables.
mod test_hooks {
    use std::io::Write;
    use std::path::Path;

    /// `COVERFORGE_TEST_RENDER_LOG=FILE`: a line per render actually done (the output), so a
    /// test counts renders, not files.
    pub fn rendered(output: &Path) {
        if let Some(log) = std::env::var_os("COVERFORGE_TEST_RENDER_LOG") {
            if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
                // One write per line: processes append to the same file.
                let _ = f.write_all(format!("{}\n", output.display()).as_bytes());
            }
        }
    }

    /// `COVERFORGE_TEST_TRANSIENT=TEXT`: the first delivery of a job whose output contains TEXT
    /// fails as a transient I/O error.
    pub fn transient(output: &Path, deliveries: impl FnOnce() -> u64) -> Option<crate::error::ErrorReport> {
        let text = std::env::var("COVERFORGE_TEST_TRANSIENT").ok()?;
        (output.to_string_lossy().contains(&text) && deliveries() <= 1).then(|| crate::error::ErrorReport {
            kind: crate::error::ErrorKind::Io,
            message: format!("{}: test hook: transient failure", output.display()),
            file: None,
            line: None,
            column: None,
        })
    }
}
