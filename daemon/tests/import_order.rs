//! The daemon's modules import downward only: each top-level module of `daemon/src` may use the
//! modules listed before it in [`ORDER`] and none after it, so the code reads bottom-up and has
//! no import cycle. `docs/architecture.md` describes the modules in this order.
//!
//! What counts as an import: a `use crate::...` (with its `{...}` groups), any `crate::x::`
//! path, and a `super::` path that leaves the module, outside comments and test code (files a
//! `#[cfg(test)] mod x;` declares, and inline `#[cfg(test)] mod x { ... }` blocks).
//! `ANACONDAD_IMPORT_ORDER_SRC` points the check at another tree's `daemon/src`.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// The allowed order, bottom first: a module may import only the modules before it.
const ORDER: &[&str] = &[
    // Leaves: no daemon module below them.
    "fault",
    "fsutil",
    "secret",
    "boolean",
    "clock",
    "events",
    "credential_kind",
    "repo_url",
    "conda_config",
    // Storage and the service client, each with its own error type.
    "store",
    "state",
    "api",
    "condarc",
    // The crate error wraps the errors above it.
    "error",
    // One site's secrets and facts, and what a site's owners are built from.
    "vault",
    "site_parts",
    // The domain.
    "credentials",
    "export",
    "config",
    "conda",
    "account",
    "renewal",
    "tokens",
    "sites",
    "catalogue",
    "auth_storage",
    "diagnose",
    // Every part built, the gRPC adapters, the endpoint.
    "daemon",
    "service",
    "transport",
];

/// Where a module imports another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Import {
    from: String,
    to: String,
    file: PathBuf,
    line: usize,
}

impl fmt::Display for Import {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} imports {} ({}:{})",
            self.from,
            self.to,
            self.file.display(),
            self.line
        )
    }
}

fn source_root() -> PathBuf {
    std::env::var_os("ANACONDAD_IMPORT_ORDER_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// The module path of a file under `root`: `service/account.rs` is `[service, account]`,
/// `service/mod.rs` is `[service]`.
fn module_path(root: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(root).expect("a file under the root");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The directory a file's child modules live in.
fn child_dir(file: &Path) -> PathBuf {
    let dir = file.parent().expect("a parent directory");
    match file.file_stem().and_then(|s| s.to_str()) {
        Some("mod" | "lib" | "main") => dir.to_path_buf(),
        Some(stem) => dir.join(stem),
        None => dir.to_path_buf(),
    }
}

/// The text of a file with comments and inline `#[cfg(test)] mod x { ... }` blocks blanked
/// (lines kept, so line numbers stay true), and the paths of the test modules it declares in
/// files of their own.
fn code_of(file: &Path, text: &str) -> (Vec<String>, Vec<PathBuf>) {
    let mut lines = Vec::new();
    let mut test_files = Vec::new();
    let mut after_cfg_test = false;
    let mut in_test_block = false;
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let trimmed = code.trim();
        if in_test_block {
            lines.push(String::new());
            if line == "}" {
                in_test_block = false;
            }
            continue;
        }
        if after_cfg_test {
            let declaration = trimmed
                .strip_prefix("pub(crate) ")
                .or_else(|| trimmed.strip_prefix("pub "))
                .unwrap_or(trimmed);
            if let Some(rest) = declaration.strip_prefix("mod ") {
                if let Some(name) = rest.strip_suffix(';') {
                    let dir = child_dir(file);
                    test_files.push(dir.join(format!("{name}.rs")));
                    test_files.push(dir.join(name));
                    lines.push(String::new());
                    after_cfg_test = false;
                    continue;
                }
                // A block at the file's top level ends at the next `}` in column 0.
                if rest.ends_with('{') && !line.starts_with(char::is_whitespace) {
                    in_test_block = true;
                    lines.push(String::new());
                    after_cfg_test = false;
                    continue;
                }
            }
        }
        after_cfg_test = trimmed == "#[cfg(test)]";
        lines.push(code.to_owned());
    }
    (lines, test_files)
}

/// The first identifier at the start of `text`.
fn identifier(text: &str) -> Option<&str> {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    (end > 0).then(|| &text[..end])
}

/// The top-level names of a `{...}` group that starts right after its `{` in `text`.
fn group_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0;
    let mut expect_name = true;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => expect_name = true,
            c if expect_name && depth == 0 && (c.is_alphanumeric() || c == '_') => {
                if let Some(name) = identifier(&text[i..]) {
                    names.push(name.to_owned());
                }
                expect_name = false;
            }
            _ => {}
        }
    }
    names
}

