//! The SQL of [`Filter`] queries, written once for every backend: `?`
//! placeholders and [`Param`] values, which each backend binds its own way
//! (SQLite as is; PostgreSQL after [`numbered`] rewrites `?` to `$1`, `$2`…).
//! Only portable SQL here: `LIKE … ESCAPE`, row-value comparison, `LIMIT`.
//!
//! To add a read query to both backends, build it here (or in a sibling
//! file) as `(String, Vec<Param>)` and add one thin method per backend that
//! runs it: `sqlite_*.rs` and `pg_*.rs`.

use super::row::unix_ms;
use super::Filter;

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
}

/// Rewrites the `?` placeholders of portable SQL to PostgreSQL's `$n`. The
/// SQL built here never has a `?` inside a string literal.
pub(crate) fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// The `SELECT` for `filter` and its parameters, in order.
pub(crate) fn filter_sql(f: &Filter) -> (String, Vec<Param>) {
    let mut sql = String::from("SELECT id, record FROM messages WHERE 1 = 1");
    let mut values = Vec::new();
    if let Some(t) = f.since {
        sql.push_str(" AND ts >= ?");
        values.push(Param::Int(unix_ms(t)));
    }
    if let Some(t) = f.until {
        sql.push_str(" AND ts < ?");
        values.push(Param::Int(unix_ms(t)));
    }
    if let Some(s) = &f.sender {
        sql.push_str(
            " AND (original_mailfrom LIKE ? ESCAPE '\\' OR from_address LIKE ? ESCAPE '\\')",
        );
        values.push(contains(s));
        values.push(contains(s));
    }
    if let Some(d) = &f.sender_domain {
        let d = d.trim().trim_start_matches('@').to_lowercase();
        sql.push_str(" AND (sender_domain = ? OR from_address LIKE ? ESCAPE '\\')");
        let pattern = format!("%@{}", escape_like(&d));
        values.push(Param::Text(d));
        values.push(Param::Text(pattern));
    }
    if let Some(r) = &f.recipient {
        sql.push_str(
            " AND id IN (SELECT message_id FROM recipients WHERE address LIKE ? ESCAPE '\\')",
        );
        values.push(contains(r));
    }
    if let Some(s) = &f.subject {
        sql.push_str(" AND subject LIKE ? ESCAPE '\\'");
        values.push(contains(s));
    }
    if let Some(s) = &f.spf {
        sql.push_str(" AND spf_result = ?");
        values.push(Param::Text(s.trim().to_lowercase()));
    }
    if let Some(s) = &f.auth_source {
        sql.push_str(" AND auth_source = ?");
        values.push(Param::Text(s.trim().to_lowercase()));
    }
    if let Some(s) = &f.dkim {
        sql.push_str(" AND dkim_result = ?");
        values.push(Param::Text(s.trim().to_lowercase()));
    }
    if let Some(s) = &f.dmarc {
        sql.push_str(" AND dmarc_result = ?");
        values.push(Param::Text(s.trim().to_lowercase()));
    }
    if let Some(v) = f.verdict {
        sql.push_str(" AND verdict = ?");
        values.push(Param::Text(v.as_str().to_string()));
    }
    if let Some(n) = f.min_score {
        sql.push_str(" AND score >= ?");
        values.push(Param::Int(i64::from(n)));
    }
    if let Some(g) = &f.gateway {
        sql.push_str(" AND gateway_ip = ?");
        values.push(Param::Text(g.trim().to_string()));
    }
    if let Some(id) = f.after_id {
        // Keyset paging in the sort order: strictly older than that row.
        sql.push_str(" AND (ts, id) < (SELECT ts, id FROM messages WHERE id = ?)");
        values.push(Param::Int(id));
    }
    sql.push_str(" ORDER BY ts DESC, id DESC LIMIT ?");
    values.push(Param::Int(
        i64::try_from(f.effective_limit()).unwrap_or(i64::MAX),
    ));
    (sql, values)
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
        assert_eq!(
            numbered("a = ? AND b LIKE ? LIMIT ?"),
            "a = $1 AND b LIKE $2 LIMIT $3"
        );
        let (sql, params) = filter_sql(&Filter {
            spf: Some("FAIL".into()),
            ..Default::default()
        });
        assert_eq!(sql.matches('?').count(), params.len());
        assert_eq!(params[0], Param::Text("fail".into()));
    }
}
