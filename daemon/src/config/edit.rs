//! Edits of our `config.toml` that keep its comments and layout (`toml_edit`): the
//! `[sites.<name>]` tables `anacondactl sites add|remove` write and remove. The daemon serves
//! what it read at start; a changed file is served by the next daemon.

use std::path::Path;

use super::ConfigError;

/// A site as `sites add` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSite {
    pub name: String,
    pub domain: String,
    /// Empty: the repository the domain implies ([`super::sites::default_repository`]).
    pub repo_urls: Vec<String>,
}

/// Why an edit was not made.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "{path} already has [sites.{name}]: remove it first (`anacondactl sites remove {name}`) or pick another name"
    )]
    Exists { path: String, name: String },
    #[error("{path} has no [sites.{name}] to remove{elsewhere}")]
    Missing {
        path: String,
        name: String,
        elsewhere: String,
    },
    #[error("{path}: {message}")]
    Shape { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error(
        "the site {name} holds credentials ({what}): run `anacondactl logout --at {name}` (and \
         `anacondactl token uninstall --all --at {name}`) first, or pass --force to remove the \
         site and leave them stored"
    )]
    HoldsCredentials { name: String, what: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

fn parse(text: &str, path: &Path) -> Result<toml_edit::DocumentMut, EditError> {
    text.parse::<toml_edit::DocumentMut>().map_err(|e| {
        EditError::Config(ConfigError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    })
}

/// The `[sites]` table of `doc`, made (implicit, so no bare `[sites]` header) when missing.
fn sites_table<'a>(
    doc: &'a mut toml_edit::DocumentMut,
    path: &Path,
) -> Result<&'a mut toml_edit::Table, EditError> {
    if !doc.contains_key("sites") {
        let mut sites = toml_edit::Table::new();
        sites.set_implicit(true);
        doc.insert("sites", toml_edit::Item::Table(sites));
    }
    doc["sites"].as_table_mut().ok_or_else(|| EditError::Shape {
        path: path.display().to_string(),
        message: "`sites` is not a table of [sites.<name>] tables; fix it before \
                      `anacondactl sites` can edit it"
            .to_owned(),
    })
}

/// `text` with a `[sites.<name>]` table for each of `sites` appended, and `default_site` set
/// when `default` names one (placed at the top, before the first table).
pub fn add_sites(
    text: &str,
    path: &Path,
    sites: &[NewSite],
    default: Option<&str>,
) -> Result<String, EditError> {
    let mut doc = parse(text, path)?;
    // A file of comments only keeps them at its top, before what is added.
    let lead = if doc.as_table().is_empty() {
        let lead = doc.trailing().as_str().unwrap_or_default().to_owned();
        doc.set_trailing("");
        Some(lead)
    } else {
        None
    };
    if let Some(name) = default {
        doc.insert("default_site", toml_edit::value(name));
        if let Some(lead) = &lead
            && let Some(mut key) = doc.key_mut("default_site")
        {
            key.leaf_decor_mut().set_prefix(lead.as_str());
        }
    }
    let lead = lead.filter(|_| default.is_none());
    let table = sites_table(&mut doc, path)?;
    for site in sites {
        if table.contains_key(&site.name) {
            return Err(EditError::Exists {
                path: path.display().to_string(),
                name: site.name.clone(),
            });
        }
        let mut entry = toml_edit::Table::new();
        entry.insert("domain", toml_edit::value(&site.domain));
        if let Some((first, rest)) = site.repo_urls.split_first() {
            entry.insert("repo_url", toml_edit::value(first));
            if !rest.is_empty() {
                let extra: toml_edit::Array = rest.iter().map(String::as_str).collect();
                entry.insert("extra_repo_urls", toml_edit::value(extra));
            }
        }
        if table.is_empty()
            && let Some(lead) = &lead
        {
            entry.decor_mut().set_prefix(lead.as_str());
        }
        table.insert(&site.name, toml_edit::Item::Table(entry));
    }
    Ok(doc.to_string())
}

/// `text` without `[sites.<name>]` (and without `default_site` when it named it).
pub fn remove_site(text: &str, path: &Path, name: &str) -> Result<String, EditError> {
    let mut doc = parse(text, path)?;
    let names_it = doc.get("default_site").and_then(|d| d.as_str()) == Some(name);
    let removed = doc
        .get_mut("sites")
        .and_then(|s| s.as_table_like_mut())
        .and_then(|s| s.remove(name));
    let Some(removed) = removed else {
        return Err(EditError::Missing {
            path: path.display().to_string(),
            name: name.to_owned(),
            elsewhere: String::new(),
        });
    };
    keep_the_files_leading_comment(&mut doc, &removed);
    if names_it {
        doc.remove("default_site");
    }
    if doc
        .get("sites")
        .and_then(|s| s.as_table_like())
        .is_some_and(|s| s.is_empty())
    {
        doc.remove("sites");
    }
    Ok(doc.to_string())
}

