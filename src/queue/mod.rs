//! A fleet of workers on Redis Streams: `enqueue` puts batch's jobs on a stream, `worker`s in a
//! consumer group render them through the one job function, results go to a results stream.
//!
//! Keys (one hash tag, so a Redis Cluster can hold them together), for stream NAME:
//! - `{cf:NAME}:jobs`: the jobs (field `job`: a [`QueueJob`] as JSON), read by the group
//!   `workers` (`--group`);
//! - `{cf:NAME}:results`: one [`QueueResult`] per finished delivery;
//! - `{cf:NAME}:dead`: jobs that failed for good, with their error;
//! - `{cf:NAME}:done:HASH`: a cover's input hash once its output is complete (expires after 7
//!   days): a redelivered job whose hash is done is acknowledged without rendering.
//!
//! Delivery is at least once, output exactly one complete file per job: renders write by atomic
//! rename, so two workers racing on one job each write a complete file, the last one wins, and
//! both are the same cover.

pub mod worker;

use crate::batch::input::{discover, expand_variants};
use crate::env::Env;
use crate::error::ErrorReport;
use crate::pipeline::{Job, OutputKind};
use redis::Commands;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The consumer group workers join by default.
pub const DEFAULT_GROUP: &str = "workers";
/// The stream name by default.
pub const DEFAULT_STREAM: &str = "covers";

/// The keys of one stream.
#[derive(Debug, Clone)]
pub struct Keys {
    /// The jobs stream.
    pub jobs: String,
    /// The results stream.
    pub results: String,
    /// Dead letters.
    pub dead: String,
    /// Fleet commands (`queue control`): reload, pause, resume, drain.
    pub control: String,
    prefix: String,
}

impl Keys {
    /// The keys of stream `name`.
    pub fn new(name: &str) -> Self {
        let prefix = format!("{{cf:{name}}}");
        Keys {
            jobs: format!("{prefix}:jobs"),
            results: format!("{prefix}:results"),
            dead: format!("{prefix}:dead"),
            control: format!("{prefix}:control"),
            prefix,
        }
    }

    /// The done marker of an input hash.
    pub fn done(&self, hash: &str) -> String {
        format!("{}:done:{hash}", self.prefix)
    }
}

/// A job as it travels: batch's [`Job`] with paths under `root` (the enqueuing side's shared
/// folder), so a worker can map them under its own `--root`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueJob {
    /// The job; its paths start with `root`.
    pub job: Job,
    /// The enqueuing side's shared root.
    pub root: PathBuf,
    /// Which `enqueue` this job came from.
    pub enqueue: String,
    /// Its position in that enqueue.
    pub seq: usize,
}

impl QueueJob {
    /// The job with its paths moved from `self.root` to `root`.
    pub fn mapped(&self, root: Option<&Path>) -> Job {
        let Some(root) = root else { return self.job.clone() };
        let map = |p: &Path| match p.strip_prefix(&self.root) {
            Ok(rel) => root.join(rel),
            Err(_) => p.to_owned(),
        };
        let mut job = self.job.clone();
        job.video = map(&job.video);
        job.output = map(&job.output);
        if let crate::metadata::MetaSource::File(m) = &job.meta {
            job.meta = crate::metadata::MetaSource::File(map(m));
        }
        job
    }
}

/// What became of one delivery of a job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueueResult {
    /// Which enqueue, and which job of it.
    pub enqueue: String,
    /// Its position.
    pub seq: usize,
    /// The video.
    pub input: PathBuf,
    /// The cover.
    pub output: PathBuf,
    /// The A/B variant, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// `ok`, `skipped` (already done), `failed` (will be retried) or `dead`.
    pub status: String,
    /// The worker that handled it.
    pub worker: String,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReport>,
    /// Milliseconds spent rendering.
    pub render_ms: f64,
    /// Milliseconds from enqueue to this result (the stream ids' clock).
    pub queue_ms: f64,
}

