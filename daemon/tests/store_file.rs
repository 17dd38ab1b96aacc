//! The keyring file backend and the token store over it: format, permissions, atomicity,
//! foreign entries, unknown fields, symlinks, the environment API key and legacy migration.
#![cfg(unix)]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;

use anacondad::secret::Secret;
use anacondad::store::record::ANACONDA_SERVICE;
use anacondad::store::{
    BackendKind, FileKeyring, SecretBackend, StorageMode, StoreError, StoreOptions, TokenRecord,
    TokenStore,
};
use base64::Engine as _;
use serde_json::{Value, json};

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

async fn file_store(path: &Path) -> TokenStore {
    TokenStore::open(StoreOptions::new(StorageMode::File, path))
        .await
        .unwrap()
}

#[test]
fn file_backend_round_trips_updates_and_deletes_an_entry() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = FileKeyring::open(dir.path().join("keyring")).unwrap();
    assert!(keyring.get("svc", "user").unwrap().is_none());
    keyring.put("svc", "user", &Secret::new("first")).unwrap();
    assert_eq!(
        keyring.get("svc", "user").unwrap().unwrap().expose(),
        "first"
    );
    keyring.put("svc", "user", &Secret::new("second")).unwrap();
    assert_eq!(
        keyring.get("svc", "user").unwrap().unwrap().expose(),
        "second"
    );
    assert!(keyring.delete("svc", "user").unwrap());
    assert!(keyring.get("svc", "user").unwrap().is_none());
    assert!(!keyring.delete("svc", "user").unwrap());
}

#[test]
fn a_new_keyring_file_and_its_directory_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("home/.anaconda/keyring");
    let keyring = FileKeyring::open(&path).unwrap();
    keyring.put("svc", "user", &Secret::new("v")).unwrap();
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(mode_of(path.parent().unwrap()), 0o700);
    assert!(keyring.notices().is_empty());
}

#[test]
fn an_existing_world_readable_keyring_is_tightened_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    fs::write(&path, r#"{"Anaconda Cloud": {"anaconda.com": "eyJ9"}}"#).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();

    let keyring = FileKeyring::open(&path).unwrap();

    assert_eq!(mode_of(&path), 0o600);
    let notices = keyring.notices();
    assert_eq!(notices.len(), 1);
    assert!(notices[0].contains("from 0644 to 0600"), "{notices:?}");
    assert_eq!(
        keyring
            .get("Anaconda Cloud", "anaconda.com")
            .unwrap()
            .unwrap()
            .expose(),
        "eyJ9"
    );
}

#[test]
fn writes_keep_entries_of_other_services_and_domains() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let before = json!({
        "other-tool": {"me": "their-secret", "nested": {"kept": [1, 2]}},
        "Anaconda Cloud": {"example.org:8443": "b3RoZXI="}
    });
    fs::write(&path, before.to_string()).unwrap();

    let keyring = FileKeyring::open(&path).unwrap();
    keyring
        .put("Anaconda Cloud", "anaconda.com", &Secret::new("ours"))
        .unwrap();
    keyring.delete("Anaconda Cloud", "anaconda.com").unwrap();
    keyring
        .put("Anaconda Cloud", "anaconda.com", &Secret::new("ours2"))
        .unwrap();

    let after: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(after["other-tool"], before["other-tool"]);
    assert_eq!(after["Anaconda Cloud"]["example.org:8443"], "b3RoZXI=");
    assert_eq!(after["Anaconda Cloud"]["anaconda.com"], "ours2");
}

#[test]
fn a_symlinked_keyring_path_writes_the_target_and_stays_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real/keyring.json");
    fs::create_dir_all(real.parent().unwrap()).unwrap();
    fs::write(&real, "{}").unwrap();
    let link = dir.path().join("keyring");
    std::os::unix::fs::symlink("real/keyring.json", &link).unwrap();

    let keyring = FileKeyring::open(&link).unwrap();
    keyring.put("svc", "user", &Secret::new("v")).unwrap();

    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let content: Value = serde_json::from_slice(&fs::read(&real).unwrap()).unwrap();
    assert_eq!(content["svc"]["user"], "v");
    assert_eq!(mode_of(&real), 0o600);
}

#[test]
fn an_empty_keyring_file_reads_as_empty() {
    // anaconda-auth creates it empty when it checks that it can write there.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    fs::write(&path, "").unwrap();
    let keyring = FileKeyring::open(&path).unwrap();
    assert!(keyring.get("svc", "user").unwrap().is_none());
    keyring.put("svc", "user", &Secret::new("v")).unwrap();
    assert_eq!(keyring.get("svc", "user").unwrap().unwrap().expose(), "v");
}

#[test]
fn a_corrupt_keyring_file_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    fs::write(&path, "{\"Anaconda Cloud\": {\"anaconda.com\": \"c2VjcmV0").unwrap();
    let keyring = FileKeyring::open(&path).unwrap();

    let err = keyring
        .put("svc", "user", &Secret::new("v"))
        .unwrap_err()
        .to_string();

    assert!(err.contains("not valid JSON"), "{err}");
    assert!(err.contains("move it aside"), "{err}");
    assert!(!err.contains("c2VjcmV0"), "{err}");
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "{\"Anaconda Cloud\": {\"anaconda.com\": \"c2VjcmV0"
    );
}

