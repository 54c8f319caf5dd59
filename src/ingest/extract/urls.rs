//! URLs in text and HTML bodies: found with `linkify` in text, and in the
//! `href`/`src` attributes and text of HTML; kept in order of first
//! appearance, deduplicated, capped.
//!
//! Only absolute URLs with an authority (`scheme://host…`) are kept, since
//! the host is what the record is for; `mailto:`, relative and
//! protocol-relative references are skipped. In HTML, attribute values and
//! text are entity-decoded (`&amp;`, `&#38;`, `&#x26;`, …) first.

use std::collections::HashSet;

use linkify::{LinkFinder, LinkKind};

use crate::model::UrlInfo;

/// Collects URLs until `cap` distinct ones are found.
pub struct UrlCollector {
    seen: HashSet<String>,
    /// The URLs in order of first appearance.
    pub urls: Vec<UrlInfo>,
    cap: usize,
    /// The cap was hit and later URLs were dropped.
    pub truncated: bool,
    /// Forwarded-message depth recorded with the URLs added next.
    pub depth: u32,
    finder: LinkFinder,
}

impl UrlCollector {
    /// An empty collector that keeps at most `cap` URLs.
    pub fn new(cap: usize) -> Self {
        let mut finder = LinkFinder::new();
        finder.kinds(&[LinkKind::Url]);
        UrlCollector {
            seen: HashSet::new(),
            urls: Vec::new(),
            cap,
            truncated: false,
            depth: 0,
            finder,
        }
    }

    /// Adds the URLs of a text/plain body.
    pub fn add_text(&mut self, text: &str) {
        let found: Vec<String> = self
            .finder
            .links(text)
            .map(|l| l.as_str().to_string())
            .collect();
        for url in found {
            self.push(&url);
        }
    }

    /// Adds the URLs of a text/html body: `href`/`src` attribute values and
    /// URLs in the text between tags, in document order. Comments are
    /// skipped.
    pub fn add_html(&mut self, html: &str) {
        let mut rest = html;
        while !rest.is_empty() && !self.truncated {
            let Some(lt) = rest.find('<') else {
                self.add_text(&decode_entities(rest));
                break;
            };
            self.add_text(&decode_entities(&rest[..lt]));
            rest = &rest[lt..];
            if rest.starts_with("<!--") {
                rest = rest.find("-->").map_or("", |end| &rest[end + 3..]);
                continue;
            }
            let end = tag_end(rest);
            for value in url_attributes(&rest[1..end]) {
                self.push(&decode_entities(value));
            }
            rest = rest.get(end + 1..).unwrap_or("");
        }
    }

    fn push(&mut self, url: &str) {
        let url = url.trim();
        let Some(host) = host_of(url) else {
            return;
        };
        if self.seen.contains(url) {
            return;
        }
        if self.urls.len() >= self.cap {
            self.truncated = true;
            return;
        }
        self.seen.insert(url.to_string());
        self.urls.push(UrlInfo {
            url: url.to_string(),
            host,
            depth: self.depth,
        });
    }
}

/// Index of the `>` that closes the tag starting at `tag[0] == '<'`
/// (quotes respected), or the length if unclosed.
fn tag_end(tag: &str) -> usize {
    let mut quote: Option<char> = None;
    for (i, c) in tag.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if q == c => quote = None,
            (None, '>') => return i,
            _ => {}
        }
    }
    tag.len()
}

/// Values of the `href` and `src` attributes inside a tag's text.
fn url_attributes(tag: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = tag.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // attribute name
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let name_start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'/') {
            i += 1;
        }
        let name = tag.get(name_start..i).unwrap_or_default();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            if i == name_start {
                i += 1;
            }
            continue;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let (start, end) = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let start = i + 1;
                let len = b[start..]
                    .iter()
                    .position(|&c| c == q)
                    .unwrap_or(b.len() - start);
                i = start + len + 1;
                (start, start + len)
            }
            _ => {
                let start = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                (start, i)
            }
        };
        if name.eq_ignore_ascii_case("href") || name.eq_ignore_ascii_case("src") {
            if let Some(v) = tag.get(start..end) {
                out.push(v);
            }
        }
    }
    out
}

/// Decodes the character references HTML mail uses in URLs and text.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let semi = rest.bytes().take(12).position(|b| b == b';');
        let decoded = semi.and_then(|semi| {
            let name = &rest[1..semi];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => match name.strip_prefix('#') {
                    Some(n) => match n.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => n.parse().ok(),
                    }
                    .and_then(char::from_u32),
                    None => None,
                },
            };
            c.map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The lowercased host of an absolute `scheme://[userinfo@]host[:port]/…`
/// URL, or `None` if it has no scheme or no host.
pub fn host_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    let authority = rest.split(['/', '?', '#', '\\']).next().unwrap_or_default();
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        hostport.split(':').next().unwrap_or_default()
    };
    (!host.is_empty()).then(|| host.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(c: &UrlCollector) -> Vec<(&str, &str)> {
        c.urls
            .iter()
            .map(|u| (u.url.as_str(), u.host.as_str()))
            .collect()
    }

    #[test]
    fn hosts() {
        let cases = [
            ("https://Example.COM/a", Some("example.com")),
            (
                "http://user:pw@Host.example:8080/x?y#z",
                Some("host.example"),
            ),
            ("http://[2001:DB8::1]:80/", Some("2001:db8::1")),
            ("https://example.org?q=1", Some("example.org")),
            ("mailto:a@example.org", None),
            ("//example.org/x", None),
            ("http:///path", None),
        ];
        for (url, want) in cases {
            assert_eq!(host_of(url).as_deref(), want, "{url}");
        }
    }

    #[test]
    fn text_and_html() {
        let mut c = UrlCollector::new(100);
        c.add_text("see https://example.org/a and https://example.org/a, then http://B.example/x.");
        c.add_html(
            "<p class=x><a href=\"https://example.org/a?x=1&amp;y=2\">click</a> \
             <img src='http://img.example/p.png'> <!-- http://hidden.example/ --> \
             text http://text.example/t &lt;<a href=/relative>r</a> <a HREF=https://bare.example/b>b</a></p>",
        );
        assert_eq!(
            urls(&c),
            vec![
                ("https://example.org/a", "example.org"),
                ("http://B.example/x", "b.example"),
                ("https://example.org/a?x=1&y=2", "example.org"),
                ("http://img.example/p.png", "img.example"),
                ("http://text.example/t", "text.example"),
                ("https://bare.example/b", "bare.example"),
            ]
        );
        assert!(!c.truncated);
    }

    #[test]
    fn cap() {
        let mut c = UrlCollector::new(2);
        c.add_text("http://a.example/ http://b.example/ http://a.example/ http://c.example/");
        assert_eq!(c.urls.len(), 2);
        assert!(c.truncated);
    }

    #[test]
    fn entities() {
        assert_eq!(
            decode_entities("a&amp;b&#38;c&#x26;d&bogus;e&"),
            "a&b&c&d&bogus;e&"
        );
    }
}
