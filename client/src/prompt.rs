//! Questions to the user, asked on the terminal: standard input and output when both are one,
//! else the process's controlling terminal (`/dev/tty`), so `token install | tee log` still
//! asks. Without a terminal the command fails and names the flag that answers the question.
//! Keys are read one at a time, so Ctrl-C at a question is an answer the command can report
//! (what was done, what to run next) rather than a signal that ends it mid-line.

use std::io::IsTerminal;

use console::{Key, Term};

use crate::exit::{CliError, ExitKind};

/// Shown under the organisation menu (and any other list to pick from).
pub const SELECT_KEYS_HINT: &str = "(↑/↓ to move, Enter to choose, Esc or q to cancel)";
/// Shown under a list to tick several of.
pub const MULTI_SELECT_KEYS_HINT: &str =
    "(↑/↓ to move, Space to tick, Enter to accept, Esc or q to cancel)";

#[derive(Debug, Clone, Copy)]
pub struct Prompter {
    /// Standard input and output are both the terminal.
    standard: bool,
}

impl Prompter {
    /// Asks on standard input and output when both are terminals, else on the controlling
    /// terminal when there is one (looked for only when a question comes: most commands,
    /// conda's `credential get` among them, ask nothing).
    pub fn from_terminal() -> Self {
        Self {
            standard: std::io::stdin().is_terminal() && std::io::stdout().is_terminal(),
        }
    }

    pub fn is_interactive(&self) -> bool {
        self.standard || controlling_terminal().is_some()
    }

    /// The terminal to ask on, or the failure that names `flag`.
    fn term(&self, what: &str, flag: &str) -> Result<Term, CliError> {
        if self.standard {
            return Ok(Term::stdout());
        }
        controlling_terminal().ok_or_else(|| needs_answer(what, flag))
    }

    /// Asks `<question> [y/n] (n): ` until the answer is yes or no (Enter and Ctrl-D are no).
    /// Without a terminal, fails saying that `what` needs confirming and that `flag` gives it.
    /// Ctrl-C fails with [`ExitKind::Interrupted`].
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
    /// Enter and Ctrl-D are `default`. Without a terminal, fails saying that `what` needs an
    /// answer and that `flag` gives it. Ctrl-C fails with [`ExitKind::Interrupted`].
    pub fn choose(
        &self,
        prompt: &str,
        choices: &[(char, &str)],
        default: char,
        what: &str,
        flag: &str,
    ) -> Result<char, CliError> {
        let term = self.term(what, flag)?;
        loop {
            term.write_str(&crate::render::terminal_safe(prompt))
                .and_then(|()| term.flush())
                .map_err(io_err)?;
            let answer = read_line(&term)?.trim().to_ascii_lowercase();
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
            term.write_line(&format!("Please answer {}.", listed.join(" or ")))
                .map_err(io_err)?;
        }
    }

    /// What a menu is drawn with: the terminal (or the failure naming `what` and `flag`),
    /// `items` each made one safe line (org names and titles come from the service), and
    /// `prompt` made safe.
    fn menu(
        &self,
        prompt: &str,
        items: &[String],
        what: &str,
        flag: &str,
    ) -> Result<(Term, Vec<String>, String), CliError> {
        let term = self.term(what, flag)?;
        let shown: Vec<String> = items
            .iter()
            .map(|item| crate::render::one_line(item).into_owned())
            .collect();
        let prompt = crate::render::terminal_safe(prompt).into_owned();
        Ok((term, shown, prompt))
    }

    /// Lets the user pick one of `items` with the arrow keys (or j/k), Enter to choose; Esc
    /// or q cancels ([`ExitKind::Failed`], "nothing was chosen") and Ctrl-C interrupts
    /// ([`ExitKind::Interrupted`]), both with the cursor shown again. Without a terminal,
    /// fails saying that `what` needs an answer and that `flag` gives it.
    pub fn select(
        &self,
        prompt: &str,
        items: &[String],
        what: &str,
        flag: &str,
    ) -> Result<usize, CliError> {
        let (term, shown, prompt) = self.menu(prompt, items, what, flag)?;
        let _cursor = HiddenCursor::new(&term).map_err(io_err)?;
        let mut picked = 0;
        let drawn_lines = shown.len() + 2;
        // One terminal line per menu line, so the redraw clears exactly what was drawn.
        let width = usize::from(term.size().1).saturating_sub(1);
        let fit = |line: &str| console::truncate_str(line, width, "…").into_owned();
        let draw = |picked: usize| -> std::io::Result<()> {
            term.write_line(&fit(&format!("{prompt}:")))?;
            for (i, item) in shown.iter().enumerate() {
                let mark = if i == picked { ">" } else { " " };
                term.write_line(&fit(&format!("{mark} {item}")))?;
            }
            term.write_line(&fit(SELECT_KEYS_HINT))?;
            term.flush()
        };
        draw(picked).map_err(io_err)?;
        loop {
            let key = term.read_key_raw().map_err(io_err)?;
            menu_left(&term, drawn_lines, &prompt, &key)?;
            let next = match key {
                Key::ArrowUp | Key::Char('k') => {
                    Some(picked.checked_sub(1).unwrap_or(shown.len() - 1))
                }
                Key::ArrowDown | Key::Char('j') | Key::Tab => Some((picked + 1) % shown.len()),
                Key::Enter => {
                    menu_chosen(&term, drawn_lines, &prompt, &shown[picked])?;
                    return Ok(picked);
                }
                _ => None,
            };
            if let Some(next) = next
                && next != picked
            {
                picked = next;
                term.clear_last_lines(drawn_lines).map_err(io_err)?;
                draw(picked).map_err(io_err)?;
            }
        }
    }

