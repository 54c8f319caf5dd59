//! Data-driven tests over the vendored third-party vectors in `tests/data/`
//! (see the PROVENANCE.md files there): every `parse()` example of the
//! Python `authres` 1.2.0 doctests, Mail::AuthenticationResults' real-world,
//! must-parse and must-fail headers, and the authserv-id deletion vectors of
//! glts' milters.

use super::super::{authserv_id, parse, AuthResults};

fn data(rel: &str) -> String {
    let path = format!("{}/tests/data/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(rel: &str) -> serde_json::Value {
    serde_json::from_str(&data(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Drops a leading `Authentication-Results:` field name, as the test
/// inputs carry one and [`parse`] takes only the value.
fn value_of(header: &str) -> &str {
    let name = "authentication-results:";
    match header.get(..name.len()) {
        Some(head) if head.eq_ignore_ascii_case(name) => &header[name.len()..],
        _ => header,
    }
}

/// One `parse('...')` call in the doctest file and what the doctest expects.
struct DocCase {
    line: usize,
    var: String,
    header: String,
    must_fail: bool,
    /// `(expression after "<var>.", expected repr)`.
    checks: Vec<(String, String)>,
    /// Outputs of a `for result in <var>.results:` loop printing method
    /// and result.
    loop_outputs: Vec<String>,
}

fn unrepr(s: &str) -> String {
    s.trim().trim_matches('\'').to_string()
}

/// The output lines of the statement ending at `lines[i]`.
fn outputs(lines: &[&str], mut i: usize) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    i += 1;
    while i < lines.len() && lines[i].starts_with("...") {
        i += 1;
    }
    while i < lines.len() && !lines[i].trim().is_empty() && !lines[i].starts_with(">>>") {
        out.push(lines[i].to_string());
        i += 1;
    }
    (out, i)
}

fn doctest_cases(text: &str) -> Vec<DocCase> {
    let lines: Vec<&str> = text.lines().collect();
    let mut cases: Vec<DocCase> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if let Some(at) = l.find(".parse('") {
            let start = at + ".parse('".len();
            let end = l.rfind("')").expect("closing quote");
            let assign = l[..at].rfind(" = ").expect("assignment");
            let var = l[..assign].split_whitespace().last().expect("variable");
            let in_try = l.starts_with(">>> try:")
                || (l.starts_with("...") && lines[i - 1].starts_with(">>> try:"));
            let (out, next) = outputs(&lines, i);
            cases.push(DocCase {
                line: i + 1,
                var: var.to_string(),
                header: l[start..end].to_string(),
                must_fail: in_try && out.iter().any(|o| o.contains("Syntax error")),
                checks: Vec::new(),
                loop_outputs: Vec::new(),
            });
            i = next;
            continue;
        }
        let Some(stmt) = l.strip_prefix(">>> ") else {
            i += 1;
            continue;
        };
        if stmt == "try:" && lines.get(i + 1).is_some_and(|n| n.contains(".parse('")) {
            i += 1;
            continue;
        }
        let (out, next) = outputs(&lines, i);
        if let Some(case) = cases.last_mut() {
            let expr = stmt
                .strip_prefix("str(")
                .and_then(|e| e.strip_suffix(')'))
                .unwrap_or(stmt);
            let prefix = format!("{}.", case.var);
            if stmt.starts_with("for result in ") && stmt.contains(&format!("{}.results", case.var))
            {
                case.loop_outputs = out.iter().map(|o| unrepr(o)).collect();
            } else if let (Some(field), [expected]) = (expr.strip_prefix(&prefix), out.as_slice()) {
                case.checks.push((field.to_string(), unrepr(expected)));
            }
        }
        i = next;
    }
    cases
}

/// Evaluates a doctest expression such as `results[0].properties[1].name`
/// against our parse result, in the Python package's vocabulary.
fn eval(ar: &AuthResults, field: &str) -> Option<String> {
    if field == "authserv_id" {
        return Some(ar.authserv_id.clone());
    }
    let rest = field.strip_prefix("results[")?;
    let (n, rest) = rest.split_once(']')?;
    let r = ar.results.get(n.parse::<usize>().ok()?)?;
    let none = || "None".to_string();
    Some(match rest {
        // Python drops properties without a (registered) ptype and comments.
        "" => {
            let mut r = r.clone();
            r.props.retain(|p| !p.ptype.is_empty());
            r.to_string()
        }
        ".method" => r.method.clone(),
        ".result" => r.result.clone(),
        ".reason" => r.reason.clone().unwrap_or_else(none),
        _ => {
            let attr = rest.strip_prefix('.')?;
            if let Some(p) = attr.strip_prefix("properties[") {
                let (m, what) = p.split_once("].")?;
                let p = r.props.get(m.parse::<usize>().ok()?)?;
                match what {
                    "type" => p.ptype.clone(),
                    "name" => p.property.clone(),
                    "value" => p.value.clone(),
                    _ => return None,
                }
            } else {
                // Feature attributes such as `smtp_mailfrom`, `header_i`.
                let (ptype, property) = attr.split_once('_')?;
                r.prop(ptype, property).map_or_else(none, str::to_string)
            }
        }
    })
}

fn run_doc_case(case: &DocCase) -> Result<usize, String> {
    let parsed = parse(value_of(&case.header));
    let ar = match (parsed, case.must_fail) {
        (Err(_), true) => return Ok(0),
        (Ok(ar), true) => return Err(format!("parsed but must fail: {ar:?}")),
        (Err(e), false) => return Err(format!("must parse: {e}")),
        (Ok(ar), false) => ar,
    };
    for (field, want) in &case.checks {
        let got = eval(&ar, field).ok_or_else(|| format!("cannot evaluate {field}"))?;
        if &got != want {
            return Err(format!("{field}: got {got:?}, doctest says {want:?}"));
        }
    }
    let pairs: Vec<String> = ar
        .results
        .iter()
        .flat_map(|r| [r.method.clone(), r.result.clone()])
        .collect();
    if !case.loop_outputs.is_empty() && pairs != case.loop_outputs {
        return Err(format!(
            "results {pairs:?}, doctest loop says {:?}",
            case.loop_outputs
        ));
    }
    Ok(case.checks.len() + usize::from(!case.loop_outputs.is_empty()))
}

#[test]
fn authres_doctests() {
    let cases = doctest_cases(&data("authres/authres-doctests.txt"));
    let mut failures = Vec::new();
    let mut checks = 0;
    for case in &cases {
        match run_doc_case(case) {
            Ok(n) => checks += n,
            Err(e) => failures.push(format!("line {}: {e}\n    {}", case.line, case.header)),
        }
    }
    let total = cases.len();
    let fails = cases.iter().filter(|c| c.must_fail).count();
    let loops = cases.iter().filter(|c| !c.loop_outputs.is_empty()).count();
    println!(
        "authres doctests: {}/{total} parse cases ({fails} must fail; {checks} field checks)",
        total - failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        (total, fails, loops),
        (23, 2, 1),
        "doctest extraction changed"
    );
}

#[test]
fn mail_authenticationresults_cases() {
    let cases = json("mail-authenticationresults/cases.json");
    let list = |key: &str| -> Vec<String> {
        let items = cases[key].as_array().unwrap_or_else(|| panic!("{key}"));
        let text =
            |v: &serde_json::Value| v.get("header").unwrap_or(v).as_str().map(str::to_string);
        items
            .iter()
            .map(|v| text(v).unwrap_or_else(|| panic!("{key}: {v}")))
            .collect()
    };
    let mut total = 0;
    let mut failures = Vec::new();
    for (key, must_parse) in [
        ("real_world", true),
        ("parse_should_succeed", true),
        ("parse_should_fail", false),
    ] {
        for header in list(key) {
            total += 1;
            let got = parse(value_of(&header));
            match (&got, must_parse) {
                (Ok(ar), true)
                    if authserv_id(value_of(&header)).as_ref() == Ok(&ar.authserv_id) => {}
                (Err(_), false) => {}
                _ => failures.push(format!("{key}: {header:?} -> {got:?}")),
            }
        }
    }
    println!(
        "mail-authenticationresults cases: {}/{total}",
        total - failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(total, 21, "cases.json changed");
}

#[test]
fn real_world_structure() {
    let cases = json("mail-authenticationresults/cases.json");
    let header = |file: &str| -> AuthResults {
        let rw = cases["real_world"].as_array().expect("real_world");
        let h = rw
            .iter()
            .find(|c| c["file"] == file)
            .and_then(|c| c["header"].as_str());
        parse(value_of(h.unwrap_or_else(|| panic!("{file}")))).expect(file)
    };
    let gmail = header("04-gmail.t");
    assert_eq!(gmail.authserv_id, "mx.google.com");
    let got: Vec<_> = gmail
        .results
        .iter()
        .map(|r| (r.method.as_str(), r.result.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("dkim", "pass"),
            ("dkim", "pass"),
            ("spf", "pass"),
            ("dmarc", "pass")
        ]
    );
    assert_eq!(gmail.results[1].prop("header", "b"), Some("dgrCnA5f"));
    assert_eq!(
        gmail
            .result_for("spf")
            .and_then(|r| r.prop("smtp", "mailfrom")),
        Some("deliverability@fastmail.com")
    );
    let fm = header("04-fastmail.t");
    assert_eq!(fm.results.len(), 9);
    let dkim = fm.result_for("dkim").expect("dkim");
    assert_eq!(
        (dkim.prop("header", "b"), dkim.prop("", "x-bits")),
        (Some("oF80QtY/"), Some("1024"))
    );
    assert_eq!(
        fm.result_for("x-tls").and_then(|r| r.prop("", "bits")),
        Some("128/128")
    );
    let outlook = header("04-outlook.t");
    let got: Vec<_> = outlook.results.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(got, ["spf", "dkim", "dmarc"]);
    assert_eq!(
        outlook
            .result_for("dmarc")
            .and_then(|r| r.prop("", "action")),
        Some("none")
    );
    let yahoo = header("04-yahoo.t");
    assert_eq!(yahoo.authserv_id, "mta4011.mail.gq1.yahoo.com");
    assert_eq!(
        yahoo.result_for("dkim").map(|r| r.result.as_str()),
        Some("pass")
    );
    let aol = header("04-aol.t");
    assert_eq!(
        aol.result_for("dkim").and_then(|r| r.prop("header", "i")),
        Some("@fastmail.com")
    );
    let yandex = header("04-yandex.t");
    assert_eq!(
        yandex.results[0].prop("smtp", "mail"),
        Some("deliverability@fastmail.com")
    );
    let mailru = header("04-mail.ru.t");
    assert_eq!(mailru.results.len(), 4);
}

#[test]
fn authserv_id_deletion_vectors() {
    let v = json("authserv-id-deletion/vectors.json");
    let own = v["own_authserv_id"].as_str().expect("own id");
    let cases = v["cases"].as_array().expect("cases");
    let want: [(i64, Option<&str>); 3] = [
        (1, Some("myhost.org")),
        (2, None),
        (3, Some("mail.Gluet.ch")),
    ];
    assert_eq!(cases.len(), want.len());
    for (case, (index, id)) in cases.iter().zip(want) {
        assert_eq!(case["index"].as_i64(), Some(index));
        let value = case["value"].as_str().expect("value");
        let got = authserv_id(value);
        assert_eq!(got.as_deref().ok(), id, "#{index} {value:?}: {got:?}");
        // glts' milters delete exactly the headers that parse to their own id.
        let deleted = got.is_ok_and(|g| g.eq_ignore_ascii_case(own));
        assert_eq!(
            Some(deleted),
            case["expected_deleted"].as_bool(),
            "#{index}"
        );
    }
    let first = parse(cases[0]["value"].as_str().unwrap_or_default()).expect("#1 parses");
    assert_eq!((first.version, first.results.len()), (Some(1), 1));
}
