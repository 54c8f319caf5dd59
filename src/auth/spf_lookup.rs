//! viaspf's DNS seam over the shared hickory resolver of [`crate::dns`]:
//! every SPF query goes through the configured nameservers, timeouts and
//! retries, the resolver's cache and its hit/miss metrics.
//!
//! Names are handed to hickory label by label as raw octets, so a name a
//! macro expanded to (spaces, `%`, any byte but `.`) is queried as is
//! (RFC 7208 §7.1). NXDOMAIN and empty answers are "no records"; a timeout
//! and every other failure (SERVFAIL, REFUSED, no reachable server) stay
//! errors, which viaspf turns into temperror (§4.4, §5).

use async_trait::async_trait;
use mail_auth::hickory_resolver::{
    net::NetError,
    proto::rr::{Name as DnsName, RData, RecordType},
    TokioResolver,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use viaspf::lookup::{Lookup, LookupError, LookupResult, Name};

/// One evaluation's view of the resolver.
pub(super) struct DnsLookup<'a> {
    resolver: &'a TokioResolver,
}

impl<'a> DnsLookup<'a> {
    pub(super) fn new(resolver: &'a TokioResolver) -> Self {
        DnsLookup { resolver }
    }

    /// The answer records of one query, or the lookup error viaspf expects.
    async fn query(&self, name: &Name, ty: RecordType) -> LookupResult<Vec<RData>> {
        self.answers(to_dns_name(name)?, ty).await
    }

    async fn answers(&self, name: DnsName, ty: RecordType) -> LookupResult<Vec<RData>> {
        match self.resolver.lookup(name, ty).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter(|rr| rr.record_type() == ty)
                .map(|rr| rr.data.clone())
                .collect()),
            Err(e) => Err(lookup_error(e)),
        }
    }
}

#[async_trait]
impl Lookup for DnsLookup<'_> {
    async fn lookup_a<'l, 'n>(&'l self, name: &'n Name) -> LookupResult<Vec<Ipv4Addr>> {
        let answers = self.query(name, RecordType::A).await?;
        Ok(answers
            .into_iter()
            .filter_map(|d| match d {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect())
    }

    async fn lookup_aaaa<'l, 'n>(&'l self, name: &'n Name) -> LookupResult<Vec<Ipv6Addr>> {
        let answers = self.query(name, RecordType::AAAA).await?;
        Ok(answers
            .into_iter()
            .filter_map(|d| match d {
                RData::AAAA(a) => Some(a.0),
                _ => None,
            })
            .collect())
    }

    /// Exchanges by preference; one that is no usable name (the null MX
    /// `.`, RFC 7505) is left out.
    async fn lookup_mx<'l, 'n>(&'l self, name: &'n Name) -> LookupResult<Vec<Name>> {
        let mut mx: Vec<(u16, DnsName)> = self
            .query(name, RecordType::MX)
            .await?
            .into_iter()
            .filter_map(|d| match d {
                RData::MX(mx) => Some((mx.preference, mx.exchange)),
                _ => None,
            })
            .collect();
        mx.sort_by_key(|(pref, _)| *pref);
        Ok(mx.iter().filter_map(|(_, n)| from_dns_name(n)).collect())
    }

    /// Each record's character-strings joined without a separator; bytes
    /// that are not UTF-8 become U+FFFD, which no SPF record or explanation
    /// may contain (§3.1, §7.1), so such text is a syntax error, not a match.
    async fn lookup_txt<'l, 'n>(&'l self, name: &'n Name) -> LookupResult<Vec<String>> {
        let answers = self.query(name, RecordType::TXT).await?;
        Ok(answers
            .into_iter()
            .filter_map(|d| match d {
                RData::TXT(txt) => Some(String::from_utf8_lossy(&txt.txt_data.concat()).into()),
                _ => None,
            })
            .collect())
    }

    /// PTR names; one that is no usable name is left out (it cannot be
    /// validated, §5.5).
    async fn lookup_ptr<'l>(&'l self, ip: IpAddr) -> LookupResult<Vec<Name>> {
        let answers = self.answers(DnsName::from(ip), RecordType::PTR).await?;
        Ok(answers
            .iter()
            .filter_map(|d| match d {
                RData::PTR(ptr) => from_dns_name(&ptr.0),
                _ => None,
            })
            .collect())
    }
}

/// viaspf's name (already checked: 1–63 octet labels, at most 253 octets)
/// as an absolute hickory name of raw labels.
fn to_dns_name(name: &Name) -> LookupResult<DnsName> {
    let labels = name.as_str().trim_end_matches('.').split('.');
    DnsName::from_labels(labels.map(str::as_bytes)).map_err(|e| LookupError::Dns(Some(Box::new(e))))
}

/// An answer's name (MX exchange, PTR target) from its raw labels, not
/// hickory's escaped presentation form, so it is queried as it was given.
fn from_dns_name(name: &DnsName) -> Option<Name> {
    let labels: Vec<String> = name
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    Name::new(&labels.join(".")).ok()
}

/// NXDOMAIN or NOERROR without records are "no records" (§4.4, §5: void);
/// a timeout is a timeout; anything else is an error (temperror).
fn lookup_error(e: NetError) -> LookupError {
    if e.is_no_records_found() {
        LookupError::NoRecords
    } else if matches!(e, NetError::Timeout) {
        LookupError::Timeout
    } else {
        LookupError::Dns(Some(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_raw_labels() {
        let name = Name::new("macro%percent  space%20url-space.example.com").unwrap();
        let dns = to_dns_name(&name).unwrap();
        assert!(dns.is_fqdn());
        assert_eq!(dns.num_labels(), 3);
        assert_eq!(
            dns.iter().next(),
            Some(&b"macro%percent  space%20url-space"[..])
        );
    }

    #[test]
    fn answer_names_back() {
        let n: DnsName = "mail.example.org.".parse().unwrap();
        assert_eq!(
            from_dns_name(&n).map(|n| n.to_string()),
            Some("mail.example.org".into())
        );
        assert!(from_dns_name(&DnsName::root()).is_none());
        let raw = DnsName::from_labels([&b"foo:bar/baz"[..], b"example", b"com"]).unwrap();
        assert_eq!(
            from_dns_name(&raw).map(|n| n.to_string()),
            Some("foo:bar/baz.example.com".into())
        );
    }
}
