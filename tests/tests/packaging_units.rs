//! The files in `packaging/`, checked by the tools that will read them: `systemd-analyze` for the
//! user units, the socket unit's activation emulated with `systemd-socket-activate` over the real
//! daemon, plistlib for the launchd agent, `dpkg-deb` for the .deb script and a YAML parser for
//! the conda recipe.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anacondad_tests::harness::{KillOnDrop, TestHome, bin, bin_dir, json_output, kill};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

fn packaging(relative: &str) -> PathBuf {
    repo_root().join("packaging").join(relative)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn stdout_and_stderr(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every value of `key` in `[section]` of a systemd unit file, in order.
fn unit_values(unit: &str, section: &str, key: &str) -> Vec<String> {
    let mut current = String::new();
    let mut values = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_owned();
        } else if current == section
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            values.push(v.trim().to_owned());
        }
    }
    values
}

/// The single value of `key` in `[section]`.
fn unit_value(unit: &str, section: &str, key: &str) -> String {
    let values = unit_values(unit, section, key);
    assert_eq!(
        values.len(),
        1,
        "expected one {key}= in [{section}], found {values:?}"
    );
    values.into_iter().next().unwrap_or_default()
}

/// The service's `ExecStart=` split into the program path and its arguments.
fn exec_start(service: &str) -> (PathBuf, Vec<String>) {
    let line = unit_value(service, "Service", "ExecStart");
    assert!(
        !line.starts_with(['-', '@', '+', '!', ':']) && !line.contains(['"', '\'', '$', '%']),
        "the test runs ExecStart as plain words; teach it this syntax: {line}"
    );
    let mut words = line.split_whitespace().map(str::to_owned);
    let program = PathBuf::from(words.next().expect("ExecStart names a program"));
    (program, words.collect())
}

/// The workspace binary that an installed path (e.g. `/usr/bin/anacondad`) stands for.
fn built(installed: &Path) -> PathBuf {
    bin(&installed
        .file_name()
        .expect("a program path has a file name")
        .to_string_lossy())
}

/// A systemd time span as the units write it (`15s`, `2min`, `90`).
fn time_span(value: &str) -> Duration {
    let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
    let n: u64 = digits
        .parse()
        .unwrap_or_else(|_| panic!("not a time span: {value}"));
    match &value[digits.len()..] {
        "" | "s" | "sec" => Duration::from_secs(n),
        "min" | "m" => Duration::from_secs(n * 60),
        other => panic!("the test does not know the time unit {other:?} in {value}"),
    }
}

