//! Read pins: a GET pins the object (blob id or manifest id) it streams, and the deleter leaves
//! the blobs of a pinned object in the queue until the last reader lets go. This is what lets
//! an overwrite or delete proceed without disturbing a reader of the old bytes, for objects of
//! many parts and for blob stores without POSIX unlink semantics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Default)]
pub struct Pins {
    counts: Mutex<HashMap<String, usize>>,
    /// Woken when the last reader of an object lets go (the deleter waits on it).
    released: Arc<Notify>,
}

/// Holds a pin until dropped (it travels with the response body).
pub struct PinGuard {
    pins: Arc<Pins>,
    id: String,
}

impl Pins {
    pub fn new(released: Arc<Notify>) -> Self {
        Self { counts: Mutex::default(), released }
    }

    pub fn pin(self: &Arc<Self>, id: &str) -> PinGuard {
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry(id.to_owned()).or_default() += 1;
        }
        PinGuard { pins: self.clone(), id: id.to_owned() }
    }

    pub fn is_pinned(&self, id: &str) -> bool {
        self.counts.lock().map(|c| c.contains_key(id)).unwrap_or(true)
    }
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.pins.counts.lock() {
            if let Some(n) = counts.get_mut(&self.id) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(&self.id);
                    self.pins.released.notify_one();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_count_readers() {
        let pins = Arc::new(Pins::default());
        let a = pins.pin("x");
        let b = pins.pin("x");
        assert!(pins.is_pinned("x"));
        drop(a);
        assert!(pins.is_pinned("x"));
        drop(b);
        assert!(!pins.is_pinned("x"));
    }
}
