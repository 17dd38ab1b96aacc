//! The async facade: timeouts around a backend that never answers, and the choice of backend
//! for `storage = auto | system | file` when the keychain fails or hangs.

use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anacondad::secret::Secret;
use anacondad::store::{
    BackendError, BackendKind, KeychainError, MemoryBackend, SecretBackend, StorageMode,
    StoreError, StoreOptions, TokenStore,
};

/// A keychain stand-in whose every call blocks until the test ends, as a locked keychain
/// waiting for its unlock prompt does.
#[derive(Debug)]
struct HangingKeychain {
    release: Mutex<mpsc::Receiver<()>>,
}

impl HangingKeychain {
    fn new() -> (Arc<Self>, mpsc::Sender<()>) {
        let (tx, rx) = mpsc::channel();
        (
            Arc::new(Self {
                release: Mutex::new(rx),
            }),
            tx,
        )
    }

    fn hang(&self) {
        // Returns when the test drops its sender.
        let _ = self.release.lock().unwrap().recv();
    }
}

impl SecretBackend for HangingKeychain {
    fn kind(&self) -> BackendKind {
        BackendKind::System
    }
    fn get(&self, _: &str, _: &str) -> Result<Option<Secret>, BackendError> {
        self.hang();
        Ok(None)
    }
    fn put(&self, _: &str, _: &str, _: &Secret) -> Result<(), BackendError> {
        self.hang();
        Ok(())
    }
    fn delete(&self, _: &str, _: &str) -> Result<bool, BackendError> {
        self.hang();
        Ok(false)
    }
}

fn unavailable() -> Result<Arc<dyn SecretBackend>, BackendError> {
    Err(KeychainError::Unavailable {
        detail: "org.freedesktop.DBus.Error.ServiceUnknown".into(),
    }
    .into())
}