#[tokio::test]
async fn token_store_over_the_file_keeps_api_key_and_tokens_per_org() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir.path().join("keyring")).await;
    assert_eq!(store.backend_kind(), BackendKind::File);
    assert!(store.warning().is_none());
    let d = "anaconda.com";

    assert!(store.api_key(d).await.unwrap().is_none());
    store.set_api_key(d, Secret::new("key-1")).await.unwrap();
    store
        .set_repo_token(d, "acme", Secret::new("tok-a"))
        .await
        .unwrap();
    store
        .set_repo_token(d, "beta", Secret::new("tok-b"))
        .await
        .unwrap();
    store
        .set_repo_token(d, "acme", Secret::new("tok-a2"))
        .await
        .unwrap();

    assert_eq!(store.api_key(d).await.unwrap().unwrap().expose(), "key-1");
    assert_eq!(
        store.repo_token(d, "acme").await.unwrap().unwrap().expose(),
        "tok-a2"
    );
    assert_eq!(store.orgs(d).await.unwrap(), ["beta", "acme"]);

    assert!(store.remove_repo_token(d, "beta").await.unwrap());
    assert!(!store.remove_repo_token(d, "beta").await.unwrap());
    assert!(store.remove_api_key(d).await.unwrap());
    assert!(store.api_key(d).await.unwrap().is_none());
    assert_eq!(store.orgs(d).await.unwrap(), ["acme"]);

    assert!(store.remove_repo_token(d, "acme").await.unwrap());
    // Nothing left: the record is gone, as after `anaconda logout`.
    assert!(store.record(d).await.unwrap().is_none());
}

#[tokio::test]
async fn unknown_fields_of_a_stored_record_survive_our_rewrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let raw = r#"{"domain":"anaconda.com","api_key":"k","username":"old-user","repo_tokens":[{"token":"t","org_name":"acme","scope":["r"]}],"version":2,"future_field":{"x":1}}"#;
    fs::write(
        &path,
        json!({"Anaconda Cloud": {"anaconda.com": b64(raw)}}).to_string(),
    )
    .unwrap();
    let store = file_store(&path).await;

    store
        .set_repo_token("anaconda.com", "beta", Secret::new("t2"))
        .await
        .unwrap();
    store
        .set_repo_token("anaconda.com", "acme", Secret::new("t3"))
        .await
        .unwrap();

    let keyring = FileKeyring::open(&path).unwrap();
    let stored = keyring
        .get(ANACONDA_SERVICE, "anaconda.com")
        .unwrap()
        .unwrap();
    let record = TokenRecord::decode(&stored, "anaconda.com").unwrap();
    assert_eq!(
        record.to_json().expose(),
        r#"{"domain":"anaconda.com","api_key":"k","username":"old-user","repo_tokens":[{"token":"t2","org_name":"beta"},{"token":"t3","org_name":"acme","scope":["r"]}],"version":2,"future_field":{"x":1}}"#
    );
}

#[tokio::test]
async fn the_environment_api_key_is_read_only_but_repo_tokens_still_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let mut options = StoreOptions::new(StorageMode::File, &path);
    options.env_api_key = Some(Secret::new("ci-key"));
    let store = TokenStore::open(options).await.unwrap();
    assert!(store.api_key_from_environment());

    assert_eq!(
        store
            .api_key("anaconda.com")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "ci-key"
    );
    let err = store
        .set_api_key("anaconda.com", Secret::new("other"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ApiKeyFromEnvironment));
    assert!(err.to_string().contains("ANACONDA_AUTH_API_KEY"), "{err}");
    assert!(store.remove_api_key("anaconda.com").await.is_err());

    store
        .set_repo_token("anaconda.com", "acme", Secret::new("tok"))
        .await
        .unwrap();
    let record = store.record("anaconda.com").await.unwrap().unwrap();
    assert_eq!(record.repo_token("acme").unwrap().expose(), "tok");
    // The environment key is never written to storage.
    assert!(record.api_key.is_none());
}

#[tokio::test]
async fn a_legacy_record_is_migrated_to_anaconda_com_on_first_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let legacy = r#"{"domain":"anaconda.cloud","api_key":"old-key","repo_tokens":[],"extra":true}"#;
    fs::write(
        &path,
        json!({"Anaconda Cloud": {"anaconda.cloud": b64(legacy), "example.org": "keep"}})
            .to_string(),
    )
    .unwrap();
    let store = file_store(&path).await;

    assert_eq!(
        store
            .api_key("anaconda.com")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "old-key"
    );

    let file: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let entries = file["Anaconda Cloud"].as_object().unwrap();
    assert!(!entries.contains_key("anaconda.cloud"));
    assert_eq!(entries["example.org"], "keep");
    let migrated = TokenRecord::decode(
        &Secret::new(entries["anaconda.com"].as_str().unwrap()),
        "anaconda.com",
    )
    .unwrap();
    assert_eq!(migrated.domain, "anaconda.com");
    assert_eq!(migrated.version, Some(2));
    assert!(migrated.extra.contains_key("extra"));
}

