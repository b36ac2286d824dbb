//! A wrapper that keeps secrets out of `Debug` output and logs.

use std::fmt;

/// A value that must never be printed: passwords, tokens, SASL responses.
///
/// `Debug` shows `Secret(<redacted>)`; the value is reachable only through
/// [`Secret::expose`], so every place that reveals it is easy to find.
///
/// ```
/// use smtp_proto::Secret;
/// let s = Secret::new(String::from("hunter2"));
/// assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
/// assert_eq!(s.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// Gives access to the secret value. Call sites of this method are the
    /// only places where the secret can leak: keep them few.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}