    /// Lets the user tick any of `items`: the arrow keys (or j/k) move, Space ticks, Enter
    /// accepts; Esc or q cancels and Ctrl-C interrupts, as in [`select`](Self::select).
    /// Without a terminal, fails saying that `what` needs an answer and that `flag` gives it.
    pub fn choose_many(
        &self,
        prompt: &str,
        items: &[String],
        what: &str,
        flag: &str,
    ) -> Result<Vec<usize>, CliError> {
        let (term, shown, prompt) = self.menu(prompt, items, what, flag)?;
        let _cursor = HiddenCursor::new(&term).map_err(io_err)?;
        let mut at = 0;
        let mut ticked = vec![false; shown.len()];
        let drawn_lines = shown.len() + 2;
        let width = usize::from(term.size().1).saturating_sub(1);
        let fit = |line: &str| console::truncate_str(line, width, "…").into_owned();
        let draw = |at: usize, ticked: &[bool]| -> std::io::Result<()> {
            term.write_line(&fit(&format!("{prompt}:")))?;
            for (i, item) in shown.iter().enumerate() {
                let mark = if i == at { ">" } else { " " };
                let tick = if ticked[i] { "x" } else { " " };
                term.write_line(&fit(&format!("{mark} [{tick}] {item}")))?;
            }
            term.write_line(&fit(MULTI_SELECT_KEYS_HINT))?;
            term.flush()
        };
        draw(at, &ticked).map_err(io_err)?;
        loop {
            let key = term.read_key_raw().map_err(io_err)?;
            menu_left(&term, drawn_lines, &prompt, &key)?;
            match key {
                Key::ArrowUp | Key::Char('k') => at = at.checked_sub(1).unwrap_or(shown.len() - 1),
                Key::ArrowDown | Key::Char('j') | Key::Tab => at = (at + 1) % shown.len(),
                Key::Char(' ') => ticked[at] = !ticked[at],
                Key::Enter => {
                    let chosen: Vec<usize> = (0..shown.len()).filter(|&i| ticked[i]).collect();
                    let names: Vec<&str> = chosen.iter().map(|&i| shown[i].as_str()).collect();
                    menu_chosen(&term, drawn_lines, &prompt, &names.join("; "))?;
                    return Ok(chosen);
                }
                _ => continue,
            }
            term.clear_last_lines(drawn_lines).map_err(io_err)?;
            draw(at, &ticked).map_err(io_err)?;
        }
    }
}

/// Shows the cursor again however the menu ends (a chosen row, a cancel, an error).
struct HiddenCursor<'a>(&'a Term);

impl<'a> HiddenCursor<'a> {
    fn new(term: &'a Term) -> std::io::Result<Self> {
        term.hide_cursor()?;
        Ok(Self(term))
    }
}

impl Drop for HiddenCursor<'_> {
    fn drop(&mut self) {
        let _shown_or_gone = self.0.show_cursor();
    }
}

/// One line typed at the terminal, echoed as it is typed; Backspace edits, Ctrl-D ends it as
/// Enter does, Ctrl-C interrupts.
fn read_line(term: &Term) -> Result<String, CliError> {
    let mut line = String::new();
    loop {
        match term.read_key_raw().map_err(io_err)? {
            Key::Enter | Key::Char('\u{4}') => {
                term.write_line("").map_err(io_err)?;
                return Ok(line);
            }
            Key::Backspace if line.pop().is_some() => {
                term.clear_chars(1).map_err(io_err)?;
            }
            Key::CtrlC => {
                term.write_line("^C").map_err(io_err)?;
                return Err(interrupted());
            }
            Key::Char(c) if !c.is_control() => {
                line.push(c);
                term.write_str(&c.to_string()).map_err(io_err)?;
            }
            _ => {}
        }
        term.flush().map_err(io_err)?;
    }
}

/// The controlling terminal, when the process has one.
#[cfg(unix)]
fn controlling_terminal() -> Option<Term> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let read = tty.try_clone().ok()?;
    let term = Term::read_write_pair(read, tty);
    term.is_term().then_some(term)
}

#[cfg(not(unix))]
fn controlling_terminal() -> Option<Term> {
    None
}

/// Ctrl-C at a question; the caller says what was done by then.
/// The keys that leave a menu without a choice: Esc or q cancels (the menu cleared away),
/// Ctrl-C interrupts (`^C` shown); any other key is the menu's own.
fn menu_left(term: &Term, drawn_lines: usize, prompt: &str, key: &Key) -> Result<(), CliError> {
    match key {
        Key::Escape | Key::Char('q') => {
            term.clear_last_lines(drawn_lines).map_err(io_err)?;
            Err(CliError::failed(format!(
                "{prompt}: cancelled; nothing was chosen"
            )))
        }
        Key::CtrlC => {
            term.write_line("^C").map_err(io_err)?;
            Err(interrupted())
        }
        _ => Ok(()),
    }
}

/// Replaces the menu with one line: the prompt and what was chosen.
fn menu_chosen(
    term: &Term,
    drawn_lines: usize,
    prompt: &str,
    chosen: &str,
) -> Result<(), CliError> {
    term.clear_last_lines(drawn_lines).map_err(io_err)?;
    term.write_line(&format!("{prompt}: {chosen}"))
        .map_err(io_err)
}

fn interrupted() -> CliError {
    CliError::new(ExitKind::Interrupted, "interrupted")
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
