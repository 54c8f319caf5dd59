//! A minimal text template for the configuration `authsense postfix-config`
//! prints: `{{name}}` is replaced by a value, and lines between
//! `{{#if name}}` and `{{/if}}` (each on a line of its own, nestable) are
//! kept only when `name` is set to a non-empty value. Postfix's own `{` and
//! `$` pass through; only a `{{` followed by a known name is a placeholder.

use std::collections::HashMap;

/// Renders `template` with `vars`.
///
/// # Errors
/// A placeholder or condition names an unknown variable, or the `if` blocks
/// do not balance: a mistake in the template, named with its line.
pub fn render(template: &str, vars: &HashMap<&str, String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut keep = vec![true];
    for (n, line) in template.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(name) = trimmed
            .strip_prefix("{{#if ")
            .and_then(|r| r.strip_suffix("}}"))
        {
            let set = vars
                .get(name)
                .ok_or_else(|| format!("template line {}: unknown condition {name}", n + 1))?;
            let parent = *keep.last().unwrap_or(&true);
            keep.push(parent && !set.is_empty());
        } else if trimmed == "{{/if}}" {
            if keep.len() < 2 {
                return Err(format!(
                    "template line {}: {{{{/if}}}} without {{{{#if}}}}",
                    n + 1
                ));
            }
            keep.pop();
        } else if *keep.last().unwrap_or(&true) {
            out.push_str(
                &substitute(line, vars).map_err(|e| format!("template line {}: {e}", n + 1))?,
            );
            out.push('\n');
        }
    }
    if keep.len() != 1 {
        return Err("template: an {{#if}} is not closed".into());
    }
    Ok(out)
}

/// `line` with every `{{name}}` of a known name replaced.
fn substitute(line: &str, vars: &HashMap<&str, String>) -> Result<String, String> {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let name_len = after.find("}}").filter(|&e| {
            after[..e]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
                && e > 0
        });
        match name_len {
            Some(e) => {
                let name = &after[..e];
                let value = vars
                    .get(name)
                    .ok_or_else(|| format!("unknown placeholder {name}"))?;
                out.push_str(&rest[..start]);
                out.push_str(value);
                rest = &after[e + 2..];
            }
            None => {
                out.push_str(&rest[..start + 1]);
                rest = &rest[start + 1..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        list.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[test]
    fn placeholders_conditions_and_postfix_braces() {
        let t = "a {{x}} b\n{{#if on}}\nkept {{x}}\n{{#if off}}\ngone\n{{/if}}\n{{/if}}\n{{#if off}}\ngone\n{{/if}}\nmap:{ {/x/ y} } ${1} {{{x}}}\n";
        let v = vars(&[("x", "X"), ("on", "1"), ("off", "")]);
        assert_eq!(
            render(t, &v).unwrap(),
            "a X b\nkept X\nmap:{ {/x/ y} } ${1} {X}\n"
        );
    }

    #[test]
    fn template_mistakes_are_errors() {
        let v = vars(&[("x", "X")]);
        assert!(render("{{y}}\n", &v)
            .unwrap_err()
            .contains("line 1: unknown placeholder y"));
        assert!(render("{{#if y}}\n{{/if}}\n", &v)
            .unwrap_err()
            .contains("unknown condition"));
        assert!(render("{{#if x}}\n", &v)
            .unwrap_err()
            .contains("not closed"));
        assert!(render("{{/if}}\n", &v).unwrap_err().contains("without"));
    }
}
