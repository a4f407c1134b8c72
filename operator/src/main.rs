//! `bleepstore-operator`: reconciles BleepStore, Bucket and AccessKey resources. Configured by
//! flags and environment only (the kubeconfig comes from `KUBECONFIG` or the in-cluster
//! service account).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context as _;
use bleepstore_operator::admin::HttpAdmin;
use bleepstore_operator::context::{Context, Settings};
use bleepstore_operator::crd::BleepStore;
use bleepstore_operator::http::{router, HttpState};
use bleepstore_operator::metrics::Metrics;
use bleepstore_operator::run::{controllers, Scope};
use clap::Parser;
use kube::api::{Api, ListParams};
use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;

#[derive(Parser, Debug)]
#[command(name = "bleepstore-operator", version, about = "Reconciles BleepStore, Bucket and AccessKey resources")]
struct Args {
    /// Watch only these namespaces (comma-separated; default: every namespace).
    #[arg(long = "namespace", env = "BLEEPSTORE_OPERATOR_NAMESPACES", value_delimiter = ',')]
    namespaces: Vec<String>,
    /// The store image used when a BleepStore names none.
    #[arg(long, env = "BLEEPSTORE_OPERATOR_DEFAULT_IMAGE", default_value = concat!("ghcr.io/bleepstore/bleepstore:",
        env!("CARGO_PKG_VERSION")))]
    default_image: String,
    /// Address of `/metrics`, `/healthz` and `/readyz`.
    #[arg(long, env = "BLEEPSTORE_OPERATOR_LISTEN", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Elect a leader through a Lease so only one replica acts.
    #[arg(long, env = "BLEEPSTORE_OPERATOR_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Namespace of the leader-election Lease.
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// This replica's identity in the Lease.
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// `text` or `json`.
    #[arg(long, env = "BLEEPSTORE_OPERATOR_LOG_FORMAT", default_value = "json", value_parser = ["text", "json"])]
    log_format: String,
    /// A tracing filter, e.g. `info` or `bleepstore_operator=debug`.
    #[arg(long, env = "BLEEPSTORE_OPERATOR_LOG_LEVEL", default_value = "info")]
    log_level: String,
}

/// The Lease's name.
const LEASE: &str = "bleepstore-operator";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level).context("invalid --log-level")?;
    // Colour only on a terminal: a container's log (`kubectl logs`) gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let subscriber = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if args.log_format == "json" {
        subscriber.json().init();
    } else {
        subscriber.init();
    }

    let client = Client::try_default().await.context("no Kubernetes configuration (KUBECONFIG or in-cluster)")?;
    let metrics = Metrics::new();
    let ready = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(listen = %listener.local_addr()?, "serving /metrics, /healthz and /readyz");
    let http = router(HttpState { metrics: metrics.clone(), ready: ready.clone() });
    tokio::spawn(async move { axum::serve(listener, http).await });

    // Each namespace once: two controllers for one namespace would reconcile objects twice.
    let mut namespaces: Vec<String> =
        args.namespaces.iter().map(|ns| ns.trim().to_owned()).filter(|ns| !ns.is_empty()).collect();
    namespaces.sort();
    namespaces.dedup();
    let scopes: Vec<Scope> =
        if namespaces.is_empty() { vec![Scope::All] } else { namespaces.into_iter().map(Scope::Namespace).collect() };
    // Readiness: the API server answers and the BleepStore CRD is installed.
    let probe: Api<BleepStore> = match &scopes[0] {
        Scope::All => Api::all(client.clone()),
        Scope::Namespace(ns) => Api::namespaced(client.clone(), ns),
    };
    probe.list(&ListParams::default().limit(1)).await.context("cannot list BleepStores: are the CRDs installed?")?;
    ready.store(true, Ordering::Relaxed);

    let settings = Settings { default_image: args.default_image.clone() };
    let ctx = Arc::new(Context::new(client.clone(), Arc::new(HttpAdmin::new()), settings, metrics));

    if !args.leader_election {
        tracing::info!("leader election off: acting now");
        controllers(ctx, &scopes).await;
        return Ok(());
    }
    let identity = args.identity.clone().unwrap_or_else(|| format!("bleepstore-operator-{}", std::process::id()));
    let manager = LeaseManagerBuilder::new(client, LEASE)
        .with_namespace(&args.lease_namespace)
        .with_identity(&identity)
        .with_duration(15)
        .with_grace(5)
        .with_field_manager(bleepstore_operator::build::FIELD_MANAGER)
        .build()
        .await
        .context("cannot set up the leader-election Lease")?;
    let (mut leader, lease_task) = manager.watch().await;
    tracing::info!(%identity, lease = LEASE, namespace = %args.lease_namespace, "waiting to become the leader");
    while !*leader.borrow_and_update() {
        leader.changed().await.context("the leader-election task stopped")?;
    }
    tracing::info!(%identity, "became the leader: acting");
    let mut watch_loss = leader.clone();
    let stopped = tokio::select! {
        () = controllers(ctx, &scopes) => true,
        lost = watch_loss.wait_for(|is_leader| !*is_leader) => {
            lost.context("the leader-election task stopped")?;
            false
        }
    };
    if !stopped {
        // Another replica may act from now on: stop at once rather than act twice.
        anyhow::bail!("lost the leader Lease; exiting so that only one replica acts");
    }
    tracing::info!("controllers stopped: releasing the Lease");
    drop(watch_loss);
    drop(leader);
    let _ = lease_task.await;
    Ok(())
}
