//! A backend that stops answering costs one stranded thread, not one per call: later calls are
//! refused at once (the daemon answers from memory), the store says it is not answering, and
//! it recovers when the backend answers again. One test in its own binary, because it counts
//! the threads of this process.
#![cfg(target_os = "linux")]

use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anacondad::secret::Secret;
use anacondad::store::{BackendError, BackendKind, SecretBackend, StoreError, TokenStore};

/// Every call blocks until the test sends a release, as a wedged Secret Service does.
#[derive(Debug)]
struct StallingKeychain {
    release: Mutex<mpsc::Receiver<()>>,
}

impl StallingKeychain {
    fn wait(&self) {
        let _ = self.release.lock().unwrap().recv();
    }
}

impl SecretBackend for StallingKeychain {
    fn kind(&self) -> BackendKind {
        BackendKind::System
    }
    fn get(&self, _: &str, _: &str) -> Result<Option<Secret>, BackendError> {
        self.wait();
        Ok(None)
    }
    fn put(&self, _: &str, _: &str, _: &Secret) -> Result<(), BackendError> {
        self.wait();
        Ok(())
    }
    fn delete(&self, _: &str, _: &str) -> Result<bool, BackendError> {
        self.wait();
        Ok(false)
    }
}

/// Not `anaconda.com`, whose read also looks for legacy records (more calls to release).
const DOMAIN: &str = "example.org:8443";

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_keychain_strands_one_thread_and_later_calls_fail_at_once_until_it_answers() {
    let (release, rx) = mpsc::channel();
    let backend = Arc::new(StallingKeychain {
        release: Mutex::new(rx),
    });
    let store = Arc::new(TokenStore::with_backend(
        backend,
        None,
        Duration::from_millis(300),
    ));
    let before = threads();

    let first = store.record(DOMAIN).await.unwrap_err();
    assert!(matches!(first, StoreError::Timeout { .. }), "{first}");
    assert!(store.warning().unwrap().contains("has not answered"));

    let started = Instant::now();
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.record(DOMAIN).await })
        })
        .collect();
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        assert!(
            err.to_string().contains("an earlier call"),
            "refused without asking: {err}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "refused at once, not after a timeout each: {:?}",
        started.elapsed()
    );
    let grown = threads().saturating_sub(before);
    assert!(grown <= 2, "{grown} threads more after 51 calls");

    // The keychain answers again: the stranded call returns, and the next one is asked.
    release.send(()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.not_answering_for().is_some() {
        assert!(Instant::now() < deadline, "the late answer was not noticed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    release.send(()).unwrap();
    assert!(store.record(DOMAIN).await.unwrap().is_none());
    assert!(store.warning().is_none());
}
