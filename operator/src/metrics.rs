//! The operator's own metrics (an owned registry): reconciles, failures and durations by kind.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    reconciles: IntCounterVec,
    failures: IntCounterVec,
    duration: HistogramVec,
}

/// The kinds reconciled, the only values of the `kind` label.
pub const KINDS: [&str; 3] = ["BleepStore", "Bucket", "AccessKey"];

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let reconciles =
            IntCounterVec::new(Opts::new("bleepstore_operator_reconciles_total", "Reconciles run, by kind"), &["kind"])
                .expect("valid metric");
        let failures = IntCounterVec::new(
            Opts::new("bleepstore_operator_reconcile_failures_total", "Reconciles that failed, by kind and error"),
            &["kind", "error"],
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new("bleepstore_operator_reconcile_duration_seconds", "Reconcile duration, by kind")
                .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            &["kind"],
        )
        .expect("valid metric");
        for metric in [Box::new(reconciles.clone()) as Box<dyn prometheus::core::Collector>, Box::new(failures.clone())]
        {
            registry.register(metric).expect("unique metric");
        }
        registry.register(Box::new(duration.clone())).expect("unique metric");
        for kind in KINDS {
            reconciles.with_label_values(&[kind]);
            duration.with_label_values(&[kind]);
        }
        Self { registry, reconciles, failures, duration }
    }

    /// Counts one reconcile of `kind` and returns a guard that observes its duration on drop.
    pub fn reconcile(&self, kind: &'static str) -> prometheus::HistogramTimer {
        self.reconciles.with_label_values(&[kind]).inc();
        self.duration.with_label_values(&[kind]).start_timer()
    }

    pub fn failure(&self, kind: &'static str, error: &'static str) {
        self.failures.with_label_values(&[kind, error]).inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
