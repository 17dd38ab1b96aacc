//! The conda auth-handler plugin (`packaging/conda-plugin`, handler `anacondad`) end to end: the
//! package is built and installed with the test venv's pip, then driven through `requests` (the
//! object conda hands a handler) against the emulator, with the real CLI and daemon behind it.
//!
//! Needs the venv of tests/scripts/setup-venv.sh (made on first use); without it these tests
//! fail, unless ANACONDAD_SKIP_PYTHON_TESTS=1 says to skip them.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;

use anacondad_tests::harness::{TestHome, bin, process_alive, python_venv};
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SKIP_ENV: &str = "ANACONDAD_SKIP_PYTHON_TESTS";

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The plugin installed (with `pip install --no-index --no-build-isolation --target`) into a
/// directory for PYTHONPATH, next to a stand-in of the few conda modules the plugin imports.
struct PluginSite {
    python: PathBuf,
    /// The installed plugin (with its dist-info, so its entry point is found).
    lib: PathBuf,
    /// A stand-in `conda` package: `conda.plugins`, `conda.plugins.types`, `conda.exceptions`.
    fake_conda: PathBuf,
}

/// The installed plugin, or `None` when the Python tests are skipped on purpose. Any other
/// reason it cannot be had is a failure.
fn site_or_skip(test: &str) -> Option<&'static PluginSite> {
    static SITE: OnceLock<Result<PluginSite, String>> = OnceLock::new();
    let site = SITE.get_or_init(|| {
        let venv = python_venv().as_ref().map_err(Clone::clone)?;
        install_plugin(venv)
    });
    match site {
        Ok(site) => Some(site),
        Err(reason) if std::env::var_os(SKIP_ENV).is_some_and(|v| v == "1") => {
            println!("SKIPPED {test} ({SKIP_ENV}=1): {reason}");
            eprintln!("SKIPPED {test} ({SKIP_ENV}=1): {reason}");
            None
        }
        Err(reason) => panic!(
            "{test}: the Python venv with the conda plugin is needed ({reason}); set \
             {SKIP_ENV}=1 to skip the Python tests"
        ),
    }
}