/// The top-level names `code` reaches from inside `module` (its module path): `crate::x`,
/// `crate::{x, y::z}`, and `super::x` where the `super`s reach the crate root.
fn imported_names(code: &str, module: &[String]) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = code.as_bytes();
    let starts_path = |i: usize| {
        i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric()
                || bytes[i - 1] == b'_'
                || bytes[i - 1] == b':')
    };
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let after = if rest.starts_with("crate::") && starts_path(i) {
            Some(&rest["crate::".len()..])
        } else if rest.starts_with("super::") && starts_path(i) {
            let mut after = rest;
            let mut count = 0;
            while let Some(next) = after.strip_prefix("super::") {
                after = next;
                count += 1;
            }
            i += rest.len() - after.len();
            (count == module.len()).then_some(after)
        } else {
            None
        };
        match after {
            Some(after) if after.starts_with('{') => names.extend(group_names(&after[1..])),
            Some(after) => names.extend(identifier(after).map(str::to_owned)),
            None => {}
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    names
}

/// Every import between two different top-level modules, and the top-level modules found.
fn imports(root: &Path) -> (Vec<Import>, BTreeSet<String>) {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| module_path(root, f).into_iter().next())
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut test_files: Vec<PathBuf> = Vec::new();
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let (lines, tests) = code_of(file, &text);
        test_files.extend(tests);
        let module = module_path(root, file);
        if module.first().is_none_or(|m| m == "lib" || m == "main") {
            continue;
        }
        for (index, line) in lines.iter().enumerate() {
            for name in imported_names(line, &module) {
                found.push((file.clone(), index + 1, module[0].clone(), name));
            }
        }
    }
    let imports = found
        .into_iter()
        .filter(|(file, ..)| !test_files.iter().any(|t| file.starts_with(t)))
        .filter(|(_, _, from, to)| from != to)
        .map(|(file, line, from, to)| Import {
            from,
            // A name that is no module is an item of the crate root (lib.rs), above them all.
            to: if modules.contains(&to) {
                to
            } else {
                format!("the crate root (crate::{to})")
            },
            file: file.strip_prefix(root).unwrap_or(&file).to_path_buf(),
            line,
        })
        .collect();
    (imports, modules)
}

fn position(module: &str) -> Option<usize> {
    ORDER.iter().position(|m| *m == module)
}

#[test]
fn every_daemon_module_imports_only_modules_below_it() {
    let root = source_root();
    let (imports, modules) = imports(&root);
    let mut problems = Vec::new();
    for module in &modules {
        if position(module).is_none() {
            problems.push(format!(
                "{module} is not in ORDER: add it where its imports put it"
            ));
        }
    }
    for listed in ORDER {
        if !modules.contains(*listed) {
            problems.push(format!(
                "{listed} is in ORDER but not in {}",
                root.display()
            ));
        }
    }
    let mut upward: Vec<&Import> = imports
        .iter()
        .filter(|i| match (position(&i.from), position(&i.to)) {
            (Some(from), Some(to)) => to > from,
            (Some(_), None) => i.to.starts_with("the crate root"),
            _ => false,
        })
        .collect();
    upward.sort();
    upward.dedup();
    problems.extend(upward.iter().map(|i| format!("{i}, which is above it")));
    assert!(
        problems.is_empty(),
        "the daemon's modules must import downward only (ORDER in {}):\n  {}",
        file!(),
        problems.join("\n  ")
    );
}

#[test]
fn the_check_sees_every_form_of_import() {
    let top = vec!["tokens".to_owned()];
    let nested = vec!["service".to_owned(), "tokens".to_owned()];
    assert_eq!(imported_names("use crate::vault::Vault;", &top), ["vault"]);
    assert_eq!(
        imported_names("use crate::{api::{A, B}, clock, state::X};", &top),
        ["api", "clock", "state"]
    );
    assert_eq!(
        imported_names("let x = crate::daemon::f();", &top),
        ["daemon"]
    );
    assert_eq!(imported_names("use super::sites::Sites;", &top), ["sites"]);
    assert_eq!(
        imported_names("use super::convert;", &nested),
        Vec::<String>::new()
    );
    assert_eq!(
        imported_names("use super::super::sites;", &nested),
        ["sites"]
    );
    assert_eq!(
        imported_names("use my_crate::thing;", &top),
        Vec::<String>::new()
    );
    let file = Path::new("/src/tokens/mod.rs");
    let (lines, tests) = code_of(
        file,
        "use crate::vault; // crate::daemon\n#[cfg(test)]\nmod tests {\n    use crate::daemon;\n}\n#[cfg(test)]\nmod more;\n",
    );
    let code = lines.join("\n");
    assert_eq!(imported_names(&code, &top), ["vault"]);
    assert_eq!(
        tests,
        [
            PathBuf::from("/src/tokens/more.rs"),
            PathBuf::from("/src/tokens/more")
        ]
    );
}
