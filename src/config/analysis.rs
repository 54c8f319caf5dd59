//! `[analysis]`: what the per-record analysis protects, and its thresholds
//! (the rules themselves are described in `src/sensor/analysis/mod.rs` and
//! `docs/analysis.md`).
//!
//! Values are checked while parsing: a domain that is not a host name, a
//! threshold outside 1–10 or a suspicious threshold above the malicious one
//! is an error naming the key.

use serde::{Deserialize, Deserializer};

/// Identifier alignment mode used by the `dmarc-unaligned` rule (RFC 7489
/// §3.1: `adkim`/`aspf`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Alignment {
    /// Organisational domains (Public Suffix List) must be equal.
    #[default]
    Relaxed,
    /// The domains must be equal.
    Strict,
}

/// `[analysis]` section.
/// Parsed through `Raw`, which refuses unknown keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "Raw")]
pub struct AnalysisConfig {
    /// The organisation's own domains, lowercased A-labels (lookalikes of
    /// these are flagged; mail from them may use a protected name).
    pub org_domains: Vec<String>,
    /// Protected people's display names (impersonation is flagged).
    pub vip_names: Vec<String>,
    /// Alignment mode of the `dmarc-unaligned` rule. Default relaxed.
    pub alignment: Alignment,
    /// Largest edit distance (insertions, deletions, substitutions and
    /// adjacent transpositions) at which a domain is a lookalike of an
    /// organisation domain; 0 leaves only confusable characters. Default 1.
    pub lookalike_max_distance: u8,
    /// Score from which a message is `suspicious`. Default 3.
    pub suspicious_score: u8,
    /// Score from which a message is `malicious`. Default 6.
    pub malicious_score: u8,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self {
            org_domains: Vec::new(),
            vip_names: Vec::new(),
            alignment: Alignment::Relaxed,
            lookalike_max_distance: 1,
            suspicious_score: 3,
            malicious_score: 6,
        }
    }
}

/// The section as written, before the cross-key check.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Raw {
    #[serde(deserialize_with = "de_domains")]
    org_domains: Vec<String>,
    vip_names: Vec<String>,
    alignment: Alignment,
    #[serde(deserialize_with = "de_distance")]
    lookalike_max_distance: u8,
    #[serde(deserialize_with = "de_score")]
    suspicious_score: u8,
    #[serde(deserialize_with = "de_score")]
    malicious_score: u8,
}

impl Default for Raw {
    fn default() -> Self {
        let d = AnalysisConfig::default();
        Raw {
            org_domains: d.org_domains,
            vip_names: d.vip_names,
            alignment: d.alignment,
            lookalike_max_distance: d.lookalike_max_distance,
            suspicious_score: d.suspicious_score,
            malicious_score: d.malicious_score,
        }
    }
}

impl TryFrom<Raw> for AnalysisConfig {
    type Error = String;
    fn try_from(r: Raw) -> Result<Self, String> {
        if r.suspicious_score > r.malicious_score {
            return Err(format!(
                "analysis.suspicious_score = {} is above analysis.malicious_score = {}",
                r.suspicious_score, r.malicious_score
            ));
        }
        Ok(AnalysisConfig {
            org_domains: r.org_domains,
            vip_names: r.vip_names,
            alignment: r.alignment,
            lookalike_max_distance: r.lookalike_max_distance,
            suspicious_score: r.suspicious_score,
            malicious_score: r.malicious_score,
        })
    }
}

/// Domains as lowercased A-labels (`bücher.example` becomes
/// `xn--bcher-kva.example`), so they compare with what mail headers carry.
fn de_domains<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| {
            let t = s.trim().trim_end_matches('.');
            idna::domain_to_ascii(t)
                .ok()
                .filter(|a| a.contains('.') && crate::model::organizational_domain(a).is_some())
                .ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "invalid organisation domain {s:?}: want a registrable domain such as \
                         \"example.com\""
                    ))
                })
        })
        .collect()
}

fn de_distance<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let n = i64::deserialize(d)?;
    u8::try_from(n)
        .ok()
        .filter(|n| *n <= 3)
        .ok_or_else(|| serde::de::Error::custom(format!("invalid edit distance {n}: want 0 to 3")))
}

fn de_score<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let n = i64::deserialize(d)?;
    u8::try_from(n)
        .ok()
        .filter(|n| (1..=10).contains(n))
        .ok_or_else(|| serde::de::Error::custom(format!("invalid score {n}: want 1 to 10")))
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn defaults_and_idn() {
        let c = Config::parse("[analysis]\norg_domains = [\"Bücher.Example.\"]\n").unwrap();
        assert_eq!(c.analysis.org_domains, ["xn--bcher-kva.example"]);
        assert_eq!(c.analysis.lookalike_max_distance, 1);
        assert_eq!(
            (c.analysis.suspicious_score, c.analysis.malicious_score),
            (3, 6)
        );
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("[analysis]\norg_domains = [\"co.uk\"]\n", "org_domains"),
            (
                "[analysis]\nlookalike_max_distance = 9\n",
                "lookalike_max_distance",
            ),
            ("[analysis]\nsuspicious_score = 0\n", "suspicious_score"),
            ("[analysis]\nalignment = \"loose\"\n", "alignment"),
            ("[analysis]\nbogus = 1\n", "bogus"),
            (
                "[analysis]\nsuspicious_score = 7\nmalicious_score = 5\n",
                "suspicious_score",
            ),
        ];
        for (text, key) in cases {
            let e = Config::parse(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text:?} gave {e}");
        }
    }
}
