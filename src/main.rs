//! kdrill: the console for Kafka DC–DR drills. See `kdrill --help`.

use kdrill::act::plan::Planner;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use color_eyre::eyre::{Result, WrapErr, eyre};

use kdrill::assess::{Assessment, Assessor};
use kdrill::collect::WorldLink;
use kdrill::config::{self, Config, Settings};
use kdrill::drill::journal::{self, Journal, Who};
use kdrill::model::{Observed, Snapshot};
use kdrill::ui::{App, Msg, Theme, UiOptions};

/// A terminal console for Kafka active/passive DC–DR pairs replicated by
/// MirrorMaker 2: shows which side is active, who is connected where, MM2's
/// health and per-partition replication lag, and guides switchover (DC→DR)
/// and failback (DR→DC) drills step by step, opening each step only when its
/// preconditions are observed.
#[derive(Parser, Debug)]
#[command(name = "kdrill", version, about, long_about = None, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Configuration file [default: ~/.config/kdrill/kdrill.toml]
    #[arg(short, long, global = true, env = "KDRILL_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,

    /// Observe only: every action is refused (for wall screens and observers)
    #[arg(long, global = true)]
    read_only: bool,

    /// Wall-screen layout: large role banner, MM2 health and lag
    #[arg(long, global = true)]
    wall: bool,

    /// Colour theme: dark, light or high-contrast
    #[arg(long, global = true, default_value = "dark", value_name = "NAME")]
    theme: String,

    /// A theme file overlaid on the chosen theme (only the keys it sets)
    #[arg(long, global = true, value_name = "PATH")]
    theme_file: Option<PathBuf>,

    /// Drill journal (one JSON record per line; a drill resumes from it)
    #[arg(long, global = true, value_name = "PATH")]
    journal: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the console on the embedded demo world (no cluster needed)
    Demo {
        /// Seed of the simulated world
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Run the console against the clusters of the configuration (the default)
    Watch,
    /// Observe once, print a summary (or JSON), exit 0 all is well, 1 a person
    /// is needed (a rule broken, lag above threshold or unknown, an MM2 task
    /// FAILED, sources that disagree), 2 a cluster could not be observed
    Check {
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
        /// Keep observing and print a report every poll
        #[arg(long)]
        watch: bool,
        /// Observe the embedded demo world instead of the configured clusters
        #[arg(long)]
        demo: bool,
        /// How long to observe before judging (rates and lag need history)
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        settle: Duration,
    },
    /// Serve the assessment over HTTP, read-only: Prometheus `/metrics`, the
    /// `check --json` report at `/api/v1/assessment`, `/healthz`, `/readyz`
    /// and a live wall page at `/`
    Serve(ServeArgs),
    /// Print the report of a drill from its journal: timeline, evidence,
    /// RTO, RPO, alarms, confirmations and actions
    Report {
        /// The journal [default: the latest drill's: --journal, else the
        /// newest of journal.jsonl and demo-journal.jsonl in the state directory]
        #[arg(value_name = "JOURNAL")]
        path: Option<PathBuf>,
        /// Markdown (for a ticket) or JSON (for tools)
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
    },
}