/// Builds and installs the plugin from a copy of its source (the build writes into the tree
/// it builds, and the worktree must stay clean). The directory is per test process; those of
/// processes that are gone are removed.
fn install_plugin(venv: &Path) -> Result<PluginSite, String> {
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    if let Ok(entries) = std::fs::read_dir(&scratch) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("conda-plugin-")
                && pid.parse::<u32>().is_ok_and(|pid| !process_alive(pid))
            {
                let _stale = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let root = scratch.join(format!("conda-plugin-{}", std::process::id()));
    let _fresh = std::fs::remove_dir_all(&root);
    let source = root.join("source");
    copy_tree(&manifest_dir().join("../packaging/conda-plugin"), &source)
        .map_err(|e| format!("cannot copy packaging/conda-plugin: {e}"))?;
    let lib = root.join("lib");
    let pip = venv.join("bin/pip");
    let output = Command::new(&pip)
        .args([
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&lib)
        .arg(&source)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", pip.display()))?;
    if !output.status.success() {
        return Err(format!(
            "pip install packaging/conda-plugin failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let fake_conda = root.join("fake-conda");
    for (path, text) in FAKE_CONDA {
        let path = fake_conda.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
    }
    Ok(PluginSite {
        python: venv.join("bin/python"),
        lib,
        fake_conda,
    })
}

/// Copies the plugin's source, leaving out build products.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if matches!(name_str.as_ref(), "build" | "dist" | "__pycache__")
            || name_str.ends_with(".egg-info")
        {
            continue;
        }
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &to.join(&name))?;
        } else {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}

/// The parts of conda the plugin touches, with conda's own behaviour where it matters (a
/// CondaError formats its message with `%`).
const FAKE_CONDA: &[(&str, &str)] = &[
    ("conda/__init__.py", ""),
    (
        "conda/exceptions.py",
        "class CondaError(Exception):\n\
         \x20   def __init__(self, message, caused_by=None, **kwargs):\n\
         \x20       self.message = message\n\
         \x20       self._kwargs = kwargs\n\
         \x20       super().__init__(message)\n\
         \x20   def __str__(self):\n\
         \x20       return str(self.message % self._kwargs)\n",
    ),
    (
        "conda/plugins/__init__.py",
        "from .types import ChannelAuthBase, CondaAuthHandler\n\
         def hookimpl(function):\n\
         \x20   function.conda_hookimpl = True\n\
         \x20   return function\n",
    ),
    (
        "conda/plugins/types.py",
        "from typing import NamedTuple\n\
         from requests.auth import AuthBase\n\
         class ChannelAuthBase(AuthBase):\n\
         \x20   def __init__(self, channel_name):\n\
         \x20       self.channel_name = channel_name\n\
         class CondaAuthHandler(NamedTuple):\n\
         \x20   name: str\n\
         \x20   handler: type\n",
    ),
];

/// Reads one JSON command per line and answers each with one JSON line: `get` fetches a path
/// under the emulator with the plugin as auth; `burst` does that from many threads at once;
/// `entries` sets the `channel_settings` the plugin sees (what conda's context would hold).
/// Authorization values are reported only as SHA-256 digests.
const DRIVER: &str = r#"
import hashlib, json, sys, threading
import requests
import conda_anacondad.entry as plugin_entry
from conda_anacondad import AnacondadAuth, AnacondadAuthError

base = sys.argv[1]
session = requests.Session()

def digest(value):
    return hashlib.sha256(value.encode()).hexdigest() if value else None

def fetch(path, s):
    try:
        r = s.get(base + path, auth=AnacondadAuth("defaults"), timeout=30)
    except AnacondadAuthError as e:
        return {"error": {"type": type(e).__name__, "message": str(e)}}
    except Exception as e:
        return {"error": {"type": type(e).__name__, "message": str(e), "unexpected": True}}
    return {
        "status": r.status_code,
        "history": [h.status_code for h in r.history],
        "auth": digest(r.request.headers.get("Authorization")),
    }

def burst(paths, threads, per_thread):
    results = []
    lock = threading.Lock()
    start = threading.Barrier(threads)
    def work(i):
        s = requests.Session()
        start.wait()
        for j in range(per_thread):
            out = fetch(paths[(i + j) % len(paths)], s)
            with lock:
                results.append(out)
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    ok = sum(1 for r in results if r.get("status") == 200 and not r["history"])
    return {"total": len(results), "ok": ok, "other": [r for r in results if r.get("status") != 200][:5]}

for line in sys.stdin:
    command = json.loads(line)
    if command["op"] == "get":
        answer = fetch(command["path"], session)
    elif command["op"] == "entries":
        entries = command["entries"]
        plugin_entry._conda_channel_settings = lambda: entries
        answer = {"entries": len(entries)}
    else:
        answer = burst(command["paths"], command["threads"], command["per_thread"])
    print(json.dumps(answer), flush=True)
"#;

/// A test home and emulator, with `anacondactl` reached through a wrapper that logs each call.
struct World {
    site: &'static PluginSite,
    home: TestHome,
    emu: EmulatorProcess,
    wrapper: PathBuf,
    calls_log: PathBuf,
}

impl World {
    fn new(site: &'static PluginSite) -> Self {
        Self::with_env(site, &[])
    }

    fn with_env(site: &'static PluginSite, env: &[(&str, &str)]) -> Self {
        let emu = spawn_emulator(&["--device-interval", "1"]);
        let mut home = TestHome::against(&emu);
        for (key, value) in env {
            home = home.with_env(key, value);
        }
        let wrapper = home.path().join("anacondactl-logged");
        let calls_log = home.path().join("anacondactl-calls.log");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
                calls_log.display(),
                bin("anacondactl").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self {
            site,
            home,
            emu,
            wrapper,
            calls_log,
        }
    }

    fn url(&self, path: &str) -> String {
        self.emu.url(path)
    }

    fn control(&self, path: &str, body: Value) -> Value {
        self.emu.post(path, body)
    }

    fn org_token(&self, org: &str) -> String {
        self.emu.org_token(org).expect("the org has a token")
    }

    /// How many requests the emulator has seen under `prefix`.
    fn requests_to(&self, prefix: &str) -> u64 {
        self.emu
            .get(&format!("/_emulator/counters?prefix={prefix}"))["total"]
            .as_u64()
            .unwrap()
    }

    fn ctl_ok(&self, args: &[&str]) {
        let out = self.home.run_ctl(args);
        assert!(
            out.status.success(),
            "anacondactl {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Logs in with an API key minted by the emulator for the demo user.
    fn login(&self) {
        self.home.login_with_api_key(&self.emu.mint_api_key());
    }

    fn login_and_install(&self, org: &str) {
        self.login();
        self.ctl_ok(&["token", "install", "--org", org, "--yes", "--no-condarc"]);
    }

    /// The header the daemon serves for `path`, as a digest (what the driver reports).
    fn served_digest(&self, path: &str) -> String {
        let out = self
            .home
            .run_ctl(&["--json", "credential", "get", &self.url(path)]);
        let answer = anacondad_tests::harness::json_output(&out);
        digest(answer["header_value"].as_str().unwrap())
    }

    /// How many times the plugin has run `anacondactl`.
    fn plugin_calls(&self) -> usize {
        std::fs::read_to_string(&self.calls_log)
            .map(|log| log.lines().count())
            .unwrap_or(0)
    }

    /// A Python process with the plugin installed, in this home's environment.
    fn python(&self, with_fake_conda: bool) -> Command {
        let mut path = self.site.lib.clone().into_os_string();
        if with_fake_conda {
            path.push(":");
            path.push(&self.site.fake_conda);
        }
        let mut command = Command::new(&self.site.python);
        command
            .env_clear()
            .envs(self.home.env())
            .env("PYTHONPATH", path)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("ANACONDACTL", &self.wrapper);
        command
    }

    fn driver(&self) -> Driver {
        let stderr = self.home.path().join("driver-stderr.log");
        let mut child = self
            .python(false)
            .args(["-c", DRIVER, &self.emu.base_url])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Driver {
            stdin: child.stdin.take().unwrap(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            child,
            stderr,
        }
    }
}

/// The Python driver of one test; killed on drop.
struct Driver {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: PathBuf,
}

impl Driver {
    fn ask(&mut self, command: Value) -> Value {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!(
                "the driver did not answer {command} ({e}: {line:?}); its stderr:\n{}",
                std::fs::read_to_string(&self.stderr).unwrap_or_default()
            )
        })
    }

    fn get(&mut self, path: &str) -> Value {
        self.ask(json!({"op": "get", "path": path}))
    }

    /// One `channel_settings` entry for every URL of `base` with our handler and `extra` keys.
    fn entry(&mut self, base: &str, extra: Value) {
        let mut entry = json!({"channel": format!("{base}/*"), "auth": "anacondad"});
        for (key, value) in extra.as_object().expect("keys") {
            entry[key] = value.clone();
        }
        self.ask(json!({"op": "entries", "entries": [entry]}));
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn digest(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// A plain 200 (no replay) sent with the header whose digest is `auth`.
fn assert_ok(answer: &Value, auth: &str) {
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(answer["history"], json!([]), "{answer}");
    assert_eq!(answer["auth"], auth, "{answer}");
}

/// The plugin's own error (not a stray exception), and its message.
fn plugin_error(answer: &Value) -> String {
    assert_eq!(answer["error"]["type"], "AnacondadAuthError", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap().to_owned();
    eprintln!("plugin error: {message}");
    message
}

const MAIN: &str = "/repo/main/noarch/repodata.json";
const MAIN_LINUX: &str = "/repo/main/linux-64/repodata.json";
const ACME: &str = "/repo/acme/internal/noarch/repodata.json";
const ACME_LINUX: &str = "/repo/acme/internal/linux-64/repodata.json";
const ACME_OTHER: &str = "/repo/acme/tools/noarch/repodata.json";

#[test]
fn conda_finds_the_anacondad_handler_through_the_entry_point() {
    let Some(site) = site_or_skip("conda_finds_the_anacondad_handler") else {
        return;
    };
    let world = World::new(site);
    let script = r#"
import json
from importlib.metadata import entry_points
from conda.exceptions import CondaError
from conda.plugins.types import ChannelAuthBase

found = [ep for ep in entry_points(group="conda") if ep.name == "anacondad"]
assert [ep.value for ep in found] == ["conda_anacondad.plugin"], found
plugin = found[0].load()
handlers = list(plugin.conda_auth_handlers())
assert [h.name for h in handlers] == ["anacondad"], handlers
handler = handlers[0].handler
assert issubclass(handler, ChannelAuthBase), handler.__mro__

# conda makes one handler per URL: making them runs nothing.
for i in range(1000):
    assert handler(f"channel-{i}").channel_name == f"channel-{i}"

from conda_anacondad import AnacondadAuthError
error = AnacondadAuthError("no credential for /repo/a%20b: run `anacondactl login`")
assert isinstance(error, CondaError)
print(json.dumps({"message": str(error)}))
"#;
    let out = world.python(true).args(["-c", script]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        answer["message"],
        "no credential for /repo/a%20b: run `anacondactl login`"
    );
    assert_eq!(
        world.plugin_calls(),
        0,
        "constructing handlers ran anacondactl"
    );
}

#[test]
fn plain_http_to_another_host_is_refused_and_path_token_urls_are_left_alone() {
    let Some(site) = site_or_skip("plain_http_to_another_host_is_refused") else {
        return;
    };
    let world = World::new(site);
    let script = r#"
import json, requests
from conda_anacondad import AnacondadAuth, AnacondadAuthError

def prepare(url):
    return requests.Request("GET", url).prepare()

out = {}
try:
    AnacondadAuth("x")(prepare("http://repo.example.com/repo/main/noarch/repodata.json"))
    out["http"] = "sent"
except AnacondadAuthError as e:
    out["http"] = str(e)
request = AnacondadAuth("x")(prepare("https://repo.example.com/t/abc/repo/main/noarch/repodata.json"))
out["path_token"] = request.headers.get("Authorization")
print(json.dumps(out))
"#;
    let out = world.python(false).args(["-c", script]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let http = answer["http"].as_str().unwrap();
    assert!(
        http.contains("refusing to send an Anaconda credential")
            && http.contains("http://repo.example.com/repo/main/noarch/repodata.json"),
        "{http}"
    );
    assert_eq!(answer["path_token"], Value::Null);
    assert_eq!(world.plugin_calls(), 0);
}

#[test]
fn the_default_and_an_org_channel_get_the_daemons_credential_with_one_lookup_per_channel() {
    let Some(site) = site_or_skip("the_default_and_an_org_channel_get_the_daemons_credential")
    else {
        return;
    };
    let world = World::new(site);
    world.login_and_install("acme");
    let main = world.served_digest(MAIN);
    let acme = world.served_digest(ACME);
    assert_eq!(main, digest(&format!("token {}", world.org_token("acme"))));

    let mut driver = world.driver();
    assert_ok(&driver.get(MAIN), &main);
    assert_eq!(world.plugin_calls(), 1);
    assert_ok(&driver.get(ACME), &acme);
    assert_eq!(world.plugin_calls(), 2);
    // Every other URL of the same channel comes from the cache: the daemon's answer names its
    // scope (`<repo>/main/`, `<repo>/acme/`), and the plugin asks nothing it covers.
    let package = format!(
        "/repo/main/noarch/{}",
        anacondad_tests::emulator::PACKAGE_FILENAME
    );
    assert_ok(&driver.get(&package), &main);
    assert_eq!(world.plugin_calls(), 2);
    assert_ok(&driver.get(MAIN_LINUX), &main);
    assert_ok(&driver.get(ACME_LINUX), &acme);
    assert_ok(&driver.get(ACME_OTHER), &acme);
    assert_eq!(world.plugin_calls(), 2);
    // The plugin asks about the request URL with a deadline, and only that goes on
    // anacondactl's command line.
    let log = std::fs::read_to_string(&world.calls_log).unwrap();
    let first_two: Vec<&str> = log.lines().take(2).collect();
    assert_eq!(
        first_two,
        [
            format!(
                "--json credential get {} --timeout-ms 5000",
                world.url(MAIN)
            ),
            format!(
                "--json credential get {} --timeout-ms 5000",
                world.url(ACME)
            ),
        ]
    );
}

#[test]
fn a_token_reissued_behind_the_plugins_back_is_replaced_on_401_and_the_request_replayed_once() {
    let Some(site) = site_or_skip("a_token_reissued_behind_the_plugins_back_is_replaced") else {
        return;
    };
    let world = World::new(site);
    world.login_and_install("acme");
    let mut driver = world.driver();
    let old = world.served_digest(ACME);
    assert_ok(&driver.get(ACME), &old);

    world.ctl_ok(&["token", "refresh", "--org", "acme", "--yes"]);
    let new = world.served_digest(ACME);
    assert_ne!(old, new, "the refresh did not reissue the token");
    assert_eq!(new, digest(&format!("token {}", world.org_token("acme"))));

    // The cached (now revoked) token is sent first (for another file of the directory it was
    // asked for), refused, and the request sent again once.
    let package = format!(
        "/repo/acme/internal/noarch/{}",
        anacondad_tests::emulator::PACKAGE_FILENAME
    );
    let answer = driver.get(&package);
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(answer["history"], json!([401]), "{answer}");
    assert_eq!(answer["auth"], new, "{answer}");
    assert_eq!(world.requests_to(&package), 2);
    assert_eq!(world.plugin_calls(), 2);

    // The fresh token is cached for that directory: no lookup and no replay there.
    assert_ok(&driver.get(ACME), &new);
    assert_eq!(world.requests_to(ACME), 2);
    assert_eq!(world.plugin_calls(), 2);
}

#[test]
fn when_the_daemon_has_no_newer_token_the_plugin_gives_up_with_advice_and_no_secret() {
    let Some(site) = site_or_skip("when_the_daemon_has_no_newer_token_the_plugin_gives_up") else {
        return;
    };
    let world = World::new(site);
    world.login_and_install("acme");
    // Without an API key the daemon has nothing else to offer.
    world.ctl_ok(&["logout"]);
    let stored = world.org_token("acme");
    let mut driver = world.driver();
    assert_ok(&driver.get(ACME), &world.served_digest(ACME));

    // Reissued at the service without the daemon knowing: its token is revoked.
    world.control("/_emulator/orgs/acme/token", json!({}));
    let current = world.org_token("acme");
    let message = plugin_error(&driver.get(ACME_LINUX));
    assert!(
        message.contains("HTTP 401")
            && message.contains("anacondactl token list")
            && !message.contains("token install"),
        "{message}"
    );
    // The daemon's own words, passed through, not a sentence of the plugin's.
    assert!(
        message.contains("the repository did not accept the credentials held for")
            && !message.contains("the repository refused the repo token"),
        "{message}"
    );
    assert!(
        !message.contains(&stored) && !message.contains(&current),
        "{message}"
    );
    // The cached answer for acme's scope (the revoked token), one lookup after the refusal,
    // and the request was not replayed with the same token.
    assert_eq!(world.plugin_calls(), 2);
    assert_eq!(world.requests_to(ACME_LINUX), 1);
}

#[test]
fn a_refused_token_falls_back_to_the_api_key_for_one_replay() {
    let Some(site) = site_or_skip("a_refused_token_falls_back_to_the_api_key") else {
        return;
    };
    let world = World::new(site);
    world.login_and_install("acme");
    let mut driver = world.driver();
    let token_digest = world.served_digest(ACME);
    assert_ok(&driver.get(ACME), &token_digest);

    // Revoked at the service without the daemon knowing; the daemon still has the API key.
    world.control("/_emulator/orgs/acme/token", json!({}));
    let answer = driver.get(ACME_LINUX);
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(answer["history"], json!([401]), "{answer}");
    assert_ne!(answer["auth"], token_digest, "{answer}");
    assert_eq!(world.requests_to(ACME_LINUX), 2);
    // The daemon recorded the refusal and learnt from the service that another token is
    // current.
    let list =
        anacondad_tests::harness::json_output(&world.home.run_ctl(&["--json", "token", "list"]));
    assert_eq!(list["tokens"][0]["state"], "replaced", "{list}");
}

#[test]
fn with_no_credential_stored_the_plugin_error_says_which_anacondactl_command_to_run() {
    let Some(site) = site_or_skip("with_no_credential_stored_the_plugin_error_says") else {
        return;
    };
    let world = World::new(site);
    let mut driver = world.driver();
    let message = plugin_error(&driver.get(MAIN));
    assert!(message.contains("anacondactl"), "{message}");
    assert!(message.contains(&world.url(MAIN)), "{message}");
    let message = plugin_error(&driver.get(ACME));
    assert!(message.contains("anacondactl"), "{message}");
    // Nothing reached the repository without a credential.
    assert_eq!(world.requests_to("/repo/"), 0);
}

#[test]
fn when_the_daemon_cannot_start_the_plugin_error_says_to_start_it() {
    let Some(site) = site_or_skip("when_the_daemon_cannot_start_the_plugin_error_says") else {
        return;
    };
    let world = World::with_env(site, &[("ANACONDAD_BIN", "/bin/false")]);
    let mut driver = world.driver();
    let message = plugin_error(&driver.get(MAIN));
    assert!(
        message.contains("not running") && message.contains("anacondactl daemon start"),
        "{message}"
    );
    assert_eq!(world.requests_to("/repo/"), 0);
}

#[test]
fn without_anacondactl_the_plugin_error_says_how_to_point_at_it() {
    let Some(site) = site_or_skip("without_anacondactl_the_plugin_error_says") else {
        return;
    };
    let world = World::new(site);
    let script = r#"
import requests
from conda_anacondad import AnacondadAuth, AnacondadAuthError
try:
    requests.Request("GET", "https://repo.example.com/repo/main/noarch/repodata.json",
                     auth=AnacondadAuth("x")).prepare()
except AnacondadAuthError as e:
    print(e)
"#;
    let out = world
        .python(false)
        .env_remove("ANACONDACTL")
        .env("PATH", "/nonexistent")
        .args(["-c", script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("anacondactl was not found on PATH") && stdout.contains("ANACONDACTL"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sixteen_threads_of_twenty_requests_all_succeed_with_one_lookup_per_channel() {
    let Some(site) = site_or_skip("sixteen_threads_of_twenty_requests_all_succeed") else {
        return;
    };
    let world = World::new(site);
    world.login_and_install("acme");
    let mut driver = world.driver();
    let answer = driver.ask(json!({
        "op": "burst",
        "paths": [MAIN, ACME, MAIN_LINUX, ACME_LINUX, ACME_OTHER],
        "threads": 16,
        "per_thread": 20,
    }));
    assert_eq!(answer["total"], 320, "{answer}");
    assert_eq!(answer["ok"], 320, "{answer}");
    // Threads that miss the cache together wait for one lookup per channel scope.
    assert_eq!(world.plugin_calls(), 2);
    assert_eq!(world.requests_to("/repo/"), 320);
}

#[test]
fn cached_answers_expire_with_the_credential_or_after_a_minute_and_a_hung_anacondactl_times_out() {
    let Some(site) = site_or_skip("cached_answers_expire_with_the_credential") else {
        return;
    };
    let world = World::new(site);
    // A stand-in anacondactl: logs its call, answers with the JSON in $FAKE_ANSWER, or hangs.
    let fake = world.home.path().join("fake-anacondactl");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\n\
             if [ \"$(cat \"$FAKE_ANSWER\")\" = hang ]; then exec sleep 30; fi\n\
             cat \"$FAKE_ANSWER\"\n",
            world.calls_log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = r#"
import json, os, time, types
import requests
import conda_anacondad.cache as cache
from conda_anacondad import AnacondadAuth, AnacondadAuthError

clock = [1000.0]
cache.time = types.SimpleNamespace(monotonic=lambda: clock[0], time=time.time)

def rfc_3339(unix):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix))

def answer(expires_at, header="token t1", scope=None):
    with open(os.environ["FAKE_ANSWER"], "w") as f:
        f.write(json.dumps({"found": True, "header_value": header, "kind": "repo_token",
                            "org": "acme", "expires_at": rfc_3339(expires_at), "scope": scope})
                if expires_at is not None else "hang")

def header(path):
    request = requests.Request("GET", "https://repo.example.com/repo/" + path).prepare()
    return AnacondadAuth("x")(request).headers["Authorization"]

def failure(path):
    try:
        header(path)
        return "answered"
    except AnacondadAuthError as e:
        return str(e)

calls = lambda: len(open(os.environ["CALLS_LOG"]).read().splitlines())
out = {}
repo = "https://repo.example.com/repo/"

# An answer covers the scope the daemon names, for a minute at most.
answer(int(time.time()) + 3600, scope=repo + "acme/")
header("acme/a/noarch/repodata.json")
clock[0] += 59
header("acme/b/noarch/repodata.json")
out["within_a_minute"] = calls()
clock[0] += 2
answer(int(time.time()) + 3600, "token t2", scope=repo + "acme/")
out["after_a_minute"] = [header("acme/c/noarch/repodata.json"), calls()]

answer(int(time.time()) + 10, "token t3", scope=repo + "org2/")
header("org2/a/noarch/repodata.json")
clock[0] += 11
answer(int(time.time()) + 3600, "token t4", scope=repo + "org2/")
out["after_expiry"] = [header("org2/b/noarch/repodata.json"), calls()]

answer(int(time.time()) - 5, "token t5", scope=repo + "org3/")
header("org3/a/noarch/repodata.json")
header("org3/b/noarch/repodata.json")
out["already_expired"] = calls()

# Without a scope an answer covers its URL's directory; a scope that does not cover the URL
# asked about is not believed.
answer(int(time.time()) + 3600, "token t6")
header("org5/a/noarch/repodata.json")
header("org5/a/noarch/other.json")
out["no_scope_same_directory"] = calls()
header("org5/a/linux-64/repodata.json")
out["no_scope_other_directory"] = calls()
answer(int(time.time()) + 3600, "token t7", scope="https://elsewhere.example.com/")
header("org6/a/noarch/repodata.json")
out["foreign_scope"] = [header("org6/b/noarch/repodata.json"), calls()]
# The longest scope that covers a URL serves it.
answer(int(time.time()) + 3600, "token t8", scope=repo + "org7/x/")
header("org7/x/noarch/repodata.json")
out["longest_scope"] = [header("org7/x/linux-64/repodata.json"), header("acme/d/r.json")]

answer(None)
started = time.time()
out["hang"] = failure("org4/a/noarch/repodata.json")
out["hang_seconds"] = time.time() - started
calls_after_hang = calls()
# The failure is remembered: other URLs fail at once with the same words, no new lookup.
started = time.time()
out["remembered"] = [failure("org9/a/noarch/repodata.json") == out["hang"],
                     calls() - calls_after_hang, time.time() - started]
clock[0] += 11
answer(int(time.time()) + 3600, "token t9", scope=repo)
out["after_memory"] = [header("org9/a/noarch/repodata.json"), calls() - calls_after_hang]
print(json.dumps(out))
"#;
    let out = world
        .python(false)
        .env("ANACONDACTL", &fake)
        .env("FAKE_ANSWER", world.home.path().join("fake-answer.json"))
        .env("CALLS_LOG", &world.calls_log)
        .env("CONDA_ANACONDAD_TIMEOUT", "1")
        .args(["-c", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["within_a_minute"], 1, "{answer}");
    assert_eq!(answer["after_a_minute"], json!(["token t2", 2]), "{answer}");
    assert_eq!(answer["after_expiry"], json!(["token t4", 4]), "{answer}");
    assert_eq!(answer["already_expired"], 6, "{answer}");
    assert_eq!(answer["no_scope_same_directory"], 7, "{answer}");
    assert_eq!(answer["no_scope_other_directory"], 8, "{answer}");
    assert_eq!(answer["foreign_scope"], json!(["token t7", 10]), "{answer}");
    assert_eq!(
        answer["longest_scope"],
        json!(["token t8", "token t2"]),
        "{answer}"
    );
    let hang = answer["hang"].as_str().unwrap();
    assert!(
        hang.contains("unreachable")
            && hang.contains("did not answer within 1 s")
            && hang.contains("anacondactl daemon status"),
        "{hang}"
    );
    // The plugin waits its own deadline plus a grace period for anacondactl, no more.
    let hang_seconds = answer["hang_seconds"].as_f64().unwrap();
    assert!((1.0..5.0).contains(&hang_seconds), "{answer}");
    assert_eq!(answer["remembered"][0], true, "{answer}");
    assert_eq!(answer["remembered"][1], 0, "{answer}");
    assert!(answer["remembered"][2].as_f64().unwrap() < 0.5, "{answer}");
    assert_eq!(answer["after_memory"], json!(["token t9", 1]), "{answer}");
}

#[test]
fn an_entrys_credential_type_picks_the_first_credential_and_is_part_of_the_cache_key() {
    let Some(site) = site_or_skip("an_entrys_credential_type_picks_the_first_credential") else {
        return;
    };
    let world = World::new(site);
    let key = world.emu.mint_api_key();
    world.home.login_with_api_key(&key);
    world.ctl_ok(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]);
    let bearer = digest(&format!("Bearer {key}"));
    let token = digest(&format!("token {}", world.org_token("acme")));
    let base = world.emu.base_url.clone();
    let mut driver = world.driver();

    driver.entry(&base, json!({"credential_type": "api-key"}));
    assert_ok(&driver.get(ACME), &bearer);
    assert_ok(&driver.get(ACME_LINUX), &bearer);
    assert_eq!(world.plugin_calls(), 1);
    // Another entry's settings are another answer, asked for once.
    driver.entry(&base, json!({"credential_type": "repo-token"}));
    assert_ok(&driver.get(ACME_LINUX), &token);
    driver.entry(&base, json!({}));
    assert_ok(&driver.get(ACME_LINUX), &token);
    assert_eq!(world.plugin_calls(), 3);
    driver.entry(&base, json!({"credential_type": "api-key"}));
    assert_ok(&driver.get(ACME_OTHER), &bearer);
    assert_eq!(world.plugin_calls(), 3);
    let log = std::fs::read_to_string(&world.calls_log).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines,
        [
            format!(
                "--json credential get {} --timeout-ms 5000 --credential-type api-key",
                world.url(ACME)
            ),
            format!(
                "--json credential get {} --timeout-ms 5000 --credential-type repo-token",
                world.url(ACME_LINUX)
            ),
            format!(
                "--json credential get {} --timeout-ms 5000",
                world.url(ACME_LINUX)
            ),
        ]
    );
}

#[test]
fn a_bad_credential_type_names_the_entry_and_a_foreign_auth_domain_names_sites_list() {
    let Some(site) = site_or_skip("a_bad_credential_type_names_the_entry") else {
        return;
    };
    let world = World::new(site);
    world.login_and_install("acme");
    let base = world.emu.base_url.clone();
    let mut driver = world.driver();

    driver.entry(&base, json!({"credential_type": "api_key"}));
    let message = plugin_error(&driver.get(ACME));
    assert!(
        message.contains(&format!("channel_settings entry for '{base}/*'"))
            && message.contains("'api_key'")
            && message.contains("api-key or repo-token"),
        "{message}"
    );
    // Refused before the daemon is asked, and nothing went to the repository.
    assert_eq!(world.plugin_calls(), 0);
    assert_eq!(world.requests_to("/repo/"), 0);

    driver.entry(&base, json!({"auth_domain": "anaconda.example.com"}));
    let message = plugin_error(&driver.get(ACME));
    assert!(
        message.contains("anaconda.example.com") && message.contains("anacondactl sites list"),
        "{message}"
    );
    // The served site's own domain (`host:port`, as the store keys it) answers as if the
    // entry named none.
    let (_, domain) = base.split_once("://").expect("a URL");
    driver.entry(&base, json!({"auth_domain": domain}));
    assert_ok(
        &driver.get(ACME),
        &digest(&format!("token {}", world.org_token("acme"))),
    );
}

#[test]
fn a_refused_api_key_an_entry_asked_for_is_replaced_by_the_token_and_the_next_process_sends_it_first()
 {
    let Some(site) = site_or_skip("a_refused_api_key_an_entry_asked_for_is_replaced") else {
        return;
    };
    let world = World::new(site);
    let key = world.emu.mint_api_key();
    world.home.login_with_api_key(&key);
    world.ctl_ok(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]);
    let token = digest(&format!("token {}", world.org_token("acme")));
    let base = world.emu.base_url.clone();
    world.control("/_emulator/expire", json!({"api_key": key}));

    let mut driver = world.driver();
    driver.entry(&base, json!({"credential_type": "api-key"}));
    let answer = driver.get(ACME);
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(answer["history"], json!([401]), "{answer}");
    assert_eq!(answer["auth"], token, "{answer}");
    // The refusal went to the daemon with the entry's settings.
    let log = std::fs::read_to_string(&world.calls_log).unwrap();
    let rejected = log.lines().nth(1).unwrap_or_default().to_owned();
    assert!(
        rejected.starts_with(&format!("--json credential rejected {}", world.url(ACME)))
            && rejected.ends_with("--credential-type api-key"),
        "{log}"
    );
    drop(driver);

    // Another process through the same entry: the daemon remembered the refusal for acme's
    // channels, so the token goes first and nothing is refused.
    let mut driver = world.driver();
    driver.entry(&base, json!({"credential_type": "api-key"}));
    assert_ok(&driver.get(ACME_LINUX), &token);
}

#[test]
fn after_a_refusal_the_plugin_reports_the_kind_the_daemon_named_and_passes_its_reason_on() {
    let Some(site) = site_or_skip("after_a_refusal_the_plugin_reports_the_kind") else {
        return;
    };
    let world = World::new(site);
    // A stand-in anacondactl: logs its call; answers a lookup with a repo token whose header
    // starts like an API key's, and a refusal with the daemon's JSON error.
    let fake = world.home.path().join("fake-anacondactl");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\n\
             case \"$*\" in\n\
             *rejected*) echo '{{\"error\": \"the daemon says: nothing else for acme\", \
             \"reason\": \"rejected\", \"exit_code\": 1}}'; exit 1 ;;\n\
             *) echo '{{\"found\": true, \"header_value\": \"Bearer not-a-key\", \
             \"kind\": \"repo_token\", \"org\": \"acme\", \"expires_at\": null, \
             \"scope\": null}}' ;;\n\
             esac\n",
            world.calls_log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = r#"
import requests
from conda_anacondad import AnacondadAuth, AnacondadAuthError

auth = AnacondadAuth("x")
request = auth(requests.Request("GET", "https://repo.example.com/repo/acme/a/noarch/repodata.json").prepare())
response = requests.Response()
response.status_code = 401
response.request = request
try:
    auth._on_response(response)
    print("replayed")
except AnacondadAuthError as e:
    print(e)
    print(e.refused_status)
"#;
    let out = world
        .python(false)
        .env("ANACONDACTL", &fake)
        .args(["-c", script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("the daemon says: nothing else for acme"),
        "the daemon's message is passed on: {stdout}"
    );
    assert!(
        stdout.contains("\n401\n"),
        "the error carries the status: {stdout}"
    );
    let calls = std::fs::read_to_string(&world.calls_log).unwrap();
    assert!(
        calls.contains("credential rejected") && calls.contains("--kind repo_token"),
        "the refused credential is reported as the kind the daemon named: {calls}"
    );
}

#[test]
fn conda_doctors_check_shows_what_anacondactl_doctor_found_and_its_error_in_its_words() {
    let Some(site) = site_or_skip("conda_doctors_check_shows_what_anacondactl_doctor_found") else {
        return;
    };
    let world = World::new(site);
    let script = r#"
from conda_anacondad.health import health_check
health_check("", False)
"#;
    // Not logged in: doctor has failing checks (and exits 9), and the check shows them.
    let out = world.python(false).args(["-c", script]).output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        shown.contains('\u{274c}') && shown.contains("fix: "),
        "{shown}"
    );
    assert!(
        !shown.contains('\u{2705}'),
        "ok checks only with --verbose: {shown}"
    );
    assert!(shown.contains("failure(s)"), "{shown}");

    // anacondactl's JSON error is shown by its message, not as JSON.
    let fake = world.home.path().join("failing-anacondactl");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho '{\"error\": \"the daemon said no\", \"reason\": \"failed\", \
         \"exit_code\": 1}'\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = world
        .python(false)
        .env("ANACONDACTL", &fake)
        .args(["-c", script])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("the daemon said no"), "{shown}");
    assert!(!shown.contains("\"reason\""), "{shown}");
}
