//! [`Cause`]: another library's error kept inside an error that must stay `Clone` and `Eq`.

use std::fmt;
use std::sync::Arc;

/// Another library's error (an image codec, a signer) kept as the `source` of one of melli's
/// errors that are `Clone` and `Eq`: shared, and equal when it says the same. It shows as the
/// error itself and goes on to that error's own source.
#[derive(Clone)]
pub struct Cause(Arc<dyn std::error::Error + Send + Sync>);

impl Cause {
    pub fn new(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Cause(Arc::new(e))
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// The same when it says the same: a codec's or a signer's error has no equality of its own.
impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Cause {}
