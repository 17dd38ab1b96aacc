//! `anacondactl` in a pseudo-terminal, for the tests that need one (a terminal is what turns
//! on prompts and progress lines).

use std::time::Duration;

use anacondad_tests::harness::{TestHome, bin};
use expectrl::process::unix::WaitStatus;
use expectrl::{Eof, Expect, Session};

/// A CLI in a pseudo-terminal and what it has printed so far.
pub struct Terminal {
    session: expectrl::session::OsSession,
    seen: Vec<u8>,
    args: String,
}

impl Terminal {
    /// `anacondactl args` with `home`'s environment, waiting at most `timeout` for each text.
    pub fn spawn(home: &TestHome, args: &[&str], timeout: Duration) -> Self {
        let mut cmd = std::process::Command::new(bin("anacondactl"));
        cmd.env_clear()
            .envs(home.env())
            .env("TERM", "xterm")
            .args(args);
        let mut session = Session::spawn(cmd).expect("anacondactl starts in a pty");
        session.set_expect_timeout(Some(timeout));
        Terminal {
            session,
            seen: Vec::new(),
            args: args.join(" "),
        }
    }

    pub fn expect(&mut self, text: &str) {
        match self.session.expect(text) {
            Ok(found) => self.seen.extend_from_slice(found.as_bytes()),
            Err(e) => panic!(
                "`anacondactl {}` did not print {text:?} ({e}); so far:\n{}",
                self.args,
                String::from_utf8_lossy(&self.seen)
            ),
        }
    }

    #[allow(
        dead_code,
        reason = "not every test file that shares this module types keys"
    )]
    pub fn send(&mut self, keys: &str) {
        self.session.send(keys).expect("write to the pty");
    }

    /// The rest of the output, after checking the exit status.
    pub fn finish(mut self, expected_code: i32) -> String {
        if let Ok(rest) = self.session.expect(Eof) {
            self.seen.extend_from_slice(rest.as_bytes());
        }
        let text = String::from_utf8_lossy(&self.seen).into_owned();
        match self
            .session
            .get_process()
            .wait()
            .expect("wait for anacondactl")
        {
            WaitStatus::Exited(_, code) => assert_eq!(
                code, expected_code,
                "`anacondactl {}` exited {code}; its output:\n{text}",
                self.args
            ),
            other => panic!("`anacondactl {}` ended with {other:?}:\n{text}", self.args),
        }
        text
    }
}
