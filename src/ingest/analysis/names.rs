//! `display-name-impersonation`: a protected person's name (`[analysis]
//! vip_names`) in the `From:` display name of mail from outside the
//! organisation domains, or an address in the display name
//! (`"ceo@example.com" <x@elsewhere.test>`) whose organisational domain is
//! not the sender's.
//!
//! Names are compared as sets of words after case folding and the UTS #39
//! confusable skeleton (so `Jоhn Smith` with a Cyrillic `о`, or
//! `SMITH, John`, still match `John Smith`).

use super::lookalike::fold;
use super::{domain_of, from_domain, org_of, reason};
use crate::config::AnalysisConfig;
use crate::model::{Reason, Record};

pub(super) fn check(rec: &Record, cfg: &AnalysisConfig, out: &mut Vec<Reason>) {
    let Some(from) = rec.from.as_ref() else {
        return;
    };
    let Some(name) = from.name.as_deref().filter(|n| !n.trim().is_empty()) else {
        return;
    };
    let domain = from_domain(rec).unwrap_or_default();
    let org = org_of(&domain);
    let inside = cfg.org_domains.iter().any(|d| org_of(d) == org);
    if !inside {
        let have = words(name);
        if let Some(vip) = cfg.vip_names.iter().find(|v| {
            let want = words(v);
            !want.is_empty() && want.iter().all(|w| have.contains(w))
        }) {
            out.push(reason(
                "display-name-impersonation",
                4,
                format!(
                    "display name {name:?} matches protected name {vip:?} but the mail is from \
                     {domain}, not an organisation domain"
                ),
            ));
            return;
        }
    }
    if let Some(other) = name
        .split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '(' | ')' | '"' | '\''))
        .filter(|t| t.contains('@'))
        .filter_map(domain_of)
        .find(|d| d.contains('.') && org_of(d) != org)
    {
        out.push(reason(
            "display-name-impersonation",
            3,
            format!(
                "display name {name:?} shows an address in {other} but the mail is from {domain}"
            ),
        ));
    }
}

/// The words of a name, folded; punctuation separates words.
fn words(name: &str) -> Vec<String> {
    fold(name)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn folding() {
        assert_eq!(words("SMITH, John"), words("smith john"));
        assert_eq!(words("SMITH, John").len(), 2);
        // Cyrillic о (U+043E) folds like Latin o.
        assert_eq!(words("J\u{43e}hn"), words("John"));
        assert_ne!(words("Joan"), words("John"));
    }
}
