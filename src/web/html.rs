//! HTML building blocks: escaping and the page frame with its inline
//! stylesheet (no external assets, so the pages work offline).
//!
//! Every value from a record (subjects, addresses, header text) is
//! attacker-controlled: it reaches the page only through [`esc`]. A template
//! crate would do the same for three small pages at the price of a
//! dependency and a macro language; one escape function is easy to audit.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// [`esc`] of an optional value, `-` when absent.
pub fn esc_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "-".to_string(), esc)
}

const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#243447;color:#fff;padding:.6em 1em}
header a{color:#fff;margin-right:1.2em;text-decoration:none;font-weight:600}
main{padding:1em}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top;font-size:.9em}
th{background:#eef1f4}
.state{display:inline-block;padding:.15em .6em;border-radius:.8em;color:#fff;font-weight:700}
.state-green{background:#2e8b57}.state-yellow{background:#d4a017}.state-red{background:#c0392b}
.verdict-malicious{color:#c0392b;font-weight:700}.verdict-suspicious{color:#b8860b;font-weight:700}
form.search{display:flex;flex-wrap:wrap;gap:.4em;margin-bottom:1em}
form.search input,form.search select{padding:.2em}
dl.record{display:grid;grid-template-columns:12em 1fr;gap:.2em 1em;background:#fff;padding:1em}
dl.record dt{font-weight:600}
dl.record dd{margin:0;word-break:break-all}
svg.spark rect{fill:#4a78a8}
.muted{color:#777}
";

/// A complete page with the navigation bar.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{} · authsense</title><style>{STYLE}</style></head>\
         <body><header><a href=\"/\">Sensors status</a><a href=\"/messages\">Messages</a>\
         <span class=\"muted\">authsense</span></header><main>{body}</main></body></html>\n",
        esc(title)
    )
}

/// An HTML response.
pub fn respond(code: StatusCode, title: &str, body: &str) -> Response {
    (code, Html(page(title, body))).into_response()
}

/// A bar sparkline of per-minute counts (inline SVG).
pub fn sparkline(counts: &[u64]) -> String {
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let mut bars = String::new();
    for (i, &n) in counts.iter().enumerate() {
        let h = (n as f64 / max * 20.0).round();
        bars.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"2\" height=\"{h}\"/>",
            i * 2,
            20.0 - h
        ));
    }
    format!(
        "<svg class=\"spark\" width=\"{}\" height=\"20\" role=\"img\" aria-label=\"copies per minute\">{bars}</svg>",
        counts.len() * 2
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            super::esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }
}
