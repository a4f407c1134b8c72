//! The `bleepstore` binary: flags and config file → a recovered store serving S3.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use bleepstore::config::{Config, LogFormat};
use bleepstore::root::RootSource;
use bleepstore::server;
use clap::Parser;

/// An S3-compatible object store. With no arguments: SQLite + blobs under ./data, S3 on
/// 127.0.0.1:9000.
#[derive(Parser, Debug)]
#[command(name = "bleepstore", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// YAML config file; flags override its values.
    #[arg(long, short, env = "BLEEPSTORE_CONFIG")]
    config: Option<PathBuf>,
    /// Address of the S3 listener.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Directory for metadata and object bytes.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Region the store answers as.
    #[arg(long)]
    region: Option<String>,
    /// Base domain for virtual-hosted-style requests (repeatable).
    #[arg(long = "virtual-host-domain")]
    virtual_host_domains: Vec<String>,
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `bleepstore=debug`.
    #[arg(long)]
    log_level: Option<String>,
    /// Address of the management port (probes, metrics, admin API).
    #[arg(long)]
    management_listen: Option<SocketAddr>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// GET each URL (plain HTTP) and exit 0 only if every answer is 2xx: a readiness check for
    /// images without a shell, such as the chart's `helm test` pod.
    Probe {
        /// Also put, get back and delete an object in `BUCKET_NAME` at `AWS_ENDPOINT_URL`, with
        /// the `AWS_*` credentials (an AccessKey's Secret through `envFrom`).
        #[arg(long)]
        s3: bool,
        /// e.g. http://demo-0.demo-headless.team-a.svc:9001/readyz
        #[arg(required_unless_present = "s3")]
        urls: Vec<String>,
    },
}

fn load(cli: Cli) -> Result<Config, String> {
    let mut config = match &cli.config {
        Some(path) => Config::from_file(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if let Some(v) = cli.listen {
        config.listen = v;
    }
    if let Some(v) = cli.data_dir {
        config.data_dir = v;
    }
    if let Some(v) = cli.region {
        config.region = v;
    }
    if !cli.virtual_host_domains.is_empty() {
        config.virtual_host_domains = cli.virtual_host_domains;
    }
    if let Some(v) = cli.log_format {
        config.log.format = v;
    }
    if let Some(v) = cli.log_level {
        config.log.level = v;
    }
    if let Some(v) = cli.management_listen {
        config.management.listen = v;
    }
    if let Ok(token) = std::env::var("BLEEPSTORE_ADMIN_TOKEN") {
        if !token.is_empty() {
            config.management.admin_token = Some(token);
        }
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level).unwrap_or_else(|_| "info".into());
    // Colour only on a terminal: a container's log (a file, `kubectl logs`) gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutdown requested: no new connections, draining in-flight requests");
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Probe { s3, urls }) = &cli.command {
        let checked = async {
            bleepstore::probe::all(urls).await?;
            if *s3 {
                bleepstore::probe::s3_round_trip(&bleepstore::probe::S3Target::from_env()?).await?;
            }
            Ok::<(), String>(())
        };
        return match checked.await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bleepstore probe: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match load(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bleepstore: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    let listen = config.listen;
    let mgmt_listen = config.management.listen;
    let opened = match server::open(config).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bleepstore: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The management port answers from here on; /readyz says 503 until recovery is done.
    let mgmt = match server::bind(mgmt_listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bleepstore: cannot listen on {mgmt_listen} (management): {e}");
            return ExitCode::FAILURE;
        }
    };
    let mgmt_addr = mgmt.local_addr().unwrap_or(mgmt_listen);
    let (mgmt_stop, mgmt_stopped) = tokio::sync::oneshot::channel::<()>();
    let mgmt_task = tokio::spawn(server::serve_management(mgmt, opened.state.clone(), async {
        let _ = mgmt_stopped.await;
    }));
    // Bind S3 before recovery: readiness is only ever reported with the port listening.
    let listener = match server::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bleepstore: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let prepared = match server::recover(opened).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("bleepstore: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().unwrap_or(listen);
    let state = prepared.state.clone();
    let scheme = if prepared.tls.is_some() { "https" } else { "http" };
    println!("BleepStore is serving S3 at {scheme}://{addr}");
    println!("  region:      {}", state.config.region);
    println!("  data dir:    {}", state.config.data_dir.display());
    println!("  management:  http://{mgmt_addr} (/readyz, /metrics, /docs, /admin/v1)");
    println!("  access key:  {}", prepared.root.access_key);
    match &prepared.root.source {
        RootSource::Config => println!("  secret key:  from the config file (root_credentials)"),
        RootSource::Env => println!("  secret key:  from the environment (BLEEPSTORE_ROOT_SECRET_KEY)"),
        RootSource::GeneratedNow(path) => {
            println!("  secret key:  {}", prepared.root.secret_key);
            println!(
                "               generated on this first start and kept in {}; it is not printed again",
                path.display()
            );
        }
        RootSource::GeneratedEarlier(path) => {
            println!("  secret key:  generated on first start; read it from {}", path.display())
        }
    }
    println!(
        "  try:         AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY=... aws --endpoint-url {scheme}://{addr} s3 ls",
        prepared.root.access_key
    );
    tracing::info!(recovery = ?prepared.recovery, "start-up recovery finished");
    let draining = state.clone();
    let shutdown = async move {
        shutdown_signal().await;
        // Readiness fails at once; the listener stops; in-flight requests drain.
        draining.phase.store(bleepstore::state::Phase::Draining as u8, std::sync::atomic::Ordering::SeqCst);
    };
    let result = server::serve(listener, state, prepared.tls, shutdown).await;
    let _ = mgmt_stop.send(());
    let _ = mgmt_task.await;
    if let Err(e) = result {
        eprintln!("bleepstore: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
