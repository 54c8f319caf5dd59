//! TEMPORARY placeholder until the full RFC 8601 module lands.
#![allow(missing_docs)]
use std::borrow::Cow;
use std::fmt;
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    pub authserv_id: String,
    pub version: Option<u32>,
    pub results: Vec<MethodResult>,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    pub method: String,
    pub method_version: Option<u32>,
    pub result: String,
    pub reason: Option<String>,
    pub props: Vec<Property>,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub ptype: String,
    pub property: String,
    pub value: String,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError;
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| !c.is_ascii_control() && c != ' ' && !"()<>@,;:\\\"/[]?=".contains(c))
}
pub fn quote_value(s: &str) -> Cow<'_, str> {
    if is_token(s) {
        s.into()
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")).into()
    }
}
pub fn quote_pvalue(s: &str) -> Cow<'_, str> {
    if let Some((l, d)) = s.rsplit_once('@') {
        if (l.is_empty() || l.split('.').all(is_token))
            && !d.is_empty()
            && d.split('.')
                .all(|x| !x.is_empty() && x.chars().all(|c| c.is_alphanumeric() || c == '-'))
        {
            return s.into();
        }
    }
    quote_value(s)
}
impl fmt::Display for AuthResults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", quote_value(&self.authserv_id))?;
        if self.results.is_empty() {
            return write!(f, "; none");
        }
        for (i, r) in self.results.iter().enumerate() {
            write!(
                f,
                "{}{}={}",
                if i == 0 { "; " } else { "; " },
                r.method,
                r.result
            )?;
            for p in &r.props {
                write!(f, " {}.{}={}", p.ptype, p.property, quote_pvalue(&p.value))?;
            }
        }
        Ok(())
    }
}
pub fn authserv_id(value: &str) -> Result<String, ParseError> {
    let mut it = value.chars().peekable();
    let mut depth = 0;
    loop {
        match it.peek() {
            Some('(') => {
                depth += 1;
                it.next();
            }
            Some(')') if depth > 0 => {
                depth -= 1;
                it.next();
            }
            Some(c) if depth > 0 || c.is_whitespace() => {
                if *c == '\\' {
                    it.next();
                }
                it.next();
            }
            _ => break,
        }
    }
    let mut id = String::new();
    if it.peek() == Some(&'"') {
        it.next();
        loop {
            match it.next() {
                Some('\\') => {
                    if let Some(c) = it.next() {
                        id.push(c)
                    }
                }
                Some('"') => break,
                Some(c) => id.push(c),
                None => return Err(ParseError),
            }
        }
    } else {
        while let Some(&c) = it.peek() {
            if c.is_whitespace() || c == ';' || c == '(' {
                break;
            }
            id.push(c);
            it.next();
        }
        if !is_token(&id) {
            return Err(ParseError);
        }
    }
    Ok(id)
}
