//! The one type every secret travels in: API keys, repo tokens, refresh and access tokens.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string. Its `Debug` is redacted, it has no `Display`, and its memory is wiped on
/// drop. Read it with [`Secret::expose`] only where it leaves the process on purpose (an HTTP
/// header, the keychain, a gRPC answer to the owner).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// All but the last four characters replaced by `*` (at most 8 of them), for listings.
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        let keep = if chars.len() > 8 { 4 } else { 0 };
        let hidden = (chars.len() - keep).min(8);
        let mut out = "*".repeat(hidden.max(4));
        out.extend(&chars[chars.len() - keep..]);
        out
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2-very-secret");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{:?}", Some(&s)).contains("secret"));
    }

    #[test]
    fn masked_keeps_only_the_last_four_characters_of_long_values() {
        assert_eq!(Secret::new("abcdefghijkl").masked(), "********ijkl");
        assert_eq!(
            Secret::new("0123456789abcdefghijklmnopqrstuvwxyz").masked(),
            "********wxyz"
        );
        assert_eq!(Secret::new("short").masked(), "*****");
        assert_eq!(Secret::new("").masked(), "****");
    }
}
