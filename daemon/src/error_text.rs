//! An error told in one line: [`one_line`] over its [`chain`] of causes. A leaf, so the
//! service client, the crate error and the binary print errors alike.

/// An error and its causes on one line, outermost first, joined by `: `. A cause whose text
/// the line already holds is left out: many messages here name their source themselves
/// ("cannot read <path>: <cause>"), and printing the chain after them would say it twice.
pub fn one_line<'a>(
    causes: impl IntoIterator<Item = &'a (dyn std::error::Error + 'static)>,
) -> String {
    let mut line = String::new();
    for cause in causes {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// `e` and the causes below it (`source()`), outermost first.
pub fn chain<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}