#[tokio::test]
async fn a_keychain_call_that_never_returns_times_out_with_the_likely_cause() {
    let (keychain, _release) = HangingKeychain::new();
    let store = TokenStore::with_backend(keychain, None, Duration::from_millis(200));

    let started = Instant::now();
    let err = store.api_key("anaconda.com").await.unwrap_err();

    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(matches!(err, StoreError::Timeout { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("within 0.2s"), "{message}");
    assert!(message.contains("locked"), "{message}");
    assert!(message.contains("unlock"), "{message}");
    assert!(message.contains("storage = \"file\""), "{message}");
}

#[tokio::test]
async fn writes_time_out_too_and_the_store_keeps_answering_afterwards() {
    let (keychain, _release) = HangingKeychain::new();
    let store = TokenStore::with_backend(keychain, None, Duration::from_millis(100));
    for _ in 0..2 {
        let err = store
            .set_repo_token("anaconda.com", "acme", Secret::new("t"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Timeout { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn auto_falls_back_to_the_file_when_the_keychain_probe_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let (keychain, _release) = HangingKeychain::new();
    let mut options = StoreOptions::new(StorageMode::Auto, &path);
    options.probe_timeout = Duration::from_millis(150);

    let store =
        TokenStore::open_with_keychain(options, move || Ok(keychain as Arc<dyn SecretBackend>))
            .await
            .unwrap();

    assert_eq!(store.backend_kind(), BackendKind::File);
    let warning = store.warning().unwrap();
    assert!(warning.contains(&path.display().to_string()), "{warning}");
    assert!(warning.contains("storage = \"file\""), "{warning}");
    assert!(warning.contains("locked?"), "{warning}");
    assert!(
        store.fallback_cause().unwrap().contains("may be locked"),
        "{:?}",
        store.fallback_cause()
    );
    store
        .set_api_key("anaconda.com", Secret::new("k"))
        .await
        .unwrap();
    assert!(path.exists());
}

#[tokio::test]
async fn auto_falls_back_to_the_file_when_there_is_no_secret_service() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions::new(StorageMode::Auto, dir.path().join("keyring"));
    let store = TokenStore::open_with_keychain(options, unavailable)
        .await
        .unwrap();
    assert_eq!(store.backend_kind(), BackendKind::File);
    let warning = store.warning().unwrap();
    assert!(warning.contains("is not available"), "{warning}");
    // The cause stays out of the warning that every terminal sees, and is kept for the log.
    assert!(
        warning.len() < 320,
        "{} characters: {warning}",
        warning.len()
    );
    let cause = store.fallback_cause().unwrap();
    assert!(cause.contains("no OS keychain is available"), "{cause}");
    assert!(!warning.contains(cause), "{warning}");
}

#[tokio::test]
async fn the_fallback_warning_is_news_for_the_first_answer_only() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions::new(StorageMode::Auto, dir.path().join("keyring"));
    let store = TokenStore::open_with_keychain(options, unavailable)
        .await
        .unwrap();
    assert!(store.take_warning_news());
    assert!(!store.take_warning_news());
    assert!(
        store.warning().is_some(),
        "the warning itself stays for status"
    );

    let file = StoreOptions::new(StorageMode::File, dir.path().join("chosen"));
    let chosen = TokenStore::open_with_keychain(file, unavailable)
        .await
        .unwrap();
    assert!(
        !chosen.take_warning_news(),
        "a chosen file is nothing to warn about"
    );
}

#[tokio::test]
async fn auto_uses_the_keychain_when_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions::new(StorageMode::Auto, dir.path().join("keyring"));
    let memory: Arc<dyn SecretBackend> = Arc::new(MemoryBackend::new());
    let store = TokenStore::open_with_keychain(options, move || Ok(memory))
        .await
        .unwrap();
    assert_eq!(store.backend_kind(), BackendKind::Memory);
    assert!(store.warning().is_none());
    assert!(!dir.path().join("keyring").exists());
}

#[tokio::test]
async fn system_never_falls_back_and_says_how_to_get_a_keychain() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions::new(StorageMode::System, dir.path().join("keyring"));
    let err = TokenStore::open_with_keychain(options, unavailable)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("gnome-keyring"), "{message}");
    assert!(message.contains("storage = \"file\""), "{message}");
    assert!(!dir.path().join("keyring").exists());
}

#[tokio::test]
async fn system_with_a_hanging_keychain_connection_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = StoreOptions::new(StorageMode::System, dir.path().join("keyring"));
    options.timeout = Duration::from_millis(150);
    let (keychain, release) = HangingKeychain::new();
    let err = TokenStore::open_with_keychain(options, move || {
        keychain.hang();
        Ok(keychain as Arc<dyn SecretBackend>)
    })
    .await
    .unwrap_err();
    drop(release);
    assert!(matches!(err, StoreError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn the_memory_backend_serves_the_whole_facade() {
    let store =
        TokenStore::with_backend(Arc::new(MemoryBackend::new()), None, Duration::from_secs(1));
    store.set_api_key("h:1", Secret::new("k")).await.unwrap();
    store
        .set_repo_token("h:1", "o", Secret::new("t"))
        .await
        .unwrap();
    assert_eq!(store.api_key("h:1").await.unwrap().unwrap().expose(), "k");
    assert_eq!(store.orgs("h:1").await.unwrap(), ["o"]);
    assert!(store.remove_all("h:1").await.unwrap());
    assert!(store.record("h:1").await.unwrap().is_none());
}

#[test]
fn storage_modes_parse_and_reject_unknown_values_with_the_choices() {
    assert_eq!("auto".parse::<StorageMode>().unwrap(), StorageMode::Auto);
    assert_eq!(
        "System".parse::<StorageMode>().unwrap(),
        StorageMode::System
    );
    assert_eq!("file".parse::<StorageMode>().unwrap(), StorageMode::File);
    assert_eq!(
        "memory".parse::<StorageMode>().unwrap(),
        StorageMode::Memory
    );
    let err = "keychain".parse::<StorageMode>().unwrap_err().to_string();
    assert!(
        err.contains("\"auto\", \"system\", \"file\" or \"memory\""),
        "{err}"
    );
}
