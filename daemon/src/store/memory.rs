//! An in-memory [`SecretBackend`], for unit tests only.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{BackendError, BackendKind, SecretBackend};
use crate::secret::Secret;

/// Keeps entries in process memory. For tests only: nothing survives the process, and the
/// daemon never selects it (no `storage` setting names it).
#[derive(Debug, Default)]
pub struct MemoryBackend {
    entries: Mutex<HashMap<(String, String), Secret>>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Secret>> {
        // A panic elsewhere cannot leave a map half-updated: insert/remove are single steps.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SecretBackend for MemoryBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Memory
    }

    fn get(&self, service: &str, username: &str) -> Result<Option<Secret>, BackendError> {
        Ok(self
            .entries()
            .get(&(service.to_owned(), username.to_owned()))
            .cloned())
    }

    fn put(&self, service: &str, username: &str, value: &Secret) -> Result<(), BackendError> {
        self.entries()
            .insert((service.to_owned(), username.to_owned()), value.clone());
        Ok(())
    }

    fn delete(&self, service: &str, username: &str) -> Result<bool, BackendError> {
        Ok(self
            .entries()
            .remove(&(service.to_owned(), username.to_owned()))
            .is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_backend_round_trips_updates_and_deletes() {
        let b = MemoryBackend::new();
        assert!(b.get("s", "u").unwrap().is_none());
        b.put("s", "u", &Secret::new("one")).unwrap();
        b.put("s", "u", &Secret::new("two")).unwrap();
        assert_eq!(b.get("s", "u").unwrap().unwrap().expose(), "two");
        assert!(b.delete("s", "u").unwrap());
        assert!(!b.delete("s", "u").unwrap());
        assert!(b.get("s", "u").unwrap().is_none());
    }
}
