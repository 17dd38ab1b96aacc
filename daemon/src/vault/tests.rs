//! Reloading the store: the exports are woken by a change, never by a re-read that finds none.

use std::path::Path;

use url::Url;

use super::{Site, Vault};
use crate::clock::{Clock, SystemClock};
use crate::repo_url::RepoUrl;
use crate::secret::Secret;
use crate::store::{StorageMode, StoreOptions};

/// A vault for example's site over the keyring file in `dir`, with a state file named `state`.
fn vault(dir: &Path, state: &str) -> Vault {
    let site = Site {
        domain: "example".to_owned(),
        repo: RepoUrl::new(Url::parse("https://repo.example/repo/").unwrap()),
    };
    let store = StoreOptions::new(StorageMode::File, dir.join("keyring"));
    Vault::open(site, store, dir.join(state), SystemClock.now()).unwrap()
}

#[tokio::test]
async fn reloading_an_unchanged_store_does_not_wake_the_exports() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path(), "state.json");
    vault
        .put_repo_token("acme", Secret::new("acme-token"))
        .await
        .unwrap();
    let mut changes = vault.credentials_changed();
    changes.borrow_and_update();
    vault.reload().await.unwrap();
    assert!(!changes.has_changed().unwrap());
}

#[tokio::test]
async fn reloading_a_store_another_tool_changed_wakes_the_exports() {
    let dir = tempfile::tempdir().unwrap();
    let ours = vault(dir.path(), "state.json");
    ours.put_repo_token("acme", Secret::new("acme-token"))
        .await
        .unwrap();
    let mut changes = ours.credentials_changed();
    changes.borrow_and_update();
    let another_tool = vault(dir.path(), "theirs.json");
    another_tool
        .put_repo_token("acme", Secret::new("a-newer-acme-token"))
        .await
        .unwrap();
    let reloaded = ours.reload().await.unwrap();
    assert!(changes.has_changed().unwrap());
    assert_eq!(
        reloaded.tokens.get("acme").map(Secret::expose),
        Some("a-newer-acme-token")
    );
}
