//! A value replaced whole while readers keep the copy they took: the
//! settings a reload swaps in ([`crate::reload`]). A reader takes an
//! `Arc` snapshot once per connection or message and works on it to the
//! end, so a message in progress finishes with the settings it started
//! with while the next one sees the new ones.
//!
//! A `std::sync::RwLock<Arc<T>>` rather than the `arc-swap` crate: a
//! snapshot is taken once per connection or message, never in a hot loop,
//! so the lock (held only to clone the `Arc`) costs nothing measurable and
//! no dependency is added (spf-milter reloads the same way).

use std::sync::{Arc, RwLock};

/// The current value of a setting that a reload may replace.
pub struct Swap<T>(RwLock<Arc<T>>);

impl<T> Swap<T> {
    /// Starts with `value`.
    pub fn new(value: T) -> Self {
        Swap(RwLock::new(Arc::new(value)))
    }

    /// Starts with a value already shared.
    pub fn from_arc(value: Arc<T>) -> Self {
        Swap(RwLock::new(value))
    }

    /// The value in force now; later replacements do not change it.
    pub fn load(&self) -> Arc<T> {
        // A panic while the lock was held cannot leave the Arc half-written.
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts `value` in force for every later [`Swap::load`]; returns the
    /// previous value (still held by whoever loaded it).
    pub fn store(&self, value: Arc<T>) -> Arc<T> {
        let mut guard = self.0.write().unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *guard, value)
    }
}

#[cfg(test)]
mod tests {
    use super::Swap;
    use std::sync::Arc;

    #[test]
    fn snapshots_survive_a_store() {
        let s = Swap::new(1);
        let before = s.load();
        let old = s.store(Arc::new(2));
        assert_eq!((*before, *old, *s.load()), (1, 1, 2));
        assert!(Arc::ptr_eq(&before, &old));
    }
}
