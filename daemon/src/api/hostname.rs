//! The `X-Client-Hostname` value: a salted-by-purpose hash of the hostname, never the name.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use blake2::Blake2bVarCore;
use blake2::digest::core_api::{Buffer, UpdateCore, VariableOutputCore};

const HOSTNAME_DIGEST_BYTES: usize = 16;
const HOSTNAME_PERSON: &[u8] = b"hostname";

/// `base64url_nopad(blake2b(hostname, digest_size=16, person=b"hostname", salt=b""))` with a
/// trailing `.local` stripped first, exactly as anaconda-auth computes it.
pub fn hash_hostname(hostname: &str) -> String {
    let name = hostname.strip_suffix(".local").unwrap_or(hostname);
    // The unkeyed parametrised form: `Blake2bMac` would hash a zero key block even for an
    // empty key, which is not what Python's `blake2b(person=...)` does.
    let mut core = Blake2bVarCore::new_with_params(b"", HOSTNAME_PERSON, 0, HOSTNAME_DIGEST_BYTES);
    let mut buffer = Buffer::<Blake2bVarCore>::default();
    buffer.digest_blocks(name.as_bytes(), |blocks| core.update_blocks(blocks));
    let mut full = Default::default();
    core.finalize_variable_core(&mut buffer, &mut full);
    URL_SAFE_NO_PAD.encode(&full[..HOSTNAME_DIGEST_BYTES])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_hash_matches_the_python_client_vectors() {
        assert_eq!(hash_hostname("myhost"), "BqZ6rxgPMg3GxNGGblejIA");
        assert_eq!(hash_hostname("build-01"), "B9oPSN8yaYuXgqFbvzr6cg");
    }

    #[test]
    fn a_trailing_dot_local_is_ignored() {
        assert_eq!(hash_hostname("myhost.local"), hash_hostname("myhost"));
        assert_ne!(hash_hostname("myhost.lan"), hash_hostname("myhost"));
    }
}
