//! `ANACONDA_AUTH_KEYRING`, as anaconda-auth 0.15.3 reads it: its setting `keyring` (a
//! `Dict[str, Dict[str, str]]`, so the variable holds JSON) is a whole keyring,
//! `{"Anaconda Cloud": {"<domain>": "<base64 of the domain's record>"}}`, the record being the
//! JSON anaconda-auth stores in the system keyring (`domain`, `api_key`, `username`,
//! `repo_tokens`, `version`). Its `ConfigKeyring` backend takes priority over every other
//! keyring when that setting or `api_key` is set, and answers from `api_key` when there is one,
//! else from this keyring. The variable may also be a statement of the `.env` file (below the
//! environment, as every setting there).
//!
//! Here the record of the served domain gives the site's API key, below every other source of
//! one among the variables (an `ANACONDA_AUTH_API_KEY` anywhere wins, as there). What is not
//! matched: the domain is the one the variables say (`ANACONDA_AUTH_DOMAIN`,
//! `ANACONDAD_DOMAIN`), else anaconda-auth's default `anaconda.com`, not one set only in a
//! configuration file; the record's repo tokens are not used (the daemon gets an org's token
//! with the key); and an `api_key` in anaconda-auth's config.toml, which anaconda-auth prefers
//! to the keyring, is below it here, as every file is below the variables.

use std::collections::BTreeMap;

use base64::Engine as _;

use super::EnvSnapshot;
use super::dotenv::DotEnv;
use super::layer::Layer;
use super::origin::{Source, Sourced};
use crate::secret::Secret;

/// The variable (and the `.env` key).
pub const VARIABLE: &str = "ANACONDA_AUTH_KEYRING";
/// The keyring service anaconda-auth keeps its records under (`KEYRING_NAME`).
const SERVICE: &str = "Anaconda Cloud";
/// anaconda-auth's default `domain`.
const DEFAULT_DOMAIN: &str = "anaconda.com";

/// The API key of `domain`'s record (the variables' domain, else anaconda-auth's default) as a
/// layer, and why the keyring was left out when it does not read.
pub fn layer(
    env: &EnvSnapshot,
    dotenv: Option<&DotEnv>,
    domain: Option<&str>,
) -> (Layer, Option<String>) {
    let mut layer = Layer::default();
    let said = env.get(VARIABLE).map(|v| (v.to_owned(), None)).or_else(|| {
        let dotenv = dotenv?;
        let value = dotenv.values.get(VARIABLE)?;
        Some((value.clone(), Some(dotenv.path.clone())))
    });
    let Some((json, from)) = said else {
        return (layer, None);
    };
    let source = Source::AuthKeyring(from);
    let domain = netloc(domain.unwrap_or(DEFAULT_DOMAIN));
    match api_key_of(&json, &domain) {
        Ok(Some(key)) => {
            layer.site.api_key = Some(Sourced::new(Secret::new(key), source));
            (layer, None)
        }
        Ok(None) => (layer, None),
        Err(why) => (
            layer,
            Some(format!(
                "the {source} was left out: {why}; it must be the JSON anaconda-auth reads, \
                 {{\"{SERVICE}\": {{\"<domain>\": \"<base64 of the domain's record>\"}}}}"
            )),
        ),
    }
}

/// The host (and port) of a domain as anaconda-auth keys it: `https://x.example/` -> `x.example`.
fn netloc(domain: &str) -> String {
    let rest = domain.split_once("://").map_or(domain, |(_, rest)| rest);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or(rest)
        .to_owned()
}

/// The API key in `domain`'s record of the keyring `json`; `Ok(None)` when it has no record of
/// `domain` or the record no key.
fn api_key_of(json: &str, domain: &str) -> Result<Option<String>, String> {
    let keyring: BTreeMap<String, BTreeMap<String, String>> =
        serde_json::from_str(json).map_err(|e| format!("it is not a keyring ({e})"))?;
    let Some(record) = keyring.get(SERVICE).and_then(|records| records.get(domain)) else {
        return Ok(None);
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(record.trim())
        .map_err(|e| format!("the record of {domain} is not base64 ({e})"))?;
    let record: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("the record of {domain} is not JSON ({e})"))?;
    Ok(record["api_key"]
        .as_str()
        .filter(|k| !k.is_empty())
        .map(str::to_owned))
}

/// The keyring JSON anaconda-auth would read for `domain`'s key (tests, and the docs' example).
pub fn keyring_json(domain: &str, api_key: &str) -> String {
    let record =
        serde_json::json!({"domain": domain, "api_key": api_key, "repo_tokens": [], "version": 2});
    let encoded = base64::engine::general_purpose::STANDARD.encode(record.to_string());
    serde_json::json!({SERVICE: {domain: encoded}}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_of_the_served_domains_record_is_read_and_said_to_come_from_the_variable() {
        let env: EnvSnapshot = [(VARIABLE, keyring_json("127.0.0.1:8080", "the-key"))]
            .into_iter()
            .collect();
        let (layer, warning) = layer(&env, None, Some("http://127.0.0.1:8080"));
        assert!(warning.is_none());
        let key = layer.site.api_key.expect("a key");
        assert_eq!(key.value.expose(), "the-key");
        assert_eq!(key.source, Source::AuthKeyring(None));
        let (other, _) = super::layer(&env, None, None);
        assert!(other.site.api_key.is_none(), "anaconda.com has no record");
    }

    #[test]
    fn a_keyring_that_is_not_json_is_left_out_with_a_warning() {
        let env: EnvSnapshot = [(VARIABLE, "not json")].into_iter().collect();
        let (layer, warning) = layer(&env, None, None);
        assert!(layer.site.api_key.is_none());
        assert!(warning.unwrap().contains("ANACONDA_AUTH_KEYRING"));
    }
}
