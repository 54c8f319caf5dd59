//! `postfix-config --format postconf`: the main.cf and master.cf lines of
//! the template turned into `postconf -e`, `-M` and `-P` commands that merge
//! with a live configuration instead of replacing it: list parameters that a
//! host may already use (`smtpd_milters`, `header_checks`, `transport_maps`,
//! `recipient_bcc_maps`) get our entry added once, never overwritten, so
//! running the script twice changes nothing the second time and postconf
//! never warns "overriding earlier entry".

/// List parameters merged, and whether our entry goes first: a header
/// check or a transport of ours must win over a catch-all the host has,
/// and our transport map matches only our own pseudo-domains.
const LISTS: [(&str, bool); 4] = [
    ("smtpd_milters", false),
    ("header_checks", true),
    ("transport_maps", true),
    ("recipient_bcc_maps", false),
];

const PREAMBLE: &str = r#"#!/bin/sh
# authsense postfix-config: postconf commands that merge authsense into an
# existing Postfix configuration. Review, then run as root and reload:
#     sh THIS-FILE && postfix reload
# MAIL_CONFIG=/etc/postfix-other selects another instance. Running it again
# changes nothing: list parameters get our entry once, in front of or after
# what the host already has. main.cf is changed by one postconf -e at the
# end of its section (so postconf never sees half of it).
set -eu

# merge NAME VALUE first|last: the list parameter NAME with VALUE in it, once.
merge() {
    cur=$(postconf -h "$1")
    if printf '%s\n' "$cur" | tr ', \t' '\n\n\n' | grep -qxF -- "$2"; then
        printf '%s' "$cur"
    elif [ -z "$cur" ]; then
        printf '%s' "$2"
    elif [ "$3" = first ]; then
        printf '%s, %s' "$2" "$cur"
    else
        printf '%s, %s' "$cur" "$2"
    fi
}
set --
"#;

/// Shell single quotes around `s`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Translates the `files` rendering (main.cf part, then master.cf part).
pub fn script(files: &str) -> String {
    let mut out = String::from(PREAMBLE);
    let mut master = false;
    let mut service = String::new();
    for line in files.lines() {
        if line.starts_with("# ===== master.cf") {
            master = true;
            out.push_str("postconf -e \"$@\"\n\n# ----- master.cf (postconf -M and -P) -----\n");
        } else if line.starts_with("# ===== main.cf") {
            out.push_str("\n# ----- main.cf (postconf -e) -----\n");
        } else if let Some(comment) = line.trim_start().strip_prefix('#') {
            out.push_str(&format!("#{comment}\n"));
        } else if line.trim().is_empty() {
            out.push('\n');
        } else if !master {
            out.push_str(&main_cf(line));
        } else if let Some(opt) = line.trim_start().strip_prefix("-o ") {
            out.push_str(&format!(
                "postconf -P {}\n",
                quote(&format!("{service}/{opt}"))
            ));
        } else {
            let mut f = line.split_whitespace();
            service = format!("{}/{}", f.next().unwrap_or(""), f.next().unwrap_or(""));
            out.push_str(&format!(
                "postconf -M {}\n",
                quote(&format!("{service}={line}"))
            ));
        }
    }
    if !master {
        out.push_str("postconf -e \"$@\"\n");
    }
    out
}

/// One `name = value` line of main.cf as a command.
fn main_cf(line: &str) -> String {
    let (name, value) = line.split_once('=').unwrap_or((line, ""));
    let (name, value) = (name.trim(), value.trim());
    match LISTS.iter().find(|(n, _)| *n == name) {
        Some((_, first)) => format!(
            "set -- \"$@\" \"{name} = $(merge {name} {} {})\"\n",
            quote(value),
            if *first { "first" } else { "last" }
        ),
        None => format!("set -- \"$@\" {}\n", quote(&format!("{name} = {value}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_merge_and_master_entries_become_m_and_p() {
        let files = "# ===== main.cf (x) =====\n# why\nsmtpd_milters = inet:127.0.0.1:8897\n\
                     milter_default_action = accept\nheader_checks = $authsense_header_checks\n\
                     # ===== master.cf (x) =====\nsvc unix - - n - - smtp\n  # inner\n  -o a=b c\n";
        let s = script(files);
        let add =
            |n: &str, v: &str, w: &str| format!("set -- \"$@\" \"{n} = $(merge {n} '{v}' {w})\"\n");
        assert!(
            s.contains(&add("smtpd_milters", "inet:127.0.0.1:8897", "last")),
            "{s}"
        );
        assert!(
            s.contains(&add("header_checks", "$authsense_header_checks", "first")),
            "{s}"
        );
        assert!(
            s.contains("set -- \"$@\" 'milter_default_action = accept'\n"),
            "{s}"
        );
        assert!(s.contains("postconf -e \"$@\"\n\n# ----- master.cf"), "{s}");
        assert!(
            s.contains("postconf -M 'svc/unix=svc unix - - n - - smtp'\n"),
            "{s}"
        );
        assert!(s.contains("postconf -P 'svc/unix/a=b c'\n"), "{s}");
        assert!(s.contains("# why\n") && s.contains("# inner\n"), "{s}");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
