//! Reading a domain's record, moving a record stored under a legacy username to the current
//! domain first.

use super::options::StoreError;
use super::record::{ANACONDA_SERVICE, LEGACY_DOMAINS, MODERN_DOMAIN, RECORD_VERSION};
use super::{SecretBackend, TokenRecord};
use crate::secret::Secret;

/// Reads the record of `domain`; for `anaconda.com`, a record under a legacy username is
/// moved to it first, as `TokenInfo.load` does (write the new one, then delete the old).
pub(super) fn load(
    backend: &dyn SecretBackend,
    domain: &str,
) -> Result<Option<TokenRecord>, StoreError> {
    let op = "read the stored credentials";
    let decode = |value: &Secret, username: &str| {
        TokenRecord::decode(value, username).map_err(|source| StoreError::Record {
            domain: username.to_owned(),
            source,
        })
    };
    if let Some(value) = backend
        .get(ANACONDA_SERVICE, domain)
        .map_err(StoreError::backend(op))?
    {
        return decode(&value, domain).map(Some);
    }
    if domain != MODERN_DOMAIN {
        return Ok(None);
    }
    for legacy in LEGACY_DOMAINS {
        if let Some(value) = backend
            .get(ANACONDA_SERVICE, legacy)
            .map_err(StoreError::backend(op))?
        {
            let mut record = decode(&value, legacy)?;
            record.domain = domain.to_owned();
            record.version = Some(RECORD_VERSION);
            let op = "migrate a legacy record";
            backend
                .put(ANACONDA_SERVICE, domain, &record.encode())
                .map_err(StoreError::backend(op))?;
            backend
                .delete(ANACONDA_SERVICE, legacy)
                .map_err(StoreError::backend(op))?;
            tracing::info!(
                from = legacy,
                to = domain,
                "migrated stored credentials to the current domain"
            );
            return Ok(Some(record));
        }
    }
    Ok(None)
}