fn octal_mode(value: &str) -> u32 {
    u32::from_str_radix(value, 8).unwrap_or_else(|_| panic!("not an octal mode: {value}"))
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// Waits for `child` to exit, at most `timeout`; kills it and fails past that.
fn wait_exit(mut child: std::process::Child, timeout: Duration) -> ExitStatus {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(timeout) {
        Ok(status) => status.expect("waiting for the child"),
        Err(_) => {
            kill(pid, "KILL");
            panic!("pid {pid} did not exit within {timeout:?}")
        }
    }
}

/// Copies the units into `dir` under their own names, with the service's program path pointed
/// at the built binary: `systemd-analyze verify` checks that the program exists, and nothing is
/// installed in /usr/bin here. Everything else is the unit as shipped.
fn units_for_verify(dir: &Path) -> Vec<PathBuf> {
    let service = read(&packaging("systemd/anacondad.service"));
    let (program, _) = exec_start(&service);
    let service = service.replace(
        &format!("ExecStart={}", program.display()),
        &format!("ExecStart={}", built(&program).display()),
    );
    let socket_path = dir.join("anacondad.socket");
    let service_path = dir.join("anacondad.service");
    std::fs::copy(packaging("systemd/anacondad.socket"), &socket_path).unwrap();
    std::fs::write(&service_path, service).unwrap();
    vec![socket_path, service_path]
}

/// Runs `systemd-analyze verify --user` on `units` (a user manager's view, without a running
/// systemd: it only needs an XDG_RUNTIME_DIR) and returns every line it printed about them.
fn verify_complaints(units: &[PathBuf], runtime_dir: &Path) -> Vec<String> {
    let output = Command::new("systemd-analyze")
        .args(["verify", "--user", "--man=no", "--generators=no"])
        .args(units)
        .env("XDG_RUNTIME_DIR", runtime_dir)
        .output()
        .expect("systemd-analyze (package systemd) is installed");
    let text = stdout_and_stderr(&output);
    let dir = units[0].parent().unwrap().display().to_string();
    let ours: Vec<String> = text
        .lines()
        .filter(|l| l.contains("anacondad") || l.contains(&dir))
        .map(str::to_owned)
        .collect();
    assert!(
        output.status.success() || !ours.is_empty(),
        "systemd-analyze verify failed: {text}"
    );
    if ours.is_empty() && !text.trim().is_empty() {
        eprintln!("systemd-analyze said, about other units:\n{text}");
    }
    ours
}

fn private_dir(path: &Path) -> PathBuf {
    std::fs::create_dir(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
    path.to_path_buf()
}

#[test]
fn systemd_analyze_verify_has_nothing_to_say_about_the_user_units() {
    let scratch = tempfile::tempdir().unwrap();
    let runtime = private_dir(&scratch.path().join("run"));
    let units = units_for_verify(&private_dir(&scratch.path().join("units")));
    let complaints = verify_complaints(&units, &runtime);
    assert!(complaints.is_empty(), "{}", complaints.join("\n"));

    // The same check sees a mistake, so silence above means the units are clean.
    let broken = units_for_verify(&private_dir(&scratch.path().join("broken")));
    let socket = read(&broken[0]).replace("SocketMode=0600", "SocketMode=0600\nListenStreem=x");
    std::fs::write(&broken[0], socket).unwrap();
    let complaints = verify_complaints(&broken, &runtime);
    assert!(
        complaints.iter().any(|l| l.contains("ListenStreem")),
        "a misspelt key went unnoticed: {complaints:?}"
    );
}

#[test]
fn the_service_restarts_after_failures_only_and_keeps_user_resources_reachable() {
    let service = read(&packaging("systemd/anacondad.service"));
    assert_eq!(unit_value(&service, "Service", "Type"), "notify");
    assert_eq!(unit_value(&service, "Service", "Restart"), "on-failure");
    let prevent = unit_value(&service, "Service", "RestartPreventExitStatus");
    assert!(
        prevent.split_whitespace().any(|code| code == "3"),
        "exit 3 (already running) must not restart: {prevent}"
    );
    assert_eq!(unit_value(&service, "Service", "NoNewPrivileges"), "yes");
    // These need a mount namespace, which hides ~/.condarc, ~/.anaconda or /tmp from the
    // daemon, or fails the start where unprivileged user namespaces are off.
    for key in [
        "PrivateTmp",
        "ProtectHome",
        "ProtectSystem",
        "PrivateUsers",
        "PrivateNetwork",
    ] {
        assert!(
            unit_values(&service, "Service", key).is_empty(),
            "{key}= would break a user service's access to the user's files or bus"
        );
    }
    let families = unit_value(&service, "Service", "RestrictAddressFamilies");
    assert!(
        families.contains("AF_UNIX"),
        "the socket and the session D-Bus are AF_UNIX: {families}"
    );
    assert_eq!(unit_value(&service, "Unit", "Requires"), "anacondad.socket");
}

#[test]
fn the_socket_unit_activates_the_daemon_as_the_service_starts_it() {
    let socket_unit = read(&packaging("systemd/anacondad.socket"));
    let service_unit = read(&packaging("systemd/anacondad.service"));
    let home = TestHome::new();

    // What systemd does for the socket unit: %t is the user's runtime directory (0700 already,
    // as /run/user/<uid> is); missing parents get DirectoryMode, the socket gets SocketMode.
    let listen = unit_value(&socket_unit, "Socket", "ListenStream");
    let relative = listen
        .strip_prefix("%t/")
        .unwrap_or_else(|| panic!("the socket lives in the runtime directory: {listen}"));
    let socket = home.runtime_dir().join(relative);
    assert_eq!(
        socket,
        home.socket(),
        "the unit's socket is the one anacondactl finds by default"
    );
    let dir = socket.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(
        dir,
        std::fs::Permissions::from_mode(octal_mode(&unit_value(
            &socket_unit,
            "Socket",
            "DirectoryMode",
        ))),
    )
    .unwrap();

    let notify = home.path().join("notify.sock");
    let readiness = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
    readiness
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    // What systemd does for the service: run ExecStart with the socket as fd 3, the user
    // manager's environment and NOTIFY_SOCKET.
    let (program, args) = exec_start(&service_unit);
    assert!(
        args.iter().any(|a| a == "--foreground"),
        "the service runs the daemon in the foreground: {args:?}"
    );
    let mut activate = Command::new("systemd-socket-activate");
    activate.arg("--listen").arg(&socket);
    for (key, _) in home.env() {
        let mut setenv = OsString::from("--setenv=");
        setenv.push(&key);
        activate.arg(setenv);
    }
    activate
        .arg(format!("--setenv=NOTIFY_SOCKET={}", notify.display()))
        .arg(built(&program))
        .args(&args)
        .env_clear()
        .envs(home.env())
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    let mut activator = activate
        .spawn()
        .expect("systemd-socket-activate (package systemd) is installed");
    let _guard = KillOnDrop(activator.id());
    let mut stderr = std::io::BufReader::new(activator.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
    assert!(line.contains("Listening"), "{line}");
    let socket_mode = octal_mode(&unit_value(&socket_unit, "Socket", "SocketMode"));
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(socket_mode)).unwrap();
    // Keep draining the daemon's log so it never blocks on a full pipe.
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });

    let status = json_output(
        &home
            .ctl()
            .arg("--socket")
            .arg(&socket)
            .args(["--json", "daemon", "status"])
            .output()
            .unwrap(),
    );
    assert_eq!(status["socket"], socket.display().to_string());
    assert_eq!(
        status["pid"],
        activator.id(),
        "the daemon answers on the socket systemd passed"
    );
    let mut buf = [0u8; 256];
    let n = readiness.recv(&mut buf).expect("a readiness message");
    let message = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(message.contains("READY=1"), "{message}");
    assert_eq!(mode(&socket), 0o600);
    assert_eq!(mode(dir), 0o700);

    // A second daemon on the same socket exits with a code the unit does not restart on.
    let second = home
        .daemon_command()
        .args(&args)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let code = second.status.code().expect("an exit code").to_string();
    assert_eq!(code, "3", "{}", String::from_utf8_lossy(&second.stderr));
    assert!(
        unit_value(&service_unit, "Service", "RestartPreventExitStatus")
            .split_whitespace()
            .any(|c| c == code)
    );
    // Its lock holds a pid that is gone; the home must not act on it when it is dropped.
    std::fs::remove_file(anacondad_proto::socket::lock_path(&socket)).unwrap();

    // systemctl stop: SIGTERM, a clean exit well within TimeoutStopSec, and the socket, which
    // belongs to the socket unit, stays for the next activation.
    kill(activator.id(), "TERM");
    let timeout = time_span(&unit_value(&service_unit, "Service", "TimeoutStopSec"));
    let exit = wait_exit(activator, timeout);
    let log = log.join().unwrap();
    assert!(
        exit.success(),
        "a stop is not a failure (Restart=on-failure): {exit}\n{log}"
    );
    assert!(
        socket.exists(),
        "the daemon left systemd's socket alone:\n{log}"
    );
}

