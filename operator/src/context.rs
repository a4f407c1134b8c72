//! What every reconcile shares: the Kubernetes client, the admin API, configuration, metrics,
//! the event recorder and per-object failure backoff.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource};
use rand::RngExt;

use crate::admin::AdminApi;
use crate::metrics::Metrics;

/// Operator settings that come from flags.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The store image used when a BleepStore names none.
    pub default_image: String,
}

pub struct Context {
    pub client: Client,
    pub admin: Arc<dyn AdminApi>,
    pub settings: Settings,
    pub metrics: Metrics,
    recorder: Recorder,
    backoff: Backoff,
    /// The BleepStore caches of the store controllers (one per watched scope), for decisions
    /// that look across stores.
    stores: std::sync::Mutex<Vec<kube::runtime::reflector::Store<crate::crd::BleepStore>>>,
    /// Held while a store moves to a new default image: one store at a time decides and applies.
    /// Inside, the store that moved last (`namespace/name`, image): the caches may not show its
    /// new status yet when the next store decides.
    pub image_rollout: tokio::sync::Mutex<Option<(String, String)>>,
}

impl Context {
    pub fn new(client: Client, admin: Arc<dyn AdminApi>, settings: Settings, metrics: Metrics) -> Self {
        let reporter = Reporter { controller: crate::build::FIELD_MANAGER.to_owned(), instance: None };
        let recorder = Recorder::new(client.clone(), reporter);
        Self {
            client,
            admin,
            settings,
            metrics,
            recorder,
            backoff: Backoff::default(),
            stores: std::sync::Mutex::new(Vec::new()),
            image_rollout: tokio::sync::Mutex::new(None),
        }
    }

    /// Registers a store controller's cache.
    pub fn add_store_cache(&self, cache: kube::runtime::reflector::Store<crate::crd::BleepStore>) {
        self.stores.lock().unwrap_or_else(|e| e.into_inner()).push(cache);
    }

    /// Every BleepStore the controllers see.
    pub fn all_stores(&self) -> Vec<Arc<crate::crd::BleepStore>> {
        self.stores.lock().unwrap_or_else(|e| e.into_inner()).iter().flat_map(|c| c.state()).collect()
    }

    /// Publishes an event about `obj`. A failure to publish is logged, never fatal.
    pub async fn event<K: Resource<DynamicType = ()>>(&self, obj: &K, warning: bool, reason: &str, note: String) {
        let event = Event {
            type_: if warning { EventType::Warning } else { EventType::Normal },
            reason: reason.to_owned(),
            note: Some(note),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            tracing::warn!(%error, reason, "could not publish an event");
        }
    }

    /// The requeue after a failure of the object `key`: exponential from 1 s to 5 min, with
    /// ±25 % jitter so many failing objects do not retry in step.
    pub fn failure_backoff(&self, key: &str) -> Action {
        Action::requeue(self.backoff.next(key))
    }

    /// Forgets the failures of `key` after a success.
    pub fn succeeded(&self, key: &str) {
        self.backoff.reset(key);
    }
}

#[derive(Default)]
struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    fn next(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let count = failures.entry(key.to_owned()).or_insert(0);
        *count = count.saturating_add(1);
        let base = Duration::from_secs(1u64 << (*count - 1).min(9)).min(Duration::from_secs(300));
        let jitter = rand::rng().random_range(0.75..1.25);
        base.mul_f64(jitter)
    }

    fn reset(&self, key: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;
    use std::time::Duration;

    #[test]
    fn backoff_grows_is_capped_and_resets() {
        let backoff = Backoff::default();
        let first = backoff.next("a");
        assert!(first >= Duration::from_millis(750) && first <= Duration::from_millis(1250));
        let second = backoff.next("a");
        assert!(second >= Duration::from_millis(1500) && second <= Duration::from_millis(2500));
        for _ in 0..20 {
            assert!(backoff.next("a") <= Duration::from_secs(375));
        }
        backoff.reset("a");
        assert!(backoff.next("a") <= Duration::from_millis(1250));
        assert!(backoff.next("b") <= Duration::from_millis(1250));
    }
}
