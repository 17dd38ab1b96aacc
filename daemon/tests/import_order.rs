//! The daemon's modules import downward only: each top-level module of `daemon/src` may use the
//! modules listed before it in [`ORDER`] and none after it, so the code reads bottom-up and has
//! no import cycle; inside a module, its files (and folders) import each other in no circle
//! either. `docs/architecture.md` describes the modules in this order.
//!
//! What counts as an import: a `use crate::...` (with its `{...}` groups), any `crate::x::`
//! path, and a `super::` path that leaves the module, outside comments and test code (files a
//! `#[cfg(test)] mod x;` declares, and inline `#[cfg(test)] mod x { ... }` blocks).
//! `ANACONDAD_IMPORT_ORDER_SRC` points the check at another tree's `daemon/src`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// The allowed order, bottom first: a module may import only the modules before it.
const ORDER: &[&str] = &[
    // Leaves: no daemon module below them.
    "fault",
    "fsutil",
    "version_file",
    "idle",
    "secret",
    "boolean",
    "error_text",
    "clock",
    "activity",
    "events",
    "credential_kind",
    "repo_url",
    "conda_rules",
    // Storage and the service client, each with its own error type.
    "store",
    "state",
    "api",
    "condarc_text",
    // The crate error wraps the errors above it.
    "error",
    // One site's secrets and facts, and what a site's owners are built from.
    "vault",
    "site_context",
    // The domain.
    "credentials",
    "export",
    "config",
    "conda_setup",
    "account",
    "renewal",
    "tokens",
    "channels",
    "sites",
    "catalogue",
    "auth_storage",
    "diagnose",
    "minted",
    "keyring_bridge",
    "keyring_guard",
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

/// The entries of a `{...}` group that starts right after its `{` in `text`, each as its first
/// one or two names (`{a, b::c, d::{e}}` is `[a]`, `[b, c]`, `[d]`).
fn group_paths(text: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut depth = 0;
    let mut expect_name = true;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => expect_name = true,
            c if expect_name && depth == 0 && (c.is_alphanumeric() || c == '_') => {
                let first = identifier(&text[i..]).unwrap_or_default();
                let mut path = vec![first.to_owned()];
                if let Some(second) = text[i + first.len()..]
                    .strip_prefix("::")
                    .and_then(identifier)
                {
                    path.push(second.to_owned());
                }
                paths.push(path);
                expect_name = false;
            }
            _ => {}
        }
    }
    paths
}

/// The first one or two names of each path that starts at `text` (`a::b::C` is `[a, b]`,
/// `a::{b, c}` is `[a, b]` and `[a, c]`, `{a, b::c}` is `[a]` and `[b, c]`).
fn path_heads(text: &str) -> Vec<Vec<String>> {
    if let Some(group) = text.strip_prefix('{') {
        return group_paths(group);
    }
    let Some(first) = identifier(text) else {
        return Vec::new();
    };
    let rest = &text[first.len()..];
    if let Some(group) = rest.strip_prefix("::{") {
        return group_paths(group)
            .into_iter()
            .map(|p| vec![first.to_owned(), p[0].clone()])
            .collect();
    }
    match rest.strip_prefix("::").and_then(identifier) {
        Some(second) => vec![vec![first.to_owned(), second.to_owned()]],
        None => vec![vec![first.to_owned()]],
    }
}

/// The paths `code` names from inside `module` (its module path), resolved from the crate root
/// and cut to their first two names: `crate::a::b::C` is `[a, b]`, `crate::{a, b::c}` is `[a]`
/// and `[b, c]`, and `super::x` inside `[m, y]` is `[m, x]`.
fn imported_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
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
        let resolved = if rest.starts_with("crate::") && starts_path(i) {
            Some((Vec::new(), &rest["crate::".len()..]))
        } else if rest.starts_with("super::") && starts_path(i) {
            let mut after = rest;
            let mut count = 0;
            while let Some(next) = after.strip_prefix("super::") {
                after = next;
                count += 1;
            }
            i += rest.len() - after.len();
            (count <= module.len()).then(|| (module[..module.len() - count].to_vec(), after))
        } else {
            None
        };
        if let Some((prefix, after)) = resolved {
            for head in path_heads(after) {
                let mut path = prefix.clone();
                path.extend(head);
                path.truncate(2);
                if !path.is_empty() {
                    paths.push(path);
                }
            }
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    paths
}

/// The top-level modules (or crate-root items) `code` reaches from inside `module`.
fn imported_names(code: &str, module: &[String]) -> Vec<String> {
    imported_paths(code, module)
        .into_iter()
        .map(|mut p| p.swap_remove(0))
        .collect()
}

/// One path a file names, resolved from the crate root (its first two names).
#[derive(Debug, Clone)]
struct Reference {
    file: PathBuf,
    line: usize,
    /// The module path of the file: `[service, account]`.
    module: Vec<String>,
    path: Vec<String>,
}

/// The modules `lib.rs` declares: the library's top-level modules. (Modules of the binary,
/// declared by `main.rs`, are its own crate's.)
fn library_modules(root: &Path) -> BTreeSet<String> {
    let lib = root.join("lib.rs");
    let text =
        std::fs::read_to_string(&lib).unwrap_or_else(|e| panic!("reading {}: {e}", lib.display()));
    text.lines()
        .map(|line| line.split("//").next().unwrap_or("").trim())
        .filter_map(|line| {
            let line = line
                .strip_prefix("pub(crate) ")
                .or_else(|| line.strip_prefix("pub "))
                .unwrap_or(line);
            line.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_owned)
        })
        .collect()
}