/// Why a queue command failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Redis refused or is unreachable.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The batch input could not be read.
    #[error(transparent)]
    Input(#[from] crate::batch::BatchError),
}

/// Opens a connection.
///
/// # Errors
/// A bad URL or an unreachable server.
pub fn connect(url: &str) -> Result<redis::Connection, QueueError> {
    Ok(redis::Client::open(url)?.get_connection()?)
}

/// What `enqueue` did.
#[derive(Debug, Clone, Serialize)]
pub struct Enqueued {
    /// This enqueue's id.
    pub enqueue: String,
    /// Jobs added.
    pub jobs: usize,
    /// The stream id of the first job (results are read from here on).
    pub first_id: String,
}

/// Puts every cover job of INPUT (as `batch` discovers them, variants expanded) on the stream.
///
/// # Errors
/// [`QueueError`] when INPUT cannot be read or Redis refuses.
pub fn enqueue(
    input: &Path,
    outdir: &Path,
    kind: &OutputKind,
    template: Option<String>,
    con: &mut redis::Connection,
    keys: &Keys,
    env: &Env,
) -> Result<Enqueued, QueueError> {
    let ext = match kind {
        OutputKind::Animated(_) => "mp4",
        OutputKind::Still { .. } => "jpg",
    };
    let batch = expand_variants(discover(input, outdir, ext, &env.limits, false)?, &env.limits);
    let defaults = batch.defaults.as_ref().map(|(_, m)| m.clone());
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
    let root = common_root(&abs(input), &abs(outdir));
    let enqueue = format!(
        "{}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0),
        std::process::id()
    );
    let mut first_id = String::new();
    let mut pipe = redis::pipe();
    for (seq, b) in batch.jobs.iter().enumerate() {
        let meta = match &b.meta {
            crate::metadata::MetaSource::File(p) => crate::metadata::MetaSource::File(abs(p)),
            other => other.clone(),
        };
        let job = Job {
            video: abs(&b.video),
            meta,
            defaults: defaults.clone(),
            template: template.clone(),
            output: abs(&b.output),
            kind: kind.clone(),
            variant: b.variant.clone(),
        };
        let entry = QueueJob { job, root: root.clone(), enqueue: enqueue.clone(), seq };
        let json = serde_json::to_string(&entry).expect("jobs serialise");
        pipe.cmd("XADD").arg(&keys.jobs).arg("*").arg("job").arg(json);
    }
    let ids: Vec<String> = pipe.query(con)?;
    if let Some(id) = ids.first() {
        first_id = id.clone();
    }
    Ok(Enqueued { enqueue, jobs: batch.jobs.len(), first_id })
}

/// The deepest folder holding both paths.
fn common_root(a: &Path, b: &Path) -> PathBuf {
    let mut root = PathBuf::new();
    for (x, y) in a.components().zip(b.components()) {
        if x != y {
            break;
        }
        root.push(x);
    }
    root
}

/// The queue's state, for `queue status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Jobs in the stream (delivered or not, until trimmed).
    pub length: u64,
    /// Delivered, not yet acknowledged.
    pub pending: u64,
    /// Not yet delivered to the group.
    pub lag: Option<u64>,
    /// Dead letters.
    pub dead: u64,
    /// Results.
    pub results: u64,
    /// Pending entries per worker.
    pub pending_by_worker: Vec<(String, u64)>,
    /// Covers per second per worker over the last minute (from the results stream; threads of
    /// one worker counted together).
    pub rate_by_worker: Vec<(String, f64)>,
}

