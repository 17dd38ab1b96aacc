//! Interoperability with the real Python `anaconda-auth` 0.15.3, both directions, on both of
//! its storages: the keyring file (`ANACONDA_AUTH_KEYRING_PATH`) and the system keyring
//! (`preferred_token_storage = "system"` under `[plugin.auth]` in `~/.anaconda/config.toml`).
//!
//!     tests/scripts/setup-venv.sh
//!     tests/scripts/with-keyring.sh cargo test -p anacondad --test store_python
//!
//! Fails when the venv is missing unless `ANACONDAD_SKIP_PYTHON_TESTS=1`; the system-keyring
//! half also needs the keyring session unless `ANACONDAD_SKIP_KEYCHAIN_TESTS=1`.
#![cfg(target_os = "linux")]

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anacondad::secret::Secret;
use anacondad::store::record::ANACONDA_SERVICE;
use anacondad::store::{
    FileKeyring, SecretBackend, StorageMode, StoreOptions, TokenRecord, TokenStore,
};
use base64::Engine as _;
use serde_json::{Value, json};

const HOW_TO_RUN: &str = "run `tests/scripts/setup-venv.sh`, then `tests/scripts/with-keyring.sh cargo test -p anacondad --test store_python` (ANACONDAD_SKIP_PYTHON_TESTS=1 skips these tests, ANACONDAD_SKIP_KEYCHAIN_TESTS=1 only their system-keyring half)";

/// Drives `anaconda_auth.token.TokenInfo` and `keyring` with a request read from stdin, so no
/// secret appears in an argument list.
const PY_DRIVER: &str = r#"
import json, sys
import keyring
from anaconda_auth.token import TokenInfo, RepoToken
from anaconda_auth.exceptions import TokenNotFoundError

req = json.load(sys.stdin)
kr = keyring.get_keyring()
# A chainer tries its backends in order: the first is where writes go.
chain = getattr(kr, "backends", [kr])
out = {"backend": [type(b).__module__ + "." + type(b).__name__ for b in chain]}
op, domain = req["op"], req.get("domain")
if op == "load":
    try:
        out["token_info"] = json.loads(TokenInfo.load(domain).model_dump_json(exclude_none=True))
    except TokenNotFoundError:
        out["token_info"] = None
elif op == "save":
    TokenInfo(domain=domain, api_key=req.get("api_key"),
              repo_tokens=[RepoToken(**t) for t in req["repo_tokens"]]).save()
elif op == "set_repo_token":
    info = TokenInfo.load(domain)
    info.set_repo_token(req["org"], req["token"])
    info.save()
elif op == "delete":
    TokenInfo.load(domain).delete()
elif op == "raw_set":
    keyring.set_password("Anaconda Cloud", req["username"], req["value"])
elif op == "raw_get":
    out["value"] = keyring.get_password("Anaconda Cloud", req["username"])
else:
    raise SystemExit("unknown op " + op)
print(json.dumps(out))
"#;

fn skip(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| v == "1")
}