/// A plist file as JSON, through python3's plistlib (what macOS's own tools accept).
fn plist_as_json(xml: &[u8]) -> serde_json::Value {
    let mut python = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import json, plistlib, sys; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 runs");
    std::io::Write::write_all(&mut python.stdin.take().unwrap(), xml).unwrap();
    json_output(&python.wait_with_output().unwrap())
}

fn launchd_install(home: &Path, anacondad: &Path, args: &[&str]) -> Output {
    Command::new(packaging("launchd/install.sh"))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("ANACONDAD", anacondad)
        .output()
        .expect("install.sh runs")
}

#[test]
fn the_launch_agent_runs_the_daemon_in_the_foreground_and_restarts_it_after_failures() {
    let template =
        plist_as_json(&std::fs::read(packaging("launchd/com.anaconda.anacondad.plist")).unwrap());
    assert_eq!(template["Label"], "com.anaconda.anacondad");

    let home = tempfile::tempdir().unwrap();
    let anacondad = bin("anacondad");
    let printed = launchd_install(home.path(), &anacondad, &["--print"]);
    assert!(
        printed.status.success(),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    let agent = plist_as_json(&printed.stdout);
    let (_, service_args) = exec_start(&read(&packaging("systemd/anacondad.service")));
    let mut expected = vec![anacondad.display().to_string()];
    expected.extend(service_args);
    assert_eq!(
        agent["ProgramArguments"],
        serde_json::json!(expected),
        "the agent runs the daemon as the systemd service does"
    );
    assert_eq!(agent["Label"], "com.anaconda.anacondad");
    assert_eq!(agent["RunAtLoad"], true);
    assert_eq!(
        agent["KeepAlive"],
        serde_json::json!({"SuccessfulExit": false}),
        "restarted after a failure, not after `anacondactl daemon stop`"
    );
    let log = home.path().join("Library/Logs/anacondad.log");
    assert_eq!(agent["StandardOutPath"], log.display().to_string());
    assert_eq!(agent["StandardErrorPath"], log.display().to_string());
    assert!(
        !String::from_utf8_lossy(&printed.stdout).contains('@'),
        "every placeholder is filled in"
    );

    let missing = launchd_install(home.path(), &home.path().join("nowhere"), &["--print"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("ANACONDAD=/path/to/anacondad"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

#[test]
fn the_deb_script_packages_both_binaries_the_user_units_the_manual_pages_and_completions() {
    let out = tempfile::tempdir().unwrap();
    let built = Command::new(packaging("deb/build-deb.sh"))
        .arg("--bin-dir")
        .arg(bin_dir())
        .arg("--out-dir")
        .arg(out.path())
        .arg("--fast")
        .env(
            "DEB_MAINTAINER",
            "Packaging Test <packaging-test@example.org>",
        )
        .output()
        .expect("build-deb.sh runs");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let deb = PathBuf::from(String::from_utf8_lossy(&built.stdout).trim());
    assert!(deb.starts_with(out.path()), "{}", deb.display());

    let contents = Command::new("dpkg-deb")
        .arg("--contents")
        .arg(&deb)
        .output()
        .expect("dpkg-deb runs");
    assert!(contents.status.success());
    let listing = String::from_utf8_lossy(&contents.stdout);
    for (path, mode) in [
        ("./usr/bin/anacondad", "-rwxr-xr-x"),
        ("./usr/bin/anacondactl", "-rwxr-xr-x"),
        ("./usr/lib/systemd/user/anacondad.socket", "-rw-r--r--"),
        ("./usr/lib/systemd/user/anacondad.service", "-rw-r--r--"),
        ("./usr/share/man/man1/anacondactl.1.gz", "-rw-r--r--"),
        (
            "./usr/share/man/man1/anacondactl-service-install.1.gz",
            "-rw-r--r--",
        ),
        (
            "./usr/share/bash-completion/completions/anacondactl",
            "-rw-r--r--",
        ),
        (
            "./usr/share/zsh/vendor-completions/_anacondactl",
            "-rw-r--r--",
        ),
        (
            "./usr/share/fish/vendor_completions.d/anacondactl.fish",
            "-rw-r--r--",
        ),
    ] {
        assert!(
            listing
                .lines()
                .any(|l| l.starts_with(mode) && l.ends_with(path)),
            "{path} ({mode}) is not in the package:\n{listing}"
        );
    }

    let fields = Command::new("dpkg-deb")
        .arg("--field")
        .arg(&deb)
        .args(["Package", "Version", "Depends"])
        .output()
        .unwrap();
    let fields = String::from_utf8_lossy(&fields.stdout);
    assert!(fields.contains("Package: anacondad"), "{fields}");
    assert!(
        fields.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))),
        "{fields}"
    );
    assert!(fields.contains("libc6"), "{fields}");
}

#[test]
fn the_conda_recipe_builds_both_binaries_and_its_tests_pass_on_them() {
    let recipe_path = packaging("conda-recipe/recipe.yaml");
    let recipe: serde_yaml::Value = serde_yaml::from_str(&read(&recipe_path))
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", recipe_path.display()));
    assert_eq!(
        recipe["context"]["version"].as_str(),
        Some(env!("CARGO_PKG_VERSION")),
        "the recipe follows the workspace version"
    );
    let binaries = recipe_output(&recipe, "anacondad-bin");

    // Each install line, on Unix and on Windows, builds a binary from a workspace package
    // that declares it.
    let source = recipe_source(&recipe_path, &recipe);
    let script = platform_lines(&binaries["build"]["script"], "then");
    let windows = platform_lines(&binaries["build"]["script"], "else");
    for (lines, root) in [
        (&script, "--root \"$PREFIX\""),
        (&windows, "--root \"%LIBRARY_PREFIX%\""),
    ] {
        for binary in ["anacondad", "anacondactl"] {
            let line = lines
                .iter()
                .find(|l| l.ends_with(&format!("--bin {binary}")))
                .unwrap_or_else(|| panic!("nothing installs {binary}: {lines:?}"));
            assert!(line.contains(root), "{line}");
            let package = line
                .split_once("--path ")
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .unwrap_or_else(|| panic!("no --path in {line}"));
            let manifest = read(&source.join(package).join("Cargo.toml"));
            assert!(
                manifest.contains(&format!("name = \"{binary}\"")),
                "{package}/Cargo.toml has no binary {binary}"
            );
        }
    }

    // The rest of the build script, run as rattler-build would, on a prefix whose bin/ holds
    // the built binaries (what the two `cargo install` lines put there).
    let prefix = tempfile::tempdir().unwrap();
    std::fs::create_dir(prefix.path().join("bin")).unwrap();
    for binary in ["anacondad", "anacondactl"] {
        std::os::unix::fs::symlink(bin(binary), prefix.path().join("bin").join(binary)).unwrap();
    }
    let path = format!(
        "{}:{}",
        prefix.path().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for line in script.iter().filter(|l| !l.starts_with("cargo install")) {
        let run = Command::new("bash")
            .args(["-euc", line])
            .env("PREFIX", prefix.path())
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "build step `{line}` failed: {}",
            stdout_and_stderr(&run)
        );
    }

    // The recipe's test commands, on that prefix.
    let commands = platform_lines(&binaries["tests"][0]["script"], "then");
    let windows_tests = platform_lines(&binaries["tests"][0]["script"], "else");
    assert!(
        windows_tests.contains(&"anacondad --version"),
        "{windows_tests:?}"
    );
    assert!(commands.contains(&"anacondad --version"), "{commands:?}");
    assert!(commands.contains(&"anacondactl --help"), "{commands:?}");
    assert!(
        commands.iter().any(|c| c.contains("man1/anacondactl.1")),
        "the package's manual page is tested: {commands:?}"
    );
    for command in commands {
        let run = Command::new("sh")
            .args(["-c", command])
            .env("PREFIX", prefix.path())
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "`{command}` failed: {}",
            stdout_and_stderr(&run)
        );
    }
}

/// The recipe's output named `name`.
fn recipe_output<'a>(recipe: &'a serde_yaml::Value, name: &str) -> &'a serde_yaml::Value {
    recipe["outputs"]
        .as_sequence()
        .expect("the recipe has outputs")
        .iter()
        .find(|o| o["package"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("the recipe has no output {name}"))
}

