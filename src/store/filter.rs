//! [`Filter`], what `Store::query` selects, and its SQL, written once for
//! every backend: numbered `?1`, `?2`… placeholders and [`Param`] values,
//! which each backend binds its own way (SQLite as is; PostgreSQL after
//! `sql::for_postgres` renders `$1`, `$2`…). Only portable SQL here:
//! `LIKE … ESCAPE`, row-value comparison, `LIMIT`.

use super::row::unix_ms;
use crate::model::Verdict;
use std::time::SystemTime;

/// Which records [`Store::query`](super::Store::query) returns. Every set field must match;
/// text matches are case-insensitive. Results are newest first (receive
/// time, then row id).
#[derive(Default, Clone, Debug)]
pub struct Filter {
    /// Received at or after this time.
    pub since: Option<SystemTime>,
    /// Received before this time.
    pub until: Option<SystemTime>,
    /// Substring of the original envelope sender (`original.mailfrom`) or
    /// of the `From:` address.
    pub sender: Option<String>,
    /// Exact domain of the original envelope sender (or, without one, of
    /// `From:`), or exact domain of the `From:` address.
    pub sender_domain: Option<String>,
    /// Substring of an envelope recipient (`rcptto`) or a `To:`/`Cc:`
    /// address.
    pub recipient: Option<String>,
    /// Substring of the subject.
    pub subject: Option<String>,
    /// SPF result, e.g. `fail`.
    pub spf: Option<String>,
    /// Where the results came from: `x-agari`, `authentication-results` or
    /// `none`.
    pub auth_source: Option<String>,
    /// DKIM result (`pass` matches a copy with any passing signature).
    pub dkim: Option<String>,
    /// DMARC result.
    pub dmarc: Option<String>,
    /// Analysis verdict.
    pub verdict: Option<Verdict>,
    /// Analysis score at least this.
    pub min_score: Option<u8>,
    /// Gateway (peer) IP address, exact.
    pub gateway: Option<String>,
    /// At most this many records. Default [`Filter::DEFAULT_LIMIT`].
    pub limit: Option<usize>,
    /// Paging: only records after (older than) the record with this id in
    /// the result order; pass the last id of the previous page. An id that
    /// no longer exists yields an empty page.
    pub after_id: Option<i64>,
}

impl Filter {
    /// The limit when [`Filter::limit`] is `None`.
    pub const DEFAULT_LIMIT: usize = 100;

    /// The limit in force.
    pub fn effective_limit(&self) -> usize {
        self.limit.unwrap_or(Self::DEFAULT_LIMIT)
    }
}

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
}

/// SQL under construction and its parameters, in placeholder order.
struct Query {
    sql: String,
    values: Vec<Param>,
}

impl Query {
    /// Adds `value` and returns its placeholder (`?1` for the first).
    fn bind(&mut self, value: Param) -> String {
        self.values.push(value);
        format!("?{}", self.values.len())
    }

    /// Appends ` AND {column} = ?n` for `value`.
    fn equals(&mut self, column: &str, value: Param) {
        let p = self.bind(value);
        self.sql.push_str(&format!(" AND {column} = {p}"));
    }
}

/// The `SELECT` for `filter` and its parameters, in order.
pub(crate) fn filter_sql(f: &Filter) -> (String, Vec<Param>) {
    let mut q = Query {
        sql: String::from("SELECT id, record FROM messages WHERE 1 = 1"),
        values: Vec::new(),
    };
    if let Some(t) = f.since {
        let p = q.bind(Param::Int(unix_ms(t)));
        q.sql.push_str(&format!(" AND ts >= {p}"));
    }
    if let Some(t) = f.until {
        let p = q.bind(Param::Int(unix_ms(t)));
        q.sql.push_str(&format!(" AND ts < {p}"));
    }
    if let Some(s) = &f.sender {
        let p = q.bind(contains(s));
        q.sql.push_str(&format!(
            " AND (original_mailfrom LIKE {p} ESCAPE '\\' OR from_address LIKE {p} ESCAPE '\\')"
        ));
    }
    if let Some(d) = &f.sender_domain {
        let d = d.trim().trim_start_matches('@').to_lowercase();
        let pattern = format!("%@{}", escape_like(&d));
        let (p, like) = (q.bind(Param::Text(d)), q.bind(Param::Text(pattern)));
        q.sql.push_str(&format!(
            " AND (sender_domain = {p} OR from_address LIKE {like} ESCAPE '\\')"
        ));
    }
    if let Some(r) = &f.recipient {
        let p = q.bind(contains(r));
        q.sql.push_str(&format!(
            " AND id IN (SELECT message_id FROM recipients WHERE address LIKE {p} ESCAPE '\\')"
        ));
    }
    if let Some(s) = &f.subject {
        let p = q.bind(contains(s));
        q.sql
            .push_str(&format!(" AND subject LIKE {p} ESCAPE '\\'"));
    }
    let token = |s: &String| Param::Text(s.trim().to_lowercase());
    for (column, value) in [
        ("spf_result", &f.spf),
        ("auth_source", &f.auth_source),
        ("dkim_result", &f.dkim),
        ("dmarc_result", &f.dmarc),
    ] {
        if let Some(s) = value {
            q.equals(column, token(s));
        }
    }
    if let Some(v) = f.verdict {
        q.equals("verdict", Param::Text(v.as_str().to_string()));
    }
    if let Some(n) = f.min_score {
        let p = q.bind(Param::Int(i64::from(n)));
        q.sql.push_str(&format!(" AND score >= {p}"));
    }
    if let Some(g) = &f.gateway {
        q.equals("gateway_ip", Param::Text(g.trim().to_string()));
    }
    if let Some(id) = f.after_id {
        // Keyset paging in the sort order: strictly older than that row.
        let p = q.bind(Param::Int(id));
        q.sql.push_str(&format!(
            " AND (ts, id) < (SELECT ts, id FROM messages WHERE id = {p})"
        ));
    }
    let limit = i64::try_from(f.effective_limit()).unwrap_or(i64::MAX);
    let p = q.bind(Param::Int(limit));
    q.sql
        .push_str(&format!(" ORDER BY ts DESC, id DESC LIMIT {p}"));
    (q.sql, q.values)
}

/// A case-insensitive substring pattern (filter columns are lowercased).
fn contains(s: &str) -> Param {
    Param::Text(format!("%{}%", escape_like(&s.to_lowercase())))
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders_in_order() {
        let (sql, params) = filter_sql(&Filter {
            spf: Some("FAIL".into()),
            sender: Some("Bob".into()),
            ..Default::default()
        });
        assert!(sql.contains("original_mailfrom LIKE ?1 ESCAPE '\\' OR from_address LIKE ?1"));
        assert!(
            sql.contains("spf_result = ?2") && sql.ends_with("LIMIT ?3"),
            "{sql}"
        );
        assert_eq!(
            params,
            [
                Param::Text("%bob%".into()),
                Param::Text("fail".into()),
                Param::Int(100)
            ]
        );
        let pg = super::super::sql::for_postgres(&sql);
        assert!(pg.contains("LIKE $1") && pg.ends_with("LIMIT $3") && !pg.contains('?'));
    }
}