#[tokio::test]
async fn the_refresh_token_lives_outside_the_anaconda_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let store = file_store(&path).await;
    store
        .set_api_key("anaconda.com", Secret::new("k"))
        .await
        .unwrap();
    store
        .set_refresh_token("anaconda.com", Secret::new("r"))
        .await
        .unwrap();

    assert_eq!(
        store
            .refresh_token("anaconda.com")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "r"
    );
    let record = store.record("anaconda.com").await.unwrap().unwrap();
    assert!(record.extra.is_empty());

    assert!(store.remove_all("anaconda.com").await.unwrap());
    assert!(store.refresh_token("anaconda.com").await.unwrap().is_none());
    assert!(store.record("anaconda.com").await.unwrap().is_none());
}

#[tokio::test]
async fn a_damaged_record_is_an_error_naming_the_domain_and_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    fs::write(
        &path,
        json!({"Anaconda Cloud": {"anaconda.com": "!!!"}}).to_string(),
    )
    .unwrap();
    let store = file_store(&path).await;

    let err = store
        .set_repo_token("anaconda.com", "acme", Secret::new("t"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("anaconda.com"), "{err}");
    let raw = FileKeyring::open(&path)
        .unwrap()
        .get(ANACONDA_SERVICE, "anaconda.com")
        .unwrap();
    assert_eq!(raw.unwrap().expose(), "!!!");
}

#[tokio::test]
async fn concurrent_writers_through_one_store_lose_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(file_store(&dir.path().join("keyring")).await);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store
                .set_repo_token(
                    "anaconda.com",
                    &format!("org{i}"),
                    Secret::new(format!("t{i}")),
                )
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(store.orgs("anaconda.com").await.unwrap().len(), 16);
}

#[test]
fn two_keyring_handles_on_one_file_lose_no_write() {
    // Two processes (here two handles, each taking the file lock) writing different domains.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let threads: Vec<_> = (0..2)
        .map(|n| {
            let path = path.clone();
            std::thread::spawn(move || {
                let keyring = FileKeyring::open(&path).unwrap();
                for i in 0..25 {
                    keyring
                        .put("svc", &format!("w{n}-{i}"), &Secret::new("v"))
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let content: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(content["svc"].as_object().unwrap().len(), 50);
}

mod record_properties {
    use super::*;
    use anacondad::store::RepoToken;
    use proptest::prelude::*;
    use serde_json::Map;

    const KNOWN: [&str; 5] = ["domain", "api_key", "username", "repo_tokens", "version"];

    fn json_leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        json_leaf().prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn extras(exclude: &'static [&'static str]) -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::vec(("[a-z_]{1,10}", json_value()), 0..4).prop_map(move |pairs| {
            pairs
                .into_iter()
                .filter(|(k, _)| !exclude.contains(&k.as_str()))
                .collect()
        })
    }

    fn repo_token() -> impl Strategy<Value = RepoToken> {
        (
            ".{1,40}",
            proptest::option::of(".{0,20}"),
            extras(&["token", "org_name"]),
        )
            .prop_map(|(token, org_name, extra)| RepoToken {
                token: Secret::new(token),
                org_name,
                extra,
            })
    }

    fn record() -> impl Strategy<Value = TokenRecord> {
        (
            ".{0,30}",
            proptest::option::of(".{0,60}"),
            proptest::option::of(".{0,20}"),
            prop::collection::vec(repo_token(), 0..5),
            proptest::option::of(any::<i64>()),
            extras(&KNOWN),
        )
            .prop_map(|(domain, api_key, username, repo_tokens, version, extra)| {
                TokenRecord {
                    domain,
                    api_key: api_key.map(Secret::new),
                    username,
                    repo_tokens,
                    version,
                    extra,
                }
            })
    }

    proptest! {
        #[test]
        fn any_record_survives_encode_and_decode(record in record()) {
            let encoded = record.encode();
            let decoded = TokenRecord::decode(&encoded, "fallback").unwrap();
            // A record without a version is written without one and read back as version 2,
            // pydantic's default: the only field that does not come back as it went in.
            let mut expected = record.clone();
            expected.version.get_or_insert(2);
            prop_assert_eq!(&decoded, &expected);
            // And the encoding is stable: a second round gives the same bytes.
            let again = decoded.encode();
            let want = expected.encode();
            prop_assert_eq!(again.expose(), want.expose());
        }
    }
}

#[tokio::test]
async fn storage_mode_file_never_touches_the_keychain() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions::new(StorageMode::File, dir.path().join("keyring"));
    let store = TokenStore::open_with_keychain(options, || {
        panic!("the keychain must not be contacted with storage = \"file\"")
    })
    .await
    .unwrap();
    assert_eq!(store.backend_kind(), BackendKind::File);
}
