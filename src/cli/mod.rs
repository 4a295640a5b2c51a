//! The `coverforge` command line: parse → validated plan → run → print, in two levels as
//! ripgrep does. [`args`] holds clap's raw flags; [`main`] turns them into library values
//! (`RenderOptions`, `Job`, a batch plan with enums and real objects) before any work starts,
//! runs them, and hands the result to [`print`]. Every failure is printed as one line naming the
//! file and the problem; only here does an error become an exit code, through
//! [`coverforge::error::ErrorKind::exit_code`].

pub mod args;
mod print;

use args::{BatchArgs, BatchFormat, Cli, Command, CtrAction, QueueAction, QueueArgs};
use clap::{CommandFactory, Parser};
use coverforge::batch::BatchError;
use coverforge::error::{Error, ErrorKind};
use coverforge::keyframe::cache::FrameCache;
use coverforge::pipeline::{self, Job, OutputKind, RenderOptions};
use coverforge::{metadata::MetaSource, Env};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A failure of a command, with its exit code.
struct Failure {
    kind: ErrorKind,
    message: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure { kind: e.kind(), message: e.to_string() }
    }
}

impl From<BatchError> for Failure {
    fn from(e: BatchError) -> Self {
        Failure { kind: e.kind(), message: e.to_string() }
    }
}

/// What a command that succeeded asks the process to exit with (0, or 1 for "some findings").
type Outcome = Result<ExitCode, Failure>;

/// Parses the command line, runs it and returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    if matches!(&cli.command, Command::Serve { .. } | Command::Worker { .. })
        || matches!(&cli.command, Command::Batch(args) if args.watch)
    {
        // Long-running commands build the word segmenter's full dictionary (150-220 ms on one
        // core) in the background; titles cut before it is ready, and every title of a single
        // `render` or a small batch, use a segmenter made for the title alone (layout::words;
        // `batch::run` decides by the number of jobs).
        coverforge::layout::words::warm_up();
    }
    let mut allowed = cli.allow_path.clone();
    // A batch reads the templates and images its INPUT folder (or manifest's folder) holds;
    // a preview server its FOLDER.
    match &cli.command {
        Command::Batch(args) => allowed.push(input_folder(&args.input)),
        Command::Serve { folder, .. } => allowed.push(folder.clone()),
        _ => {}
    }
    let plan = EnvPlan {
        home: cli.home.clone().unwrap_or_else(Env::default_data_dir),
        limits: coverforge::limits::Limits {
            deadline_s: cli.deadline,
            max_variants: cli.max_variants as usize,
            ..Default::default()
        },
        allowed,
        templates: match &cli.command {
            Command::Serve { folder, .. } => Some(folder.join("templates")).filter(|d| d.is_dir()),
            _ => None,
        },
    };
    let env = plan.build();
    let opts = RenderOptions {
        hwaccel: cli.hwaccel,
        jpeg_encoder: cli.jpeg_encoder,
        compositor: cli.compositor,
        hw_sessions: coverforge::animated::HwSessions::new(cli.max_hw_sessions as usize),
    };
    match run(cli.command, &opts, &env, &plan) {
        Ok(code) => code,
        Err(f) => {
            eprintln!("error: {}", f.message.replace('\n', " "));
            ExitCode::from(f.kind.exit_code())
        }
    }
}

/// Help and version go out as clap writes them; a usage error is one line (clap's first, with
/// its styling dropped) and a pointer to `--help`, exit code 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind as Clap;
    if matches!(
        e.kind(),
        Clap::DisplayHelp | Clap::DisplayVersion | Clap::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return ExitCode::from(if e.use_stderr() { ErrorKind::Usage.exit_code() } else { 0 });
    }
    // clap's message runs until its usage block: "error: what\n  <ARG>\n\nUsage: ...".
    let text = e.render().to_string();
    let message: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    eprintln!("error: {message} (see `coverforge --help`)");
    ExitCode::from(ErrorKind::Usage.exit_code())
}

/// What a job environment is made from: built once per process, and once per pass by
/// `batch --watch` (each pass reads templates, fonts and images afresh).
struct EnvPlan {
    home: PathBuf,
    limits: coverforge::limits::Limits,
    /// Folders inputs may read from beyond the defaults.
    allowed: Vec<PathBuf>,
    /// Templates by name from here instead of the data folder (a preview folder's own).
    templates: Option<PathBuf>,
}

