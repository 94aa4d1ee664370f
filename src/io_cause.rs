//! [`IoCause`]: an `io::Error` kept as the `source()` of rev's error types.

use std::fmt;
use std::io;
use std::sync::Arc;

/// The I/O error under one of rev's errors (a file or folder that could not
/// be read or written), kept whole so a caller can ask its
/// [`io::ErrorKind`] rather than parse a message.
///
/// rev's error types are `Clone` and `PartialEq` (tests compare them, the
/// CLI keeps copies), which `io::Error` is not: it is shared behind an `Arc`,
/// and two causes are equal when their kind and text are. It displays as
/// the I/O error does, and is the `source()` of the error that holds it;
/// [`IoCause::io`] gives the `io::Error` itself.
#[derive(Debug, Clone)]
pub struct IoCause(Arc<io::Error>);

impl IoCause {
    /// The I/O error.
    pub fn io(&self) -> &io::Error {
        &self.0
    }

    /// Its kind (`NotFound`, `PermissionDenied`, ...).
    pub fn kind(&self) -> io::ErrorKind {
        self.0.kind()
    }
}

impl From<io::Error> for IoCause {
    fn from(e: io::Error) -> Self {
        IoCause(Arc::new(e))
    }
}

impl PartialEq for IoCause {
    fn eq(&self, other: &Self) -> bool {
        self.kind() == other.kind() && self.0.to_string() == other.0.to_string()
    }
}

impl Eq for IoCause {}

impl fmt::Display for IoCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Transparent, as `#[error(transparent)]` would be: the I/O error's text is
/// already this one's, so a chain of causes does not print it twice.
impl std::error::Error for IoCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_by_kind_and_text_and_displays_as_the_io_error() {
        let a = IoCause::from(io::Error::new(io::ErrorKind::NotFound, "gone"));
        assert_eq!(a, a.clone());
        assert_eq!(
            a,
            IoCause::from(io::Error::new(io::ErrorKind::NotFound, "gone"))
        );
        assert_ne!(
            a,
            IoCause::from(io::Error::new(io::ErrorKind::PermissionDenied, "gone"))
        );
        assert_ne!(
            a,
            IoCause::from(io::Error::new(io::ErrorKind::NotFound, "moved"))
        );
        assert_eq!(a.to_string(), "gone");
        assert_eq!(a.io().kind(), io::ErrorKind::NotFound);
    }
}