/// Every path the library's code (test code aside) names, and the module path of every file.
fn references(root: &Path) -> (Vec<Reference>, Vec<Vec<String>>) {
    let library = library_modules(root);
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let mut test_files: Vec<PathBuf> = Vec::new();
    let mut found = Vec::new();
    let mut modules = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let (lines, tests) = code_of(file, &text);
        test_files.extend(tests);
        let module = module_path(root, file);
        if module.first().is_none_or(|m| !library.contains(m)) {
            continue;
        }
        for (index, line) in lines.iter().enumerate() {
            for path in imported_paths(line, &module) {
                found.push(Reference {
                    file: file.clone(),
                    line: index + 1,
                    module: module.clone(),
                    path,
                });
            }
        }
        modules.push((file.clone(), module));
    }
    let is_test = |file: &Path| test_files.iter().any(|t| file.starts_with(t));
    let references = found.into_iter().filter(|r| !is_test(&r.file)).collect();
    let modules = modules
        .into_iter()
        .filter(|(file, _)| !is_test(file))
        .map(|(_, module)| module)
        .collect();
    (references, modules)
}

/// Every import between two different top-level modules, and the top-level modules found.
fn imports(root: &Path) -> (Vec<Import>, BTreeSet<String>) {
    let (references, files) = references(root);
    let modules: BTreeSet<String> = files.iter().map(|m| m[0].clone()).collect();
    let imports = references
        .into_iter()
        .filter(|r| r.module[0] != r.path[0])
        .map(|r| Import {
            from: r.module[0].clone(),
            // A name that is no module is an item of the crate root (lib.rs), above them all.
            to: if modules.contains(&r.path[0]) {
                r.path[0].clone()
            } else {
                format!("the crate root (crate::{})", r.path[0])
            },
            file: r.file.strip_prefix(root).unwrap_or(&r.file).to_path_buf(),
            line: r.line,
        })
        .collect();
    (imports, modules)
}

/// Inside each top-level module, which of its parts (files or folders) imports which other
/// part: `module -> (from -> {(to, where)})`.
fn part_imports(root: &Path) -> BTreeMap<String, BTreeMap<String, BTreeMap<String, Import>>> {
    let (references, files) = references(root);
    let parts: BTreeSet<(String, String)> = files
        .iter()
        .filter(|m| m.len() >= 2)
        .map(|m| (m[0].clone(), m[1].clone()))
        .collect();
    let mut graph: BTreeMap<String, BTreeMap<String, BTreeMap<String, Import>>> = BTreeMap::new();
    for r in references {
        if r.module.len() < 2 || r.path.len() < 2 || r.path[0] != r.module[0] {
            continue;
        }
        let (module, from, to) = (&r.module[0], &r.module[1], &r.path[1]);
        if from == to || !parts.contains(&(module.clone(), to.clone())) {
            continue;
        }
        graph
            .entry(module.clone())
            .or_default()
            .entry(from.clone())
            .or_default()
            .entry(to.clone())
            .or_insert_with(|| Import {
                from: format!("{module}/{from}"),
                to: format!("{module}/{to}"),
                file: r.file.strip_prefix(root).unwrap_or(&r.file).to_path_buf(),
                line: r.line,
            });
    }
    graph
}

/// A cycle in `edges`, as the imports that close it, if there is one.
fn find_cycle(edges: &BTreeMap<String, BTreeMap<String, Import>>) -> Option<Vec<Import>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeMap<String, Import>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<Import>> {
        if let Some(start) = path.iter().position(|p| p == node) {
            let mut cycle: Vec<String> = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(
                cycle
                    .windows(2)
                    .map(|pair| edges[&pair[0]][&pair[1]].clone())
                    .collect(),
            );
        }
        if !done.insert(node.to_owned()) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flat_map(|e| e.keys()) {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|start| visit(start, edges, &mut Vec::new(), &mut done))
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
fn no_parts_of_a_daemon_module_import_each_other_in_a_circle() {
    let root = source_root();
    let mut problems = Vec::new();
    for (module, edges) in part_imports(&root) {
        if let Some(cycle) = find_cycle(&edges) {
            let steps: Vec<String> = cycle.iter().map(ToString::to_string).collect();
            problems.push(format!("in {module}: {}", steps.join("; ")));
        }
    }
    assert!(
        problems.is_empty(),
        "the files of a daemon module must not import each other in a circle:\n  {}",
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
    assert_eq!(imported_names("use super::convert;", &nested), ["service"]);
    assert_eq!(
        imported_names("use super::super::sites;", &nested),
        ["sites"]
    );
    assert_eq!(
        imported_names("use my_crate::thing;", &top),
        Vec::<String>::new()
    );
    let oidc = vec!["api".to_owned(), "oidc".to_owned()];
    let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        imported_paths("use super::{client::Call, error::ApiError};", &oidc),
        [path(&["api", "client"]), path(&["api", "error"])]
    );
    assert_eq!(
        imported_paths("use crate::api::{client, oidc::X};", &top),
        [path(&["api", "client"]), path(&["api", "oidc"])]
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
