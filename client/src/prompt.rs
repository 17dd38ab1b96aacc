//! Questions to the user: asked only on a terminal; without one, the command fails and names
//! the flag that answers the question.

use std::io::{BufRead, IsTerminal, Write};

use crate::exit::{CliError, ExitKind};

#[derive(Debug, Clone, Copy)]
pub struct Prompter {
    interactive: bool,
}

impl Prompter {
    /// Interactive when both standard input and standard output are terminals.
    pub fn from_terminal() -> Self {
        Self {
            interactive: std::io::stdin().is_terminal() && std::io::stdout().is_terminal(),
        }
    }

    pub fn is_interactive(&self) -> bool {
        self.interactive
    }

    /// Asks `<question> [y/n] (n): `; only `y`/`yes` is yes. Without a terminal, fails saying
    /// that `what` needs confirming and that `flag` gives it.
    pub fn confirm(&self, question: &str, what: &str, flag: &str) -> Result<bool, CliError> {
        if !self.interactive {
            return Err(needs_answer(what, flag));
        }
        let mut out = std::io::stdout().lock();
        write!(
            out,
            "{} [y/n] (n): ",
            crate::render::terminal_safe(question)
        )
        .and_then(|()| out.flush())
        .map_err(io_err)?;
        drop(out);
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(io_err)?;
        Ok(matches!(
            line.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        ))
    }

    /// Lets the user pick one of `items` with the arrow keys. Without a terminal, fails saying
    /// that `what` needs an answer and that `flag` gives it.
    pub fn select(
        &self,
        prompt: &str,
        items: &[String],
        what: &str,
        flag: &str,
    ) -> Result<usize, CliError> {
        if !self.interactive {
            return Err(needs_answer(what, flag));
        }
        // Org names and titles come from the service.
        let shown: Vec<String> = items
            .iter()
            .map(|item| crate::render::one_line(item).into_owned())
            .collect();
        dialoguer::Select::new()
            .with_prompt(crate::render::terminal_safe(prompt))
            .items(&shown)
            .default(0)
            .interact()
            .map_err(|e| CliError::failed(format!("no selection was made: {e}")))
    }

    /// Lets the user tick any of `items` (space to tick, enter to accept). Without a terminal,
    /// fails saying that `what` needs an answer and that `flag` gives it.
    pub fn choose_many(
        &self,
        prompt: &str,
        items: &[String],
        what: &str,
        flag: &str,
    ) -> Result<Vec<usize>, CliError> {
        if !self.interactive {
            return Err(needs_answer(what, flag));
        }
        let shown: Vec<String> = items
            .iter()
            .map(|item| crate::render::one_line(item).into_owned())
            .collect();
        dialoguer::MultiSelect::new()
            .with_prompt(crate::render::terminal_safe(prompt))
            .items(&shown)
            .interact()
            .map_err(|e| CliError::failed(format!("no selection was made: {e}")))
    }
}

fn needs_answer(what: &str, flag: &str) -> CliError {
    CliError::new(
        ExitKind::NeedsAnswer,
        format!("{what}, and there is no terminal to ask on: pass {flag}"),
    )
}

fn io_err(e: std::io::Error) -> CliError {
    CliError::failed(format!("cannot talk to the terminal: {e}"))
}