/// The workspace root the recipe builds from.
fn recipe_source(recipe_path: &Path, recipe: &serde_yaml::Value) -> PathBuf {
    recipe_path
        .parent()
        .unwrap()
        .join(recipe["source"]["path"].as_str().expect("a path source"))
}

/// The lines of a script that is one `if: unix` selector: its `then` (Unix) or `else`
/// (Windows) branch.
fn platform_lines<'a>(script: &'a serde_yaml::Value, branch: &str) -> Vec<&'a str> {
    let items = script.as_sequence().expect("a script");
    let selector = items
        .iter()
        .find(|item| item["if"].as_str() == Some("unix"))
        .unwrap_or_else(|| panic!("no `if: unix` selector in {script:?}"));
    selector[branch]
        .as_sequence()
        .unwrap_or_else(|| panic!("no {branch} branch in {selector:?}"))
        .iter()
        .filter_map(|line| line.as_str())
        .collect()
}

/// The conda packages hold what the wheel holds: the plugin output installs the directory
/// whose package the wheel carries (pyproject.toml's python-source and module-name), is
/// noarch and pinned to the exact binaries, and tests the import; the wheel's binaries are
/// the main.rs files of the packages the binaries output installs.
#[test]
fn the_conda_recipes_outputs_hold_what_the_wheel_holds() {
    let recipe_path = packaging("conda-recipe/recipe.yaml");
    let recipe: serde_yaml::Value = serde_yaml::from_str(&read(&recipe_path)).unwrap();
    let source = recipe_source(&recipe_path, &recipe);
    // `conda install anacondad`: the package a user installs is the plugin, which brings the
    // binaries.
    let plugin = recipe_output(&recipe, "anacondad");
    assert_eq!(plugin["build"]["noarch"].as_str(), Some("python"));
    let run: Vec<&str> = plugin["requirements"]["run"]
        .as_sequence()
        .expect("run requirements")
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert!(
        run.contains(&"${{ pin_subpackage('anacondad-bin', exact=True) }}"),
        "the plugin is not pinned to its binaries: {run:?}"
    );
    let imports = &plugin["tests"][0]["python"]["imports"];
    assert_eq!(imports[0].as_str(), Some("conda_anacondad"), "{imports:?}");
    let install = plugin["build"]["script"][0]
        .as_str()
        .expect("a script line");
    let plugin_dir = install
        .split_whitespace()
        .last()
        .expect("the plugin's directory");

    let pyproject = read(&source.join("pyproject.toml"));
    let setting = |key: &str| {
        pyproject
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key} = ")))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_else(|| panic!("pyproject.toml has no {key}"))
    };
    assert_eq!(
        setting("python-source"),
        format!("{plugin_dir}/src"),
        "the wheel and the conda package carry different plugin directories"
    );
    let module = source
        .join(setting("python-source"))
        .join(setting("module-name"));
    assert!(module.join("plugin.py").is_file(), "{}", module.display());

    // The wheel compiles the main.rs of each package the recipe installs a binary from.
    let wheel_manifest = read(&source.join(setting("manifest-path")));
    let binaries = recipe_output(&recipe, "anacondad-bin");
    for line in platform_lines(&binaries["build"]["script"], "then")
        .into_iter()
        .filter(|l| l.starts_with("cargo install"))
    {
        let package = line
            .split_once("--path ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .expect("a --path");
        assert!(
            wheel_manifest.contains(&format!("path = \"../../{package}/src/main.rs\"")),
            "the wheel does not build {package}'s binary: {line}"
        );
    }
}

#[test]
fn manpages_writes_every_page_with_examples_files_environment_and_exit_status_and_anacondad_too() {
    let dir = tempfile::tempdir().unwrap();
    let written = Command::new(bin("anacondactl"))
        .arg("manpages")
        .arg(dir.path())
        .env("ANACONDAD_BIN", bin("anacondad"))
        .output()
        .expect("anacondactl runs");
    assert!(written.status.success(), "{}", stdout_and_stderr(&written));
    for page in ["anacondactl.1", "anacondad.1"] {
        let text = read(&dir.path().join(page));
        for section in [
            ".SH SYNOPSIS",
            ".SH EXAMPLES",
            ".SH FILES",
            ".SH ENVIRONMENT",
            ".SH \"EXIT STATUS\"",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(text.contains(section), "{page} has no {section}:\n{text}");
        }
    }
    let install = read(&dir.path().join("anacondactl-token-install.1"));
    assert!(install.contains(".SH EXAMPLES"), "{install}");
    assert!(install.contains(".SH \"EXIT STATUS\""), "{install}");
}
