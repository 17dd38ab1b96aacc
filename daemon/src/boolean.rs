//! [`parse_bool`]: a boolean setting as conda and anaconda-auth spell it. A leaf, so the
//! service client's settings and the configuration read booleans alike.

/// `false`, `0`, `no` and `off` (any case) are false; `true`, `1`, `yes`, `on` are true.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "false" | "0" | "no" | "off" => Some(false),
        "true" | "1" | "yes" | "on" => Some(true),
        _ => None,
    }
}