fn venv_python() -> Option<PathBuf> {
    if skip("ANACONDAD_SKIP_PYTHON_TESTS") {
        eprintln!("skipping: ANACONDAD_SKIP_PYTHON_TESTS=1");
        return None;
    }
    let venv = std::env::var_os("ANACONDAD_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists() && venv.join(".anacondad-ready").exists(),
        "no anaconda-auth venv at {}: {HOW_TO_RUN}",
        venv.display()
    );
    Some(python)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Storage {
    File,
    System,
}

/// One user's world: a temporary HOME with Python's config, our store over the same storage.
struct World {
    python: PathBuf,
    home: tempfile::TempDir,
    storage: Storage,
}

impl World {
    fn new(storage: Storage) -> Option<Self> {
        let python = venv_python()?;
        if storage == Storage::System {
            if skip("ANACONDAD_SKIP_KEYCHAIN_TESTS") {
                eprintln!("skipping: ANACONDAD_SKIP_KEYCHAIN_TESTS=1");
                return None;
            }
            assert!(
                std::env::var_os("ANACONDAD_IN_KEYRING_SESSION").is_some(),
                "the system-keyring tests need a Secret Service: {HOW_TO_RUN}"
            );
            common::wait_for_secret_service(HOW_TO_RUN);
        }
        let home = tempfile::tempdir().unwrap();
        let config_dir = home.path().join(".anaconda");
        std::fs::create_dir_all(&config_dir).unwrap();
        let storage_name = match storage {
            Storage::File => "anaconda-keyring",
            Storage::System => "system",
        };
        std::fs::write(
            config_dir.join("config.toml"),
            format!("[plugin.auth]\npreferred_token_storage = \"{storage_name}\"\n"),
        )
        .unwrap();
        Some(Self {
            python,
            home,
            storage,
        })
    }

    fn keyring_path(&self) -> PathBuf {
        self.home.path().join("custom/keyring.json")
    }

    fn python(&self, request: Value) -> Value {
        let mut child = Command::new(&self.python)
            .args(["-c", PY_DRIVER])
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join(".config"))
            .env("ANACONDA_AUTH_KEYRING_PATH", self.keyring_path())
            .env_remove("ANACONDA_AUTH_API_KEY")
            .env_remove("ANACONDA_AUTH_DOMAIN")
            .env_remove("ANACONDA_CONFIG_TOML")
            .env_remove("PYTHON_KEYRING_BACKEND")
            // anaconda-auth's own backends are under test, not the daemon's in front of them.
            .env("CONDA_ANACONDAD_KEYRING", "off")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(request.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "python {request} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
        // Make sure Python really used the storage under test, not a fallback.
        let expected = match self.storage {
            Storage::File => "anaconda_auth.token.AnacondaKeyring",
            Storage::System => "keyring.backends.SecretService.Keyring",
        };
        assert_eq!(
            answer["backend"][0], expected,
            "python used another keyring: {answer}"
        );
        answer
    }

    async fn store(&self) -> TokenStore {
        let mode = match self.storage {
            Storage::File => StorageMode::File,
            Storage::System => StorageMode::System,
        };
        TokenStore::open(StoreOptions::new(mode, self.keyring_path()))
            .await
            .unwrap()
    }

    /// How many items (keychain) or entries (file) hold `username`'s record.
    fn copies(&self, username: &str) -> usize {
        match self.storage {
            Storage::File => {
                let keyring = FileKeyring::open(self.keyring_path()).unwrap();
                usize::from(keyring.get(ANACONDA_SERVICE, username).unwrap().is_some())
            }
            Storage::System => {
                let out = Command::new("secret-tool")
                    .args([
                        "search",
                        "--all",
                        "service",
                        ANACONDA_SERVICE,
                        "username",
                        username,
                    ])
                    .output()
                    .expect("secret-tool (libsecret-tools) is needed");
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                text.lines().filter(|l| l.starts_with('[')).count()
            }
        }
    }
}

async fn tokens_we_store_are_what_python_loads(storage: Storage, domain: &str) {
    let Some(world) = World::new(storage) else {
        return;
    };
    let store = world.store().await;
    store
        .set_api_key(domain, Secret::new("api-key-1"))
        .await
        .unwrap();
    store
        .set_repo_token(domain, "acme", Secret::new("tok-acme"))
        .await
        .unwrap();
    store
        .set_repo_token(domain, "beta", Secret::new("tok-beta"))
        .await
        .unwrap();

    let loaded = world.python(json!({"op": "load", "domain": domain}));

    assert_eq!(
        loaded["token_info"],
        json!({
            "domain": domain,
            "api_key": "api-key-1",
            "repo_tokens": [
                {"token": "tok-acme", "org_name": "acme"},
                {"token": "tok-beta", "org_name": "beta"}
            ],
            "version": 2
        })
    );
    store.remove_all(domain).await.unwrap();
}

async fn records_python_saves_are_read_by_us_byte_for_byte(storage: Storage, domain: &str) {
    let Some(world) = World::new(storage) else {
        return;
    };
    world.python(json!({
        "op": "save", "domain": domain, "api_key": "py-key",
        "repo_tokens": [{"token": "py-tok", "org_name": "acme"}, {"token": "no-org"}]
    }));
    let store = world.store().await;

    assert_eq!(
        store.api_key(domain).await.unwrap().unwrap().expose(),
        "py-key"
    );
    assert_eq!(
        store
            .repo_token(domain, "acme")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "py-tok"
    );
    assert_eq!(store.orgs(domain).await.unwrap(), ["acme"]);
    let record = store.record(domain).await.unwrap().unwrap();
    assert_eq!(record.repo_tokens.len(), 2);
    assert_eq!(record.repo_tokens[1].org_name, None);

    // Our encoding of what Python wrote is exactly what Python wrote.
    let raw = world.python(json!({"op": "raw_get", "username": domain}))["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(record.encode().expose(), raw);
    store.remove_all(domain).await.unwrap();
}

async fn a_python_update_then_our_read_and_delete_leave_nothing(storage: Storage, domain: &str) {
    let Some(world) = World::new(storage) else {
        return;
    };
    let store = world.store().await;
    store.set_api_key(domain, Secret::new("k1")).await.unwrap();
    store
        .set_repo_token(domain, "acme", Secret::new("t1"))
        .await
        .unwrap();

    world.python(json!({"op": "set_repo_token", "domain": domain, "org": "acme", "token": "t2"}));

    assert_eq!(world.copies(domain), 1, "python's write left a duplicate");
    assert_eq!(
        store
            .repo_token(domain, "acme")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "t2"
    );
    assert_eq!(store.api_key(domain).await.unwrap().unwrap().expose(), "k1");

    assert!(store.remove_all(domain).await.unwrap());
    assert_eq!(world.copies(domain), 0);
    assert_eq!(
        world.python(json!({"op": "load", "domain": domain}))["token_info"],
        Value::Null
    );
}

async fn our_update_then_python_read_and_delete_leave_nothing(storage: Storage, domain: &str) {
    let Some(world) = World::new(storage) else {
        return;
    };
    world.python(json!({
        "op": "save", "domain": domain, "api_key": "k1",
        "repo_tokens": [{"token": "t1", "org_name": "acme"}]
    }));
    let store = world.store().await;
    store
        .set_repo_token(domain, "acme", Secret::new("t2"))
        .await
        .unwrap();
    store.set_api_key(domain, Secret::new("k2")).await.unwrap();
    assert_eq!(world.copies(domain), 1, "our write left a duplicate");

    let loaded = world.python(json!({"op": "load", "domain": domain}));
    assert_eq!(loaded["token_info"]["api_key"], "k2");
    assert_eq!(
        loaded["token_info"]["repo_tokens"],
        json!([{"token": "t2", "org_name": "acme"}])
    );

    // Python deletes only the first matching item: any duplicate would survive here.
    world.python(json!({"op": "delete", "domain": domain}));
    assert_eq!(world.copies(domain), 0);
    assert!(store.record(domain).await.unwrap().is_none());
    assert!(store.api_key(domain).await.unwrap().is_none());
}

async fn a_legacy_record_written_by_python_migrates_the_same_way_for_both(storage: Storage) {
    let Some(world) = World::new(storage) else {
        return;
    };
    let legacy = r#"{"domain":"id.anaconda.cloud","api_key":"legacy-key","repo_tokens":[{"token":"lt","org_name":"acme"}]}"#;
    let value = base64::engine::general_purpose::STANDARD.encode(legacy);
    world.python(json!({"op": "raw_set", "username": "id.anaconda.cloud", "value": value}));
    let store = world.store().await;

    assert_eq!(
        store
            .api_key("anaconda.com")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "legacy-key"
    );
    assert_eq!(world.copies("id.anaconda.cloud"), 0);
    assert_eq!(world.copies("anaconda.com"), 1);
    let loaded = world.python(json!({"op": "load", "domain": "anaconda.com"}));
    assert_eq!(
        loaded["token_info"],
        json!({"domain": "anaconda.com", "api_key": "legacy-key",
               "repo_tokens": [{"token": "lt", "org_name": "acme"}], "version": 2})
    );
    store.remove_all("anaconda.com").await.unwrap();
}

#[tokio::test]
async fn tokens_we_store_are_what_python_loads_from_the_file() {
    tokens_we_store_are_what_python_loads(Storage::File, "anaconda.com").await;
}

#[tokio::test]
async fn tokens_we_store_are_what_python_loads_from_the_system_keyring() {
    tokens_we_store_are_what_python_loads(Storage::System, "py-ours.example:8443").await;
}

#[tokio::test]
async fn records_python_saves_in_the_file_are_read_by_us_byte_for_byte() {
    records_python_saves_are_read_by_us_byte_for_byte(Storage::File, "anaconda.com").await;
}

#[tokio::test]
async fn records_python_saves_in_the_system_keyring_are_read_by_us_byte_for_byte() {
    records_python_saves_are_read_by_us_byte_for_byte(Storage::System, "py-theirs.example:8443")
        .await;
}

#[tokio::test]
async fn a_python_update_then_our_read_and_delete_leave_nothing_in_the_file() {
    a_python_update_then_our_read_and_delete_leave_nothing(Storage::File, "anaconda.com").await;
}

#[tokio::test]
async fn a_python_update_then_our_read_and_delete_leave_nothing_in_the_system_keyring() {
    a_python_update_then_our_read_and_delete_leave_nothing(Storage::System, "py-upd1.example:1")
        .await;
}

#[tokio::test]
async fn our_update_then_python_read_and_delete_leave_nothing_in_the_file() {
    our_update_then_python_read_and_delete_leave_nothing(Storage::File, "anaconda.com").await;
}

#[tokio::test]
async fn our_update_then_python_read_and_delete_leave_nothing_in_the_system_keyring() {
    our_update_then_python_read_and_delete_leave_nothing(Storage::System, "py-upd2.example:1")
        .await;
}

#[tokio::test]
async fn a_legacy_record_in_the_file_migrates_the_same_way_for_both() {
    a_legacy_record_written_by_python_migrates_the_same_way_for_both(Storage::File).await;
}

#[tokio::test]
async fn a_legacy_record_in_the_system_keyring_migrates_the_same_way_for_both() {
    a_legacy_record_written_by_python_migrates_the_same_way_for_both(Storage::System).await;
}

#[tokio::test]
async fn python_drops_unknown_fields_on_rewrite_so_our_refresh_token_lives_apart() {
    let Some(world) = World::new(Storage::File) else {
        return;
    };
    let domain = "anaconda.com";
    let keyring = FileKeyring::open(world.keyring_path()).unwrap();
    let mut record = TokenRecord::new(domain);
    record.api_key = Some(Secret::new("k"));
    record
        .extra
        .insert("refresh_token".into(), json!("would-be-lost"));
    keyring
        .put(ANACONDA_SERVICE, domain, &record.encode())
        .unwrap();
    let store = world.store().await;
    store
        .set_refresh_token(domain, Secret::new("kept"))
        .await
        .unwrap();

    world.python(json!({"op": "set_repo_token", "domain": domain, "org": "acme", "token": "t"}));

    let after = store.record(domain).await.unwrap().unwrap();
    assert!(
        !after.extra.contains_key("refresh_token"),
        "anaconda-auth now keeps unknown fields"
    );
    assert_eq!(
        store.refresh_token(domain).await.unwrap().unwrap().expose(),
        "kept"
    );
}