#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Serve options")]
struct ServeArgs {
    /// Address to listen on (loopback by default; give 0.0.0.0:9464 to expose)
    #[arg(long, default_value = "127.0.0.1:9464", value_name = "ADDR")]
    listen: std::net::SocketAddr,
    /// Observe the embedded demo world instead of the configured clusters
    #[arg(long)]
    demo: bool,
    /// Toggle a demo fault AFTER the start, e.g. 30s:stall-mm2 (repeat it to
    /// schedule more; the same fault again switches it off). Faults:
    /// fail-mm2-task, stray-consumer, bidirectional, broker-down, cut-off-dc,
    /// produce-burst, pods-unlisted, stall-mm2
    #[arg(long, requires = "demo", value_name = "AFTER:FAULT")]
    demo_fault: Vec<kdrill::demo::ScheduledFault>,
    /// Serve HTTPS with this PEM certificate chain (server certificate first)
    #[arg(long, requires = "tls_key", value_name = "PATH")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, requires = "tls_cert", value_name = "PATH")]
    tls_key: Option<PathBuf>,
    /// Passphrase of an encrypted --tls-key: env:VAR or file:PATH
    #[arg(long, requires = "tls_key", value_name = "SOURCE")]
    tls_key_passphrase: Option<String>,
    /// Require basic authentication as this user (all but /healthz)
    #[arg(long, requires = "basic_auth_password", value_name = "NAME")]
    basic_auth_user: Option<String>,
    /// The password of --basic-auth-user: env:VAR or file:PATH
    #[arg(long, requires = "basic_auth_user", value_name = "SOURCE")]
    basic_auth_password: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ReportFormat {
    Md,
    Json,
}

const EXAMPLES: &str = "Examples:
  kdrill demo                              rehearse a drill on the demo world
  kdrill --config examples/lab.toml        the console against the local lab
  kdrill --read-only --wall                the operations-room wall screen
  kdrill check --json                      one headless judgement, for cron and CI
  kdrill serve                             /metrics, JSON and a wall page on 127.0.0.1:9464
  kdrill report > drill.md                 the last drill's report, for the ticket";

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = color_eyre::install() {
        eprintln!("kdrill: {e}");
    }
    if let Err(e) = init_logging() {
        eprintln!("kdrill: logging disabled: {e}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kdrill: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kdrill: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Diagnostics go to a file, never to the terminal the console draws on:
/// `KDRILL_LOG=debug` (any tracing filter) writes `kdrill.log` in the state
/// directory (`~/.local/state/kdrill`). Off by default.
fn init_logging() -> Result<()> {
    let Ok(filter) = std::env::var("KDRILL_LOG") else { return Ok(()) };
    let dir = config::state_dir().ok_or_else(|| eyre!("no home directory for the log file"))?;
    std::fs::create_dir_all(&dir).wrap_err_with(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("kdrill.log");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .wrap_err_with(|| format!("cannot open {}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).wrap_err("KDRILL_LOG is not a valid filter")?;
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::sync::Mutex::new(file)).with_ansi(false).init();
    Ok(())
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Some(Command::Demo { seed }) => {
            let start = chrono::Utc::now();
            let world = kdrill::demo::DemoWorld::new(*seed, start);
            // A read-only console writes nothing: no canary.
            let world = if cli.read_only { world } else { world.with_canary(*seed) };
            let link = kdrill::demo::spawn(world);
            let journal = cli.journal.clone().or_else(|| config::state_dir().map(|d| d.join(DEMO_JOURNAL)));
            let settings = kdrill::demo::demo_settings();
            let fingerprint = config::settings_fingerprint(&settings, &format!("demo world, seed {seed}"));
            let share = kdrill::share::local_only(journal.as_deref(), driver(&cli), config::LEASE_TIMEOUT);
            console(&cli, link, settings, fingerprint, journal, kdrill::demo::planner(), share).await
        }
        None | Some(Command::Watch) => {
            let cfg = load_config(&cli)?;
            let journal =
                cli.journal.clone().or(cfg.journal.clone()).or_else(|| config::state_dir().map(|d| d.join(JOURNAL)));
            let fingerprint = config::fingerprint(&cfg);
            // A read-only console writes nothing: no canary.
            let link = if cli.read_only {
                kdrill::collect::kafka::spawn(cfg.clone())
            } else {
                kdrill::collect::kafka::spawn_acting(cfg.clone())
            };
            let planner = Some(Planner::new(&cfg));
            let share = kdrill::share::spawn(&cfg, journal.as_deref(), driver(&cli));
            console(&cli, link, cfg.settings, fingerprint, journal, planner, share).await
        }
        Some(Command::Check { json, watch, demo, settle }) => check(&cli, *json, *watch, *demo, *settle).await,
        Some(Command::Serve(args)) => serve(&cli, args).await,
        Some(Command::Report { path, format }) => report(&cli, path.as_deref(), *format),
    }
}

/// This console as a drill driver; a read-only console never is one.
fn driver(cli: &Cli) -> Option<kdrill::share::Driver> {
    (!cli.read_only).then(|| kdrill::share::me(&Who::current(), chrono::Utc::now()))
}

/// Default journal names in the state directory.
const JOURNAL: &str = "journal.jsonl";
const DEMO_JOURNAL: &str = "demo-journal.jsonl";

/// Prints the report of the journal given, else of the latest drill.
fn report(cli: &Cli, path: Option<&std::path::Path>, format: ReportFormat) -> Result<ExitCode> {
    let path = match path.map(PathBuf::from).or_else(|| cli.journal.clone()) {
        Some(p) => p,
        None => latest_journal()?,
    };
    let recovered = journal::read(&path)?;
    let report = kdrill::report::build(&recovered).map_err(|why| eyre!("{}: {why}", path.display()))?;
    let text = match format {
        ReportFormat::Md => kdrill::report::to_markdown(&report),
        ReportFormat::Json => kdrill::report::to_json(&report),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// The most recently written of the default journals.
fn latest_journal() -> Result<PathBuf> {
    let dir = config::state_dir().ok_or_else(|| eyre!("no home directory: give the journal's path"))?;
    let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    [JOURNAL, DEMO_JOURNAL]
        .iter()
        .map(|name| dir.join(name))
        .filter_map(|p| modified(&p).map(|t| (t, p)))
        .max()
        .map(|(_, p)| p)
        .ok_or_else(|| eyre!("no drill journal in {}: give the journal's path", dir.display()))
}

fn load_config(cli: &Cli) -> Result<Config> {
    let path = cli
        .config
        .clone()
        .or_else(config::default_path)
        .ok_or_else(|| eyre!("no --config given and no home directory"))?;
    if !path.exists() {
        return Err(eyre!(
            "{}: no such configuration file (give --config PATH; examples/kdrill.toml documents every key)",
            path.display()
        ));
    }
    Ok(config::load(&path)?)
}

async fn console(
    cli: &Cli,
    link: WorldLink,
    settings: Settings,
    fingerprint: String,
    journal: Option<PathBuf>,
    planner: Option<Planner>,
    share: kdrill::share::ShareLink,
) -> Result<ExitCode> {
    let demo = planner.is_some() && matches!(cli.command, Some(Command::Demo { .. }));
    let theme = Theme::load(&cli.theme, cli.theme_file.as_deref(), Theme::no_color_from_env())?;
    let (journal, recovered) = match (&journal, cli.read_only) {
        // A read-only console never writes; it may still show a drill in progress.
        (Some(path), true) if path.exists() => (None, journal::read(path)?),
        (Some(path), false) => {
            let (j, r) = Journal::open(path, Who::current())?;
            (Some(j), r)
        }
        _ => (None, journal::Recovered::default()),
    };
    if let (Some(torn), Some(path)) = (recovered.torn, &journal.as_ref().map(|j| j.path().to_owned())) {
        tracing::warn!("journal {} line {} torn ({} bytes): resumed without it", path.display(), torn.line, torn.bytes);
    }
    // The one split of the link: a read-only console drops the dispatcher,
    // so it holds no action sender at all.
    let (observation, dispatcher) = link.split();
    let dispatcher = (!cli.read_only).then_some(dispatcher);
    // A read-only console plans nothing: it holds no way to send anything.
    let planner = planner.filter(|_| !cli.read_only);
    let opts =
        UiOptions { read_only: cli.read_only, wall: cli.wall, theme, demo, recovered: recovered.events(), planner };
    let mut app = App::new(settings, opts);
    // Setting up: these messages cause no effects.
    app.update(Msg::ConfigFingerprint(fingerprint));
    if let Some(torn) = recovered.torn {
        app.update(Msg::JournalTorn { line: torn.line });
    }
    kdrill::ui::run(observation, dispatcher, app, journal, share).await.wrap_err("the console stopped")?;
    Ok(ExitCode::SUCCESS)
}

/// The source of `check` and `serve`: the demo world or the configured
/// clusters, with their settings and poll interval.
/// The world `check` observes: the link, the settings, the poll interval,
/// and the configuration when it is the real world.
fn source(cli: &Cli, demo: bool) -> Result<(WorldLink, Settings, Duration, Option<Config>)> {
    if demo {
        let world = kdrill::demo::DemoWorld::new(7, chrono::Utc::now());
        Ok((kdrill::demo::spawn(world), kdrill::demo::demo_settings(), Duration::from_secs(1), None))
    } else {
        let cfg = load_config(cli)?;
        let poll = cfg.timing.poll_interval;
        Ok((kdrill::collect::kafka::spawn(cfg.clone()), cfg.settings.clone(), poll, Some(cfg)))
    }
}

/// `snap` with the time of the first unreplicated record read on each
/// source cluster wherever the assessment `a` could not age a lag from
/// history (a one-shot `check` has little).
async fn with_record_times(cfg: &Config, a: &Assessment, mut snap: Snapshot) -> Snapshot {
    for (side, wanted) in kdrill::check::unaged_lag(a) {
        let cluster = cfg.cluster(side).clone();
        let timing = cfg.timing.clone();
        let timeout = timing.request_timeout;
        let read = tokio::task::spawn_blocking(move || {
            kdrill::collect::kafka::record_times::read_record_times(&cluster, &timing, &wanted, timeout)
        })
        .await;
        match read {
            Ok(Ok(times)) => snap.cluster_mut(side).record_times = Some(Observed::new(times, chrono::Utc::now())),
            Ok(Err(e)) => tracing::warn!("{side}: {e}"),
            Err(e) => tracing::warn!("{side}: reading record times failed: {e}"),
        }
    }
    snap
}

/// A secret option's value (`env:VAR` or `file:PATH`) resolved, so the
/// secret itself never appears in a process listing or a shell history.
/// Parsed here rather than by clap, whose error would repeat a password
/// given inline.
fn serve_secret(option: &str, source: &str) -> Result<config::Secret> {
    let reference = match source.split_once(':') {
        Some(("env", var)) if !var.is_empty() => config::SecretRef::Env(var.to_owned()),
        Some(("file", path)) if !path.is_empty() => config::SecretRef::File(path.into()),
        _ => return Err(eyre!("{option}: give env:VAR or file:PATH (never the secret itself)")),
    };
    reference.resolve().map_err(|e| eyre!("{option}: {e}"))
}

/// TLS and basic authentication as the options ask, secrets resolved.
fn serve_guard(args: &ServeArgs) -> Result<kdrill::serve::Guard> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let passphrase = match &args.tls_key_passphrase {
                Some(source) => Some(serve_secret("--tls-key-passphrase", source)?),
                None => None,
            };
            let files = kdrill::serve::tls::TlsFiles { cert, key, passphrase: passphrase.as_ref().map(|p| p.expose()) };
            Some(kdrill::serve::tls::acceptor(&files).map_err(|e| eyre!("{e}"))?)
        }
        _ => None,
    };
    let auth = match (&args.basic_auth_user, &args.basic_auth_password) {
        (Some(user), Some(source)) => {
            let password = serve_secret("--basic-auth-password", source)?;
            Some(kdrill::serve::BasicAuth::new(user, password.expose()))
        }
        _ => None,
    };
    Ok(kdrill::serve::Guard { tls, auth })
}

async fn serve(cli: &Cli, args: &ServeArgs) -> Result<ExitCode> {
    let guard = serve_guard(args)?;
    let scheme = if guard.tls.is_some() { "https" } else { "http" };
    let (link, settings, share) = if args.demo {
        let world = kdrill::demo::DemoWorld::new(7, chrono::Utc::now());
        let link = kdrill::demo::spawn_scheduled(world, args.demo_fault.clone());
        (link, kdrill::demo::demo_settings(), None)
    } else {
        let cfg = load_config(cli)?;
        // Follows the drill topic; no writing end exists here.
        let share = kdrill::share::spawn(&cfg, None, None);
        (kdrill::collect::kafka::spawn(cfg.clone()), cfg.settings, Some(share))
    };
    // Read-only by construction: the dispatcher is dropped here, so nothing
    // in this process can send an action.
    let (mut observation, dispatcher) = link.split();
    drop(dispatcher);
    let snapshots = &mut observation.snapshots;
    let outcomes = &mut observation.outcomes;
    let listen = args.listen;
    let listener =
        tokio::net::TcpListener::bind(listen).await.wrap_err_with(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr().wrap_err("no local address")?;
    // The bound address on stdout, for `--listen 127.0.0.1:0` and scripts.
    println!("listening on {scheme}://{bound}");
    let (latest_tx, latest) = tokio::sync::watch::channel(std::sync::Arc::new(kdrill::serve::Served::default()));
    let server = tokio::spawn(kdrill::serve::run(listener, latest, guard));
    let mut assessor = Assessor::new(settings);
    // Ages grow between snapshots: judge every second as well.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            changed = snapshots.changed() => {
                if changed.is_err() { break; }
            }
            _ = tick.tick() => {}
            // Only scheduled demo faults come back here: say when each happened.
            Some(outcome) = outcomes.recv() => {
                print_demo_outcome(&outcome);
                continue;
            }
        }
        let snap = snapshots.borrow_and_update().clone();
        let a = assessor.assess(&snap, chrono::Utc::now());
        let drill = share.as_ref().and_then(|s| kdrill::serve::drill::status(&s.view.borrow(), &a));
        latest_tx.send_replace(std::sync::Arc::new(kdrill::serve::Served::with_drill(&a, drill.as_ref())));
        if server.is_finished() {
            break;
        }
    }
    match server.await {
        Ok(Err(e)) => Err(eyre!("the server stopped: {e}")),
        Err(e) => Err(eyre!("the server stopped: {e}")),
        Ok(Ok(())) => Err(eyre!("the source stopped")),
    }
}

/// `demo fault NAME at TIME: what happened`, on stdout (ignored once
/// nobody reads it: a closed pipe must not stop the server).
fn print_demo_outcome(outcome: &kdrill::action::Outcome) {
    use std::io::Write as _;
    let kdrill::action::Action::Fault(fault) = outcome.action else { return };
    let at = outcome.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let what = match &outcome.result {
        Ok(done) => done.clone(),
        Err(why) => format!("refused: {why}"),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "demo fault {} at {at}: {what}", fault.as_str()).and_then(|()| out.flush());
}

async fn check(cli: &Cli, json: bool, watch: bool, demo: bool, settle: Duration) -> Result<ExitCode> {
    let (mut link, settings, poll, cfg) = source(cli, demo)?;
    let mut assessor = Assessor::new(settings);
    let deadline = tokio::time::Instant::now() + settle;
    // Feed every snapshot so history (rates, time lag) builds up while settling.
    loop {
        tokio::select! {
            changed = link.snapshots.changed() => {
                if changed.is_err() { break; }
                let snap = link.snapshots.borrow_and_update().clone();
                assessor.assess(&snap, snap.taken_at);
            }
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    loop {
        let snap = link.snapshots.borrow().clone();
        let now = chrono::Utc::now();
        let mut a = assessor.assess(&snap, now);
        if let (false, Some(cfg)) = (watch, &cfg) {
            // Judged as of before the reads: they add no age to the facts.
            let snap = with_record_times(cfg, &a, (*snap).clone()).await;
            a = assessor.assess(&snap, now);
        }
        let report = kdrill::check::report(&a);
        if json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            println!("{}", kdrill::check::human(&report, &a));
        }
        if !watch {
            return Ok(ExitCode::from(report.exit_code as u8));
        }
        tokio::time::sleep(poll).await;
    }
}