/// Reads the queue's state.
///
/// # Errors
/// When Redis refuses.
pub fn status(con: &mut redis::Connection, keys: &Keys, group: &str) -> Result<Status, QueueError> {
    let length: u64 = con.xlen(&keys.jobs)?;
    let dead: u64 = con.xlen(&keys.dead)?;
    let results: u64 = con.xlen(&keys.results)?;
    let (mut pending, mut by_worker, mut lag) = (0, Vec::new(), None);
    let summary: redis::RedisResult<redis::Value> =
        redis::cmd("XPENDING").arg(&keys.jobs).arg(group).query(con);
    if let Ok(redis::Value::Array(parts)) = summary {
        if let Some(redis::Value::Int(n)) = parts.first() {
            pending = *n as u64;
        }
        if let Some(redis::Value::Array(workers)) = parts.get(3) {
            for w in workers {
                if let redis::Value::Array(pair) = w {
                    let name: String = redis::from_redis_value(&pair[0]).unwrap_or_default();
                    let count: String = redis::from_redis_value(&pair[1]).unwrap_or_default();
                    by_worker.push((name, count.parse().unwrap_or(0)));
                }
            }
        }
    }
    let groups: redis::RedisResult<Vec<std::collections::HashMap<String, redis::Value>>> =
        redis::cmd("XINFO").arg("GROUPS").arg(&keys.jobs).query(con);
    if let Ok(groups) = groups {
        for g in groups {
            let name: String =
                g.get("name").and_then(|v| redis::from_redis_value(v).ok()).unwrap_or_default();
            if name == group {
                lag = g.get("lag").and_then(|v| redis::from_redis_value(v).ok());
            }
        }
    }
    let rate_by_worker = recent_rates(con, keys)?;
    Ok(Status { length, pending, lag, dead, results, pending_by_worker: by_worker, rate_by_worker })
}

/// Finished covers per second per worker over the last minute.
fn recent_rates(con: &mut redis::Connection, keys: &Keys) -> Result<Vec<(String, f64)>, QueueError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let since = now.saturating_sub(60_000);
    let recent: redis::streams::StreamRangeReply =
        redis::cmd("XRANGE").arg(&keys.results).arg(since).arg("+").arg("COUNT").arg(100_000).query(con)?;
    let mut counts: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for entry in recent.ids {
        let Some(v) = entry.map.get("result") else { continue };
        let Ok(text) = redis::from_redis_value::<String>(v) else { continue };
        let Ok(r) = serde_json::from_str::<QueueResult>(&text) else { continue };
        if matches!(r.status.as_str(), "ok" | "skipped") {
            let worker = r.worker.rsplit_once('-').map_or(r.worker.as_str(), |(w, _)| w).to_string();
            *counts.entry(worker).or_default() += 1;
        }
    }
    Ok(counts.into_iter().map(|(w, n)| (w, n as f64 / 60.0)).collect())
}

/// Puts every dead letter back on the jobs stream (and empties the dead letters). Returns how
/// many.
///
/// # Errors
/// When Redis refuses.
pub fn retry_dead(con: &mut redis::Connection, keys: &Keys) -> Result<usize, QueueError> {
    let dead: redis::streams::StreamRangeReply = con.xrange_all(&keys.dead)?;
    let mut n = 0;
    for entry in dead.ids {
        if let Some(job) = entry.map.get("job") {
            let job: String = redis::from_redis_value(job)?;
            let mut tx = redis::pipe();
            tx.atomic().cmd("XADD").arg(&keys.jobs).arg("*").arg("job").arg(job).ignore();
            tx.cmd("XDEL").arg(&keys.dead).arg(&entry.id).ignore();
            tx.query::<()>(con)?;
            n += 1;
        }
    }
    Ok(n)
}

/// A command for every worker of a fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    /// Read templates, fonts, logos and settings afresh.
    Reload,
    /// Take no new jobs (in-flight ones finish).
    Pause,
    /// Take jobs again.
    Resume,
    /// Finish in-flight jobs and exit.
    Drain,
}

/// Tells every worker listening on the stream's control stream.
///
/// # Errors
/// When Redis refuses.
pub fn control(con: &mut redis::Connection, keys: &Keys, what: Control) -> Result<(), QueueError> {
    let word =
        serde_json::to_value(what).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    // Only recent commands matter to a worker that starts later: keep the last 100.
    redis::cmd("XADD")
        .arg(&keys.control)
        .arg("MAXLEN")
        .arg("~")
        .arg(100)
        .arg("*")
        .arg("command")
        .arg(word)
        .query::<String>(con)?;
    Ok(())
}

