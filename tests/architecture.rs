//! The shape of the tree (issue 19), checked on the sources so that it
//! cannot drift: dependencies point one way, and every file and function
//! stays small enough to read.
//!
//! - `model` and `headers` (the shared vocabulary and header grammar) use no
//!   other module of ours;
//! - `config` uses only `model`;
//! - the milter and the sensor side (`sensor`, `ingest`) never use each
//!   other: they meet only through the header (`headers`);
//! - no file in `src/` over 400 lines, no function over 80 lines, except the
//!   ones listed in `LONG_FUNCTIONS` with their reason.

use std::path::{Path, PathBuf};

/// Functions allowed over 80 lines, and why.
const LONG_FUNCTIONS: &[(&str, &str, &str)] = &[
    (
        "src/ingest/trust_tests.rs",
        "selection_table",
        "a table-driven test: the table is the test",
    ),
    (
        "src/headers/received.rs",
        "shapes",
        "a table-driven test of real Received: shapes",
    ),
];

/// `(module, modules it may use besides itself)`; `None`: any.
const RULES: &[(&str, Option<&[&str]>)] = &[
    ("model", Some(&[])),
    ("headers", Some(&[])),
    ("config", Some(&["model"])),
];

/// `(module, modules it must not use)`.
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "milter",
        &["sensor", "ingest", "store", "alerts", "web", "status"],
    ),
    ("sensor", &["milter"]),
    ("ingest", &["milter", "sensor", "store", "web", "alerts"]),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a source file belongs to (`src/<module>/…` or
/// `src/<module>.rs`).
fn module_of(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).expect("under src");
    let first = rel.components().next().expect("a component");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// The modules of ours a file names (`crate::<module>`), outside comments.
fn uses(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + 7..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

fn all_sources() -> (PathBuf, Vec<PathBuf>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    files.sort();
    (root, files)
}

#[test]
fn dependencies_point_one_way() {
    let (root, files) = all_sources();
    let mut wrong = Vec::new();
    for path in &files {
        let module = module_of(&root, path);
        let text = std::fs::read_to_string(path).expect("read");
        for used in uses(&text) {
            if used == module {
                continue;
            }
            let allowed = RULES.iter().find(|(m, _)| *m == module);
            if let Some((_, Some(ok))) = allowed {
                if !ok.contains(&used.as_str()) {
                    wrong.push(format!("{}: {module} uses {used}", path.display()));
                }
            }
            if let Some((_, banned)) = FORBIDDEN.iter().find(|(m, _)| *m == module) {
                if banned.contains(&used.as_str()) {
                    wrong.push(format!("{}: {module} uses {used}", path.display()));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies against the rules:\n{}",
        wrong.join("\n")
    );
    // The rules can fail: the scanner sees a use.
    assert_eq!(uses("use crate::store::Store; // crate::web"), ["store"]);
}

/// `(name, first line, lines)` of every `fn` in `text`, by indentation.
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let sig = trimmed
            .trim_start_matches("pub ")
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("async ")
            .trim_start_matches("const ")
            .trim_start_matches("unsafe ");
        let is_fn = sig.starts_with("fn ") && !line.trim_end().ends_with(';');
        if !is_fn {
            i += 1;
            continue;
        }
        let name: String = sig[3..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let close = " ".repeat(indent) + "}";
        let end = (i + 1..lines.len())
            .find(|&j| {
                lines[j].starts_with(&close)
                    && lines[j].len() - lines[j].trim_start().len() == indent
            })
            .unwrap_or(i);
        out.push((name, i + 1, end - i + 1));
        i += 1;
    }
    out
}

#[test]
fn files_and_functions_stay_small() {
    let (root, files) = all_sources();
    let mut wrong = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read");
        let rel = path
            .strip_prefix(root.parent().unwrap())
            .unwrap()
            .display()
            .to_string();
        let n = text.lines().count();
        if n > 400 {
            wrong.push(format!("{rel}: {n} lines"));
        }
        for (name, line, len) in functions(&text) {
            let excused = LONG_FUNCTIONS
                .iter()
                .any(|(f, n, _)| *f == rel && *n == name);
            if len > 80 && !excused {
                wrong.push(format!("{rel}:{line}: fn {name} has {len} lines"));
            }
        }
    }
    assert!(wrong.is_empty(), "too long:\n{}", wrong.join("\n"));
    let long = format!("fn x() {{\n{}}}\n", "    a();\n".repeat(90));
    assert_eq!(functions(&long), [("x".to_string(), 1, 92)]);
}
