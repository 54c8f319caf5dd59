//! The SPF result keywords (RFC 7208 §2.6), shared by the milter that
//! writes them, the configuration that names them and the sensor that reads
//! them.

use std::{fmt, str::FromStr};

/// An SPF result (RFC 7208 §2.6), as written into Authentication-Results
/// (RFC 8601 §2.7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpfResult {
    /// No SPF record, or no checkable domain (§2.6.1).
    None,
    /// The domain asserts nothing (`?`, §2.6.2).
    Neutral,
    /// The client is authorised (§2.6.3).
    Pass,
    /// The client is explicitly not authorised (§2.6.4).
    Fail,
    /// Weak statement of non-authorisation (`~`, §2.6.5).
    SoftFail,
    /// Transient DNS failure (§2.6.6).
    TempError,
    /// The records could not be interpreted (§2.6.7).
    PermError,
}

impl SpfResult {
    /// All results, in RFC order.
    pub const ALL: [SpfResult; 7] = [
        SpfResult::None,
        SpfResult::Neutral,
        SpfResult::Pass,
        SpfResult::Fail,
        SpfResult::SoftFail,
        SpfResult::TempError,
        SpfResult::PermError,
    ];

    /// The lowercase result keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for SpfResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SpfResult {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SpfResult::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown SPF result {s:?}: want none, neutral, pass, fail, softfail, temperror or permerror")
            })
    }
}