impl EnvPlan {
    fn build(&self) -> Env {
        let mut env = Env::new(&self.home, self.limits.clone());
        for dir in &self.allowed {
            env.roots.allow(dir);
        }
        if let Some(dir) = &self.templates {
            env.use_templates_dir(dir);
        }
        env
    }
}

/// The folder a batch INPUT names: itself, or a manifest's folder.
fn input_folder(input: &Path) -> PathBuf {
    let folder = if input.is_dir() { Some(input) } else { input.parent() };
    folder.filter(|f| !f.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf()
}

fn run(command: Command, opts: &RenderOptions, env: &Env, plan: &EnvPlan) -> Outcome {
    match command {
        Command::Render { video, meta, template, output, quality, json, animated } => {
            let is_mp4 = output.extension().is_some_and(|e| e.eq_ignore_ascii_case("mp4"));
            let kind = if animated.animated.is_some() || is_mp4 {
                OutputKind::Animated(animated.settings())
            } else {
                OutputKind::Still { quality }
            };
            let job = Job {
                video,
                meta: MetaSource::File(meta),
                defaults: None,
                template,
                output,
                kind,
                variant: None,
            };
            // A/B variants: one cover each, `OUT.<id>.ext`.
            let ids = pipeline::variant_ids(&job, env)?;
            if ids.is_empty() {
                print::render(&pipeline::run(&job, opts, env)?, json);
                return Ok(ExitCode::SUCCESS);
            }
            let mut results = Vec::new();
            for id in ids {
                let output = pipeline::variant_output(&job.output, &id);
                results.push(pipeline::run(&Job { output, variant: Some(id), ..job.clone() }, opts, env)?);
            }
            print::render_all(&results, json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Batch(args) => batch(args, opts, env, plan),
        Command::Check { metas, template, json } => {
            let reports: Vec<_> = metas
                .iter()
                .flat_map(|m| coverforge::check::check(m, template.as_deref(), opts, env))
                .collect();
            print::check(&reports, json);
            Ok(if reports.iter().any(|r| !r.errors.is_empty()) {
                ExitCode::from(ErrorKind::Template.exit_code())
            } else {
                ExitCode::from(u8::from(reports.iter().any(|r| !r.findings.is_empty())))
            })
        }
        Command::Devices { json, check_decode } => {
            let report = coverforge::devices::devices(&opts.hw_sessions);
            let mut comparisons = Vec::new();
            for d in report.decode.iter().filter(|d| d.available) {
                for v in &check_decode {
                    comparisons.push(coverforge::devices::compare_decoders(v, d.device, &env.limits)?);
                }
            }
            print::devices(&report, &comparisons, !check_decode.is_empty(), json);
            let below = comparisons.iter().any(|c| c.min_psnr_db < coverforge::devices::MIN_PSNR_DB);
            Ok(ExitCode::from(u8::from(below)))
        }
        Command::Probe { video, json } => {
            let info = coverforge::probe::probe(&video, &env.limits).map_err(Error::from)?;
            print::probe(&info, json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Layout { meta, template, dump, raw } => {
            if raw {
                let m = coverforge::metadata::load(&meta, &env.limits).map_err(Error::from)?;
                let source = coverforge::template::find_for(
                    &m,
                    template.as_deref(),
                    env.templates_dir(),
                    &env.limits,
                    &env.roots,
                )
                .map_err(Error::from)?;
                let text = coverforge::template::render(&source, &m, &env.limits).map_err(Error::from)?;
                print!("{text}");
                return Ok(ExitCode::SUCCESS);
            }
            for (m, doc) in pipeline::layouts_for(&meta, template.as_deref(), env)? {
                print::layout(&meta, m.variant.as_deref(), &doc, dump);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { folder, port, bind, token, cache_dir } => {
            serve(folder, port, bind, token, cache_dir, opts, plan)
        }
        Command::Enqueue { input, output, queue, template, wait, report, proof } => {
            enqueue(&input, &output, &queue.redis, &queue.stream, template, wait, (report, proof), env)
        }
        Command::Worker { queue, group, name, jobs, root, visibility, max_deliveries, no_cache } => {
            let options = coverforge::queue::worker::WorkerOptions {
                keys: coverforge::queue::Keys::new(&queue.stream),
                url: queue.redis,
                group,
                name: name.unwrap_or_else(|| format!("worker-{}", std::process::id())),
                threads: jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
                root,
                visibility: std::time::Duration::from_secs(visibility.max(1)),
                max_deliveries: max_deliveries.max(1),
                render: opts.clone(),
                cache: !no_cache,
            };
            coverforge::queue::worker::run(&options, &|| plan.build()).map_err(queue_failure)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Analyze { inputs, json, csv } => {
            let mut all = Vec::new();
            for input in &inputs {
                all.extend(analyze_input(input, opts, env)?);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&all).expect("measures serialise"));
            } else if csv {
                println!("{}", coverforge::analyze::CSV_HEADER);
                for m in &all {
                    println!("{}", coverforge::analyze::to_csv_row(m));
                }
            } else {
                for m in &all {
                    print::measures(m);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Ab { results, json, report, covers } => ab(&results, json, report.as_deref(), &covers, env),
        Command::Ctr { action } => ctr(action, opts, env),
        Command::Queue { action } => match action {
            QueueAction::Status { queue: QueueArgs { redis, stream }, group, json } => {
                let mut con = coverforge::queue::connect(&redis).map_err(queue_failure)?;
                let status =
                    coverforge::queue::status(&mut con, &coverforge::queue::Keys::new(&stream), &group)
                        .map_err(queue_failure)?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&status).expect("status serialises"));
                } else {
                    println!(
                        "{stream}: {} jobs, {} pending, lag {}, {} dead, {} results",
                        status.length,
                        status.pending,
                        status.lag.map_or("?".into(), |l| l.to_string()),
                        status.dead,
                        status.results
                    );
                    for (w, n) in &status.pending_by_worker {
                        println!("  {w}: {n} pending");
                    }
                    for (w, rate) in &status.rate_by_worker {
                        println!("  {w}: {rate:.2} covers/s over the last minute");
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            QueueAction::Control { command, queue: QueueArgs { redis, stream } } => {
                let mut con = coverforge::queue::connect(&redis).map_err(queue_failure)?;
                coverforge::queue::control(&mut con, &coverforge::queue::Keys::new(&stream), command)
                    .map_err(queue_failure)?;
                println!("{command:?} sent to the workers of {stream}");
                Ok(ExitCode::SUCCESS)
            }
            QueueAction::RetryDead { queue: QueueArgs { redis, stream } } => {
                let mut con = coverforge::queue::connect(&redis).map_err(queue_failure)?;
                let n = coverforge::queue::retry_dead(&mut con, &coverforge::queue::Keys::new(&stream))
                    .map_err(queue_failure)?;
                println!("{n} dead letters put back on {stream}");
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "coverforge", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()).map_err(|e| Failure {
                kind: ErrorKind::Io,
                message: format!("cannot write the manual: {e}"),
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The measures of one `analyze` input: an image, a batch report, or a metadata file rendered
/// here (into a temporary folder) from the video beside it.
fn analyze_input(
    input: &Path,
    opts: &RenderOptions,
    env: &Env,
) -> Result<Vec<coverforge::analyze::Measures>, Failure> {
    use coverforge::analyze::{measure, LayoutFacts};
    let fail = |message: String| Failure { kind: ErrorKind::InputMedia, message };
    let ext = input.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "jsonl" => Ok(coverforge::analyze::measure_report(input, env)
            .map_err(|e| Failure { kind: ErrorKind::InputMedia, message: e })?
            .into_iter()
            .map(|c| c.measures)
            .collect()),
        "yaml" | "yml" => {
            let video = coverforge::check::video_beside(input).ok_or_else(|| {
                fail(format!("{}: no video beside it to render the cover from", input.display()))
            })?;
            let dir =
                tempfile::tempdir().map_err(|e| Failure { kind: ErrorKind::Io, message: e.to_string() })?;
            let job = Job {
                video,
                meta: MetaSource::File(input.to_owned()),
                defaults: None,
                template: None,
                output: dir.path().join("cover.png"),
                kind: OutputKind::Still { quality: 90 },
                variant: None,
            };
            let ids = pipeline::variant_ids(&job, env)?;
            let variants: Vec<Option<String>> =
                if ids.is_empty() { vec![None] } else { ids.into_iter().map(Some).collect() };
            let mut out = Vec::new();
            for variant in variants {
                let job = Job {
                    output: dir.path().join(format!("{}.png", variant.as_deref().unwrap_or("cover"))),
                    variant,
                    ..job.clone()
                };
                let prepared = pipeline::prepare(&job, env)?;
                // As `check` runs it: every text layer's contrast measured on the frame.
                let (canvas, report) = pipeline::inspect(&job.video, &prepared, opts, env)?;
                let png = canvas.encode_png().map_err(|e| fail(e.message))?;
                coverforge::files::write_atomic(&job.output, &png, coverforge::files::Durability::Unsynced)
                    .map_err(|e| Failure { kind: ErrorKind::Io, message: e.to_string() })?;
                let doc = prepared.doc;
                let title_contrast = report.contrast.first().map(|c| c.contrast);
                let mut m = measure(&job.output, Some(LayoutFacts { doc: &doc, title_contrast }), env)
                    .map_err(fail)?;
                m.file = match &job.variant {
                    Some(v) => PathBuf::from(format!("{}#{v}", input.display())),
                    None => input.to_owned(),
                };
                out.push(m);
            }
            Ok(out)
        }
        _ => Ok(vec![measure(input, None, env).map_err(fail)?]),
    }
}

/// `coverforge ab`: the verdicts; with `--covers`, the effects of the cover measures across
/// videos; with `--report`, the HTML page.
fn ab(
    results: &Path,
    json: bool,
    report: Option<&Path>,
    covers: &[PathBuf],
    env: &Env,
) -> Result<ExitCode, Failure> {
    use coverforge::ab::{self, effects, report as page};
    let videos = ab::analyse_file(results).map_err(|e| Failure {
        kind: match e {
            ab::AbError::Read(ref r) if r.is_limit() => ErrorKind::Limit,
            ab::AbError::Read(_) => ErrorKind::Io,
            ab::AbError::Invalid(_) => ErrorKind::Usage,
        },
        message: e.to_string(),
    })?;
    let mut extras = page::Extras::default();
    let mut observed = Vec::new();
    for file in covers {
        let listed = coverforge::analyze::measure_report(file, env).map_err(|e| Failure {
            kind: ErrorKind::InputMedia,
            message: format!("{}: {e}", file.display()),
        })?;
        for cover in listed {
            // The results name a video by its path, file name or stem (as its links' campaign).
            let names = [
                cover.video.display().to_string(),
                cover.video.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                cover.video.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            ];
            let Some(v) = videos.iter().find(|v| names.contains(&v.video)) else { continue };
            let variant = cover.variant.clone().unwrap_or_default();
            let Some(r) = v.variants.iter().find(|r| r.variant == variant) else { continue };
            if report.is_some() {
                if let Some(uri) = page::thumbnail(&cover.output) {
                    extras.covers.insert((v.video.clone(), variant.clone()), uri);
                }
            }
            observed.push(effects::Observed {
                video: v.video.clone(),
                variant,
                impressions: r.impressions,
                clicks: r.clicks,
                features: coverforge::analyze::features(&cover.measures),
            });
        }
    }
    if !covers.is_empty() && observed.is_empty() {
        eprintln!(
            "warning: no cover in the --covers reports matches a video and variant of {}",
            results.display()
        );
    }
    extras.effects = if observed.is_empty() { Vec::new() } else { effects::effects(&observed) };
    print::ab(&videos, &extras.effects, json);
    if let Some(path) = report {
        let html = page::html(results, &videos, &extras).map_err(|e| Failure {
            kind: ErrorKind::Io,
            message: format!("{}: cannot draw the plots: {e}", path.display()),
        })?;
        coverforge::files::write_atomic(path, html.as_bytes(), coverforge::files::Durability::Synced)
            .map_err(|e| Failure { kind: ErrorKind::Io, message: format!("{}: {e}", path.display()) })?;
        if !json {
            println!("report: {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn ctr_failure(e: coverforge::ctr::CtrError) -> Failure {
    use coverforge::ctr::CtrError;
    let kind = match &e {
        CtrError::Read(r) if r.is_limit() => ErrorKind::Limit,
        CtrError::Read(_) => ErrorKind::Io,
        CtrError::Invalid(_) | CtrError::TooLittle(_) => ErrorKind::Usage,
        CtrError::Learner(_) => ErrorKind::Unsupported,
    };
    Failure { kind, message: e.to_string() }
}

/// `coverforge ctr fit|rank`.
fn ctr(action: CtrAction, opts: &RenderOptions, env: &Env) -> Result<ExitCode, Failure> {
    use coverforge::ctr::{self as model, Model};
    match action {
        CtrAction::Fit { history, model: out, json } => {
            let mut measure = |p: &Path| coverforge::analyze::measure(p, None, env);
            let h = model::read_history(&history, &mut measure).map_err(ctr_failure)?;
            for w in h.warnings.iter().take(5) {
                eprintln!("warning: {w}");
            }
            if h.warnings.len() > 5 {
                eprintln!("warning: … and {} more values like these", h.warnings.len() - 5);
            }
            let (report, fitted) = model::fit(&h).map_err(ctr_failure)?;
            if let Some(m) = &fitted {
                m.save(&out).map_err(|e| Failure {
                    kind: ErrorKind::Io,
                    message: format!("{}: cannot write the model: {e}", out.display()),
                })?;
            }
            print::ctr_fit(&report, fitted.is_some().then_some(out.as_path()), json);
            Ok(ExitCode::SUCCESS)
        }
        CtrAction::Rank { inputs, model: path, json } => {
            let m = Model::load(&path).map_err(ctr_failure)?;
            let mut covers = Vec::new();
            for input in &inputs {
                if input.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
                    covers.extend(model::read_measures_csv(input).map_err(ctr_failure)?);
                } else {
                    for ms in analyze_input(input, opts, env)? {
                        covers.push((ms.file.display().to_string(), coverforge::analyze::features(&ms)));
                    }
                }
            }
            let ranked = m.rank(&covers).map_err(ctr_failure)?;
            print::ctr_rank(&ranked, &m.fit, json);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn queue_failure(e: coverforge::queue::QueueError) -> Failure {
    match e {
        coverforge::queue::QueueError::Input(b) => Failure { kind: b.kind(), message: b.to_string() },
        other => Failure { kind: ErrorKind::Io, message: other.to_string() },
    }
}

/// `coverforge enqueue`: the jobs on the stream; with `--wait`, their results as batch reports
/// them (exit 0 all done, 1 some dead).
#[allow(clippy::too_many_arguments)]
fn enqueue(
    input: &Path,
    output: &Path,
    url: &str,
    stream: &str,
    template: Option<String>,
    wait: bool,
    (report, proof): (Option<PathBuf>, Option<PathBuf>),
    env: &Env,
) -> Outcome {
    let keys = coverforge::queue::Keys::new(stream);
    let mut con = coverforge::queue::connect(url).map_err(queue_failure)?;
    let kind = OutputKind::Still { quality: 90 };
    let done = coverforge::queue::enqueue(input, output, &kind, template, &mut con, &keys, env)
        .map_err(queue_failure)?;
    println!("enqueued {} jobs on {stream} ({})", done.jobs, done.enqueue);
    if !wait || done.jobs == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    let started = std::time::Instant::now();
    let results = coverforge::queue::wait(url, &mut con, &keys, &done).map_err(queue_failure)?;
    let wall_s = started.elapsed().as_secs_f64();
    if let Some(path) = report {
        let lines: String =
            results.iter().map(|r| serde_json::to_string(r).expect("results serialise") + "\n").collect();
        coverforge::files::write_atomic(&path, lines.as_bytes(), coverforge::files::Durability::Synced)
            .map_err(|e| Failure { kind: ErrorKind::Io, message: e.to_string() })?;
    }
    if let Some(path) = proof {
        let covers: Vec<coverforge::batch::ProofCover> = results
            .iter()
            .map(|r| coverforge::batch::ProofCover {
                group: r.input.display().to_string(),
                variant: r.variant.clone(),
                output: r.output.clone(),
                ok: r.status != "dead",
                error: r.error.as_ref().map(|e| e.message.clone()),
            })
            .collect();
        coverforge::batch::write_proof_sheet(&path, output, &covers).map_err(|e| Failure {
            kind: ErrorKind::Io,
            message: format!("{}: cannot write: {e}", path.display()),
        })?;
    }
    let dead = results.iter().filter(|r| r.status == "dead").count();
    for r in results.iter().filter(|r| r.status == "dead") {
        if let Some(e) = &r.error {
            eprintln!("failed  {}", e.message);
        }
    }
    let ok = results.iter().filter(|r| r.status == "ok").count();
    let summary = coverforge::batch::Summary {
        total: results.len(),
        ok,
        skipped: results.iter().filter(|r| r.status == "skipped").count(),
        failed: dead,
        wall_s,
        covers_per_s: ok as f64 / wall_s.max(1e-9),
        ..Default::default()
    };
    print::batch_summary(&summary);
    Ok(ExitCode::from(u8::from(dead > 0)))
}

/// `coverforge serve`: runs until killed; exits only when it cannot start.
fn serve(
    folder: PathBuf,
    port: Option<u16>,
    bind: std::net::IpAddr,
    token: Option<String>,
    cache_dir: Option<PathBuf>,
    opts: &RenderOptions,
    plan: &EnvPlan,
) -> Outcome {
    let env = plan.build();
    let mut watch = vec![folder.clone(), env.templates_dir().to_owned(), env.fonts.dir().to_owned()];
    watch.push(env.assets_dir().to_owned());
    watch.push(folder.join("templates"));
    watch.extend(plan.allowed.iter().cloned());
    let options = coverforge::serve::ServeOptions {
        cache_dir: cache_dir.unwrap_or_else(|| coverforge::serve::default_cache_dir(&folder)),
        folder,
        bind,
        port,
        token,
        render: opts.clone(),
    };
    let plan = EnvPlan {
        home: plan.home.clone(),
        limits: plan.limits.clone(),
        allowed: plan.allowed.clone(),
        templates: plan.templates.clone(),
    };
    let make_env: std::sync::Arc<dyn Fn() -> Env + Send + Sync> = std::sync::Arc::new(move || plan.build());
    coverforge::serve::serve(options, make_env, watch, &|url| {
        println!("coverforge serve: {url}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
    })
    .map_err(|e| match e {
        coverforge::serve::ServeError::Usage(message) => Failure { kind: ErrorKind::Usage, message },
        coverforge::serve::ServeError::Io(message) => Failure { kind: ErrorKind::Io, message },
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `coverforge batch`: 0 when every cover is ok or unchanged, 1 when some failed; a batch that
/// cannot start exits by its cause (2 usage, 4 manifest, 6 unsupported, 7 I/O).
fn batch(args: BatchArgs, opts: &RenderOptions, env: &Env, plan: &EnvPlan) -> Outcome {
    let usage = |message: String| Failure { kind: ErrorKind::Usage, message };
    let cache = if args.no_cache {
        None
    } else {
        let dir = args.cache_dir.clone().unwrap_or_else(FrameCache::default_dir);
        let cache = FrameCache::new(&dir, args.cache_size.saturating_mul(1 << 20)).map_err(|e| Failure {
            kind: ErrorKind::Io,
            message: format!("{}: cannot use keyframe cache: {e}", dir.display()),
        })?;
        Some(cache)
    };
    // A long run keeps decoded frames in memory too, so re-renders decode nothing.
    let memory = args.frame_memory.saturating_mul(1 << 20);
    let cache = match (args.watch, cache) {
        (true, Some(c)) => Some(c.with_memory(memory)),
        (true, None) => Some(FrameCache::memory_only(memory)),
        (false, c) => c,
    };
    let format = match args.format {
        BatchFormat::Png => coverforge::encode::Format::Png,
        BatchFormat::Webp => coverforge::encode::Format::Webp,
        BatchFormat::Jpg | BatchFormat::Mp4 => coverforge::encode::Format::Jpeg,
    };
    let animated = (args.animated.animated.is_some() || args.format == BatchFormat::Mp4)
        .then(|| args.animated.settings());
    let animated_webp = animated.is_some() && args.format == BatchFormat::Webp;
    if let Some(Err(problems)) = animated.as_ref().map(|a| a.validate(animated_webp)) {
        return Err(usage(format!("animated cover settings: {}", problems.join("; "))));
    }
    let threads = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 {
        return Err(usage("-j must be at least 1".into()));
    }
    let env_plan = plan;
    let batch_plan = coverforge::batch::Options {
        allow_outside_output: args.allow_outside_output,
        outdir: args.output,
        threads,
        force: args.force,
        dry_run: args.dry_run,
        report: args.report,
        proof: args.proof,
        format,
        quality: args.quality,
        template: args.template,
        animated_webp,
        animated,
        cache,
        verbosity: if args.quiet {
            coverforge::batch::Verbosity::Quiet
        } else if args.verbose {
            coverforge::batch::Verbosity::Verbose
        } else {
            coverforge::batch::Verbosity::Normal
        },
        render: opts.clone(),
        measures: args.measures,
    };
    if args.watch {
        let mut folders = vec![input_folder(&args.input), env.templates_dir().to_owned()];
        folders.push(env.fonts.dir().to_owned());
        folders.push(env.assets_dir().to_owned());
        folders.extend(env_plan.allowed.iter().cloned());
        let quiet = args.quiet;
        coverforge::batch::watch::watch(
            &args.input,
            &batch_plan,
            &folders,
            &|| env_plan.build(),
            &mut |pass| {
                print::watch_pass(pass, quiet);
                true
            },
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let summary = coverforge::batch::run(&args.input, &batch_plan, env)?;
    if !args.quiet {
        print::batch_summary(&summary);
    }
    Ok(ExitCode::from(u8::from(summary.failed > 0)))
}
