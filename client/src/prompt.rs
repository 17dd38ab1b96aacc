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

    /// Asks `<question> [y/n] (n): ` until the answer is yes or no (Enter and end of input
    /// are no). Without a terminal, fails saying that `what` needs confirming and that `flag`
    /// gives it.
    pub fn confirm(&self, question: &str, what: &str, flag: &str) -> Result<bool, CliError> {
        let choices = [('y', "yes"), ('n', "no")];
        let answer = self.choose(
            &format!("{question} [y/n] (n): "),
            &choices,
            'n',
            what,
            flag,
        )?;
        Ok(answer == 'y')
    }

    /// Asks `prompt` until the answer is one of `choices` (its letter or its word, any case);
    /// Enter and end of input are `default`. Without a terminal, fails saying that `what` needs
    /// an answer and that `flag` gives it.
    pub fn choose(
        &self,
        prompt: &str,
        choices: &[(char, &str)],
        default: char,
        what: &str,
        flag: &str,
    ) -> Result<char, CliError> {
        if !self.interactive {
            return Err(needs_answer(what, flag));
        }
        loop {
            let mut out = std::io::stdout().lock();
            write!(out, "{}", crate::render::terminal_safe(prompt))
                .and_then(|()| out.flush())
                .map_err(io_err)?;
            drop(out);
            let mut line = String::new();
            let read = std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(io_err)?;
            if read == 0 {
                crate::outln!();
                return Ok(default);
            }
            let answer = line.trim().to_ascii_lowercase();
            if answer.is_empty() {
                return Ok(default);
            }
            if let Some((letter, _)) = choices
                .iter()
                .find(|(letter, word)| answer == letter.to_string() || answer == *word)
            {
                return Ok(*letter);
            }
            let listed: Vec<String> = choices
                .iter()
                .map(|(letter, word)| format!("{letter} ({word})"))
                .collect();
            crate::outln!("Please answer {}.", listed.join(" or "));
        }
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