/// When the removed table opened the file, the comment above it is the file's own (its first
/// lines): it moves to what now opens the file.
fn keep_the_files_leading_comment(doc: &mut toml_edit::DocumentMut, removed: &toml_edit::Item) {
    let Some(table) = removed.as_table() else {
        return;
    };
    let lead = table
        .decor()
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or("");
    if !lead.contains('#') || doc.iter().any(|(_, item)| item.is_value()) {
        return;
    }
    let position = table.position();
    let sites = doc.get("sites").and_then(|s| s.as_table());
    let next = sites.and_then(|sites| {
        sites
            .iter()
            .filter_map(|(key, item)| Some((key.to_owned(), item.as_table()?.position())))
            .min_by_key(|(_, p)| *p)
    });
    let earlier_table = doc
        .iter()
        .filter(|(key, _)| *key != "sites")
        .filter_map(|(_, item)| item.as_table()?.position())
        .any(|p| Some(p) < position);
    if earlier_table || next.as_ref().is_some_and(|(_, p)| *p < position) {
        return;
    }
    let lead = lead.to_owned();
    match next {
        Some((key, _)) => {
            if let Some(next) = doc["sites"][key.as_str()].as_table_mut() {
                next.decor_mut().set_prefix(lead);
            }
        }
        None => {
            let trailing = doc.trailing().as_str().unwrap_or("").to_owned();
            doc.set_trailing(format!("{lead}{trailing}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# my anacondad settings\nstorage = \"system\"  # the keychain\n\n\
                        [sites.work]\n# on-premise\ndomain = \"work.example\"\n";

    fn site(name: &str, domain: &str) -> NewSite {
        NewSite {
            name: name.into(),
            domain: domain.into(),
            repo_urls: Vec::new(),
        }
    }

    #[test]
    fn adding_a_site_appends_its_table_and_keeps_every_comment() {
        let path = Path::new("config.toml");
        let mut two = site("lab", "lab.example");
        two.repo_urls = vec!["https://lab.example/r/".into(), "https://m.example/".into()];
        let edited = add_sites(FILE, path, &[two], None).unwrap();
        assert!(edited.starts_with(FILE), "{edited}");
        assert!(
            edited.ends_with(
                "[sites.lab]\ndomain = \"lab.example\"\nrepo_url = \"https://lab.example/r/\"\n\
                 extra_repo_urls = [\"https://m.example/\"]\n"
            ),
            "{edited}"
        );
        let err = add_sites(&edited, path, &[site("lab", "x.example")], None).unwrap_err();
        assert!(err.to_string().contains("sites remove lab"), "{err}");
    }

    #[test]
    fn the_first_site_of_a_file_gets_no_bare_sites_header_and_may_become_the_default() {
        let path = Path::new("config.toml");
        let lone = add_sites("# mine\n", path, &[site("lab", "lab.example")], None).unwrap();
        assert_eq!(lone, "# mine\n[sites.lab]\ndomain = \"lab.example\"\n");
        let edited = add_sites(
            "# mine\n",
            path,
            &[
                site("anaconda.com", "anaconda.com"),
                site("lab", "lab.example"),
            ],
            Some("anaconda.com"),
        )
        .unwrap();
        assert_eq!(
            edited,
            "# mine\ndefault_site = \"anaconda.com\"\n\n[sites.\"anaconda.com\"]\n\
             domain = \"anaconda.com\"\n\n[sites.lab]\ndomain = \"lab.example\"\n"
        );
    }

    #[test]
    fn removing_a_site_leaves_the_rest_as_it_was() {
        let path = Path::new("config.toml");
        let two = add_sites(FILE, path, &[site("lab", "lab.example")], None).unwrap();
        assert_eq!(remove_site(&two, path, "lab").unwrap(), FILE);
        let none = remove_site(FILE, path, "work").unwrap();
        assert_eq!(
            none,
            "# my anacondad settings\nstorage = \"system\"  # the keychain\n"
        );
        // The comment that opens a file stays when the first table goes.
        let first =
            "# two sites\n[sites.a]\ndomain = \"a.example\"\n\n[sites.b]\ndomain = \"b.example\"\n";
        assert_eq!(
            remove_site(first, path, "a").unwrap(),
            "# two sites\n[sites.b]\ndomain = \"b.example\"\n"
        );
        assert_eq!(
            remove_site("# one\n[sites.a]\ndomain = \"a.example\"\n", path, "a").unwrap(),
            "# one\n"
        );
        let err = remove_site(FILE, path, "lab").unwrap_err();
        assert!(err.to_string().contains("no [sites.lab]"), "{err}");
    }
}