/// Trims the jobs stream below its oldest unfinished entry (MINID; MAXLEN would drop jobs not yet
/// delivered, as Redis 7.0 ignores consumer groups there), and results older than a day. Called
/// by workers from time to time.
///
/// # Errors
/// When Redis refuses.
pub fn trim(con: &mut redis::Connection, keys: &Keys, group: &str) -> Result<(), QueueError> {
    // The oldest pending entry, else the group's last delivered one: everything before it is done.
    let summary: redis::Value = redis::cmd("XPENDING").arg(&keys.jobs).arg(group).query(con)?;
    let oldest_pending = match &summary {
        redis::Value::Array(parts) => parts.get(1).and_then(|v| redis::from_redis_value::<String>(v).ok()),
        _ => None,
    };
    let floor = match oldest_pending {
        Some(id) => Some(id),
        None => {
            let groups: Vec<std::collections::HashMap<String, redis::Value>> =
                redis::cmd("XINFO").arg("GROUPS").arg(&keys.jobs).query(con).unwrap_or_default();
            groups
                .iter()
                .find(|g| {
                    g.get("name").and_then(|v| redis::from_redis_value::<String>(v).ok()).as_deref()
                        == Some(group)
                })
                .and_then(|g| {
                    g.get("last-delivered-id").and_then(|v| redis::from_redis_value::<String>(v).ok())
                })
                // The last delivered entry itself is done: keep from the next id on.
                .map(|id| {
                    format!(
                        "{}-{}",
                        id_ms(&id) as u64,
                        id.split('-').nth(1).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0) + 1
                    )
                })
        }
    };
    if let Some(floor) = floor {
        redis::cmd("XTRIM").arg(&keys.jobs).arg("MINID").arg("~").arg(floor).query::<u64>(con)?;
    }
    let day_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
        .saturating_sub(86_400_000);
    redis::cmd("XTRIM").arg(&keys.results).arg("MINID").arg("~").arg(day_ago).query::<u64>(con)?;
    Ok(())
}

/// The milliseconds part of a stream id (`1700000000000-0`).
pub fn id_ms(id: &str) -> f64 {
    id.split('-').next().and_then(|m| m.parse::<f64>().ok()).unwrap_or(0.0)
}

/// Follows the results stream from the enqueue's first job until every job of that enqueue has a
/// final result (`ok`, `skipped` or `dead`); returns one per job, in job order.
///
/// # Errors
/// When Redis refuses.
pub fn wait(
    url: &str,
    con: &mut redis::Connection,
    keys: &Keys,
    enqueued: &Enqueued,
) -> Result<Vec<QueueResult>, QueueError> {
    let mut last = format!("{}", (id_ms(&enqueued.first_id) as u64).saturating_sub(1));
    let mut finals: std::collections::BTreeMap<usize, QueueResult> = std::collections::BTreeMap::new();
    while finals.len() < enqueued.jobs {
        let reply: redis::RedisResult<Option<redis::streams::StreamReadReply>> = redis::cmd("XREAD")
            .arg("BLOCK")
            .arg(1000)
            .arg("COUNT")
            .arg(500)
            .arg("STREAMS")
            .arg(&keys.results)
            .arg(&last)
            .query(con);
        let reply = match reply {
            Ok(r) => r,
            // Redis restarted or unreachable: keep trying from where we were.
            Err(e)
                if e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_timeout() =>
            {
                std::thread::sleep(std::time::Duration::from_millis(200));
                if let Ok(c) = connect(url) {
                    *con = c;
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            for id in key.ids {
                last = id.id.clone();
                let Some(v) = id.map.get("result") else { continue };
                let text: String = redis::from_redis_value(v)?;
                let Ok(r) = serde_json::from_str::<QueueResult>(&text) else { continue };
                if r.enqueue == enqueued.enqueue && r.status != "failed" {
                    finals.insert(r.seq, r);
                }
            }
        }
    }
    Ok(finals.into_values().collect())
}
