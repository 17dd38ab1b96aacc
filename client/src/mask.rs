//! Hiding secrets in a stream of output: every occurrence of a value becomes `***`, also one
//! split across two reads. Bytes that cannot be the start of a secret pass on at once, so
//! an interactive command's output is not held back.

/// What a secret is shown as.
pub const MASK: &[u8] = b"***";

/// A filter for one stream.
pub struct Masker {
    secrets: Vec<Vec<u8>>,
    /// Bytes read but not yet passed on: the end of the last read, which may be the start of
    /// a secret the next read completes.
    held: Vec<u8>,
}

impl Masker {
    /// Empty values are ignored (they would match everywhere).
    pub fn new<S: AsRef<[u8]>>(secrets: impl IntoIterator<Item = S>) -> Self {
        let mut secrets: Vec<Vec<u8>> = secrets
            .into_iter()
            .map(|s| s.as_ref().to_vec())
            .filter(|s| !s.is_empty())
            .collect();
        // Longest first, so a secret that contains another is hidden whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Self {
            secrets,
            held: Vec::new(),
        }
    }

    /// Takes `input`; answers what can be passed on now.
    pub fn push(&mut self, input: &[u8]) -> Vec<u8> {
        self.held.extend_from_slice(input);
        let mut out = self.replace_whole();
        // Hold back the longest tail that is the start of some secret.
        let keep_from = (0..self.held.len())
            .find(|&i| {
                let tail = &self.held[i..];
                self.secrets.iter().any(|s| s.starts_with(tail))
            })
            .unwrap_or(self.held.len());
        out.extend_from_slice(&self.held[..keep_from]);
        self.held.drain(..keep_from);
        out
    }

    /// The end of the stream: what was held back, as it is (no secret can complete now).
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.held)
    }

    /// `held` up to the end of its last whole secret, each one replaced; `held` keeps the
    /// rest.
    fn replace_whole(&mut self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.held.len());
        let mut i = 0;
        let mut passed = 0;
        while i < self.held.len() {
            if let Some(s) = self.secrets.iter().find(|s| self.held[i..].starts_with(s)) {
                out.extend_from_slice(&self.held[passed..i]);
                out.extend_from_slice(MASK);
                i += s.len();
                passed = i;
            } else {
                i += 1;
            }
        }
        self.held.drain(..passed);
        out
    }
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Masker")
            .field("secrets", &self.secrets.len())
            .field("held", &self.held.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(secrets: &[&str], reads: &[&str]) -> String {
        let mut m = Masker::new(secrets);
        let mut out = Vec::new();
        for r in reads {
            out.extend(m.push(r.as_bytes()));
        }
        out.extend(m.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_secret_in_one_read_is_hidden() {
        assert_eq!(run(&["tok-123"], &["key=tok-123\n"]), "key=***\n");
    }

    #[test]
    fn a_secret_split_across_reads_is_hidden() {
        assert_eq!(
            run(&["tok-123"], &["key=tok", "-12", "3 end"]),
            "key=*** end"
        );
    }

    #[test]
    fn text_that_only_starts_like_a_secret_is_passed_on_whole() {
        assert_eq!(run(&["tok-123"], &["tok-1", "x"]), "tok-1x");
        assert_eq!(run(&["tok-123"], &["ends with tok"]), "ends with tok");
    }

    #[test]
    fn output_that_cannot_start_a_secret_is_not_held_back() {
        let mut m = Masker::new(["secret"]);
        assert_eq!(m.push(b"hello\n"), b"hello\n");
        assert_eq!(m.push(b"a sec"), b"a ");
    }

    #[test]
    fn every_value_and_every_occurrence_is_hidden() {
        assert_eq!(
            run(&["aa-key", "bb-tok"], &["aa-key bb-tok aa-key"]),
            "*** *** ***"
        );
    }
}
