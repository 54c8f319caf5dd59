//! Who may receive a recipient warning (`notify_recipient`): only the
//! copy's envelope recipients (`Record::rcptto`, never a header field) whose
//! domain is one of `[analysis] org_domains` or a subdomain of one.
//!
//! The address must also be plain: a dot-atom local part of letters,
//! digits and `. _ + - = '`. Quoted local parts, `%` and `!` (which some
//! relays still route on: `victim%outside.example@example.com`), a second
//! `@` or a source route are refused, so the relay cannot be talked into
//! delivering a warning outside the organisation.

/// The organisation's domains, as lowercased A-labels.
#[derive(Debug, Clone, Default)]
pub struct OrgDomains(Vec<String>);

impl OrgDomains {
    /// From `[analysis] org_domains` (already lowercased A-labels); empty
    /// allows nobody.
    pub fn new(domains: &[String]) -> OrgDomains {
        OrgDomains(
            domains
                .iter()
                .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect(),
        )
    }

    /// True if no domain is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a warning may go to `address`.
    pub fn allows(&self, address: &str) -> bool {
        let Some((local, domain)) = address.rsplit_once('@') else {
            return false;
        };
        if !plain_local_part(local) {
            return false;
        }
        let Ok(domain) = idna::domain_to_ascii(domain.trim_end_matches('.')) else {
            return false;
        };
        if domain.is_empty() || domain.starts_with('.') || domain.contains("..") {
            return false;
        }
        self.0.iter().any(|org| {
            domain == *org
                || domain
                    .strip_suffix(org.as_str())
                    .is_some_and(|head| head.ends_with('.'))
        })
    }

    /// The addresses of `rcptto` a warning may go to, lowercased and each
    /// once, in order.
    pub fn filter(&self, rcptto: &[String]) -> (Vec<String>, Vec<String>) {
        let mut allowed: Vec<String> = Vec::new();
        let mut refused = Vec::new();
        for r in rcptto {
            let r = r.trim().to_lowercase();
            if !self.allows(&r) {
                refused.push(r);
            } else if !allowed.contains(&r) {
                allowed.push(r);
            }
        }
        (allowed, refused)
    }
}

fn plain_local_part(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '+' | '-' | '=' | '\''))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org() -> OrgDomains {
        OrgDomains::new(&["example.com".into(), "xn--bcher-kva.example".into()])
    }

    #[test]
    fn org_domains_and_their_subdomains_only() {
        let o = org();
        for ok in [
            "bob@example.com",
            "Bob.Smith@Example.COM",
            "carol@eu.mail.example.com",
            "dave+tag@example.com.",
            "eve@bücher.example",
            "o'neil@example.com",
        ] {
            assert!(o.allows(ok), "{ok}");
        }
        for refused in [
            "bob@example.net",
            "bob@notexample.com",
            "bob@example.com.evil.test",
            "bob@xample.com",
            "victim%outside.test@example.com",
            "outside.test!victim@example.com",
            "\"victim@outside.test\"@example.com",
            "a@b@example.com",
            "@outside.test:bob@example.com",
            "bob@.example.com",
            "bob@sub..example.com",
            ".bob@example.com",
            "bob",
            "",
            "bob @example.com",
        ] {
            assert!(!o.allows(refused), "{refused}");
        }
        assert!(!OrgDomains::new(&[]).allows("bob@example.com"));
        assert!(OrgDomains::new(&[]).is_empty());
    }

    #[test]
    fn filter_splits_and_deduplicates() {
        let rcpts = [
            "bob@example.com".to_string(),
            "mallory@evil.test".to_string(),
            "BOB@example.com".to_string(),
            "carol@hr.example.com".to_string(),
        ];
        let (allowed, refused) = org().filter(&rcpts);
        assert_eq!(allowed, ["bob@example.com", "carol@hr.example.com"]);
        assert_eq!(refused, ["mallory@evil.test"]);
    }
}
