//! The integrity seal: an HMAC-SHA256, with a key the milter and the sensor
//! share, over the stamps the milter wrote and the message they describe, so
//! that the sensor trusts a stamp only if our milter wrote it for this very
//! message (docs/security.md explains the choice over an ARC set).
//!
//! ```text
//! X-Authsense-Seal: v=1; k=<key id>; t=<unix time>; c=x[:a]; h=<bound fields>; s=<hex MAC>
//! ```
//!
//! The MAC covers, in this order: the tags `v k t c h`; the
//! `X-Agari-Authentication-Results` value and (with `c=x:a`) the
//! `Authentication-Results` value the milter wrote, in relaxed form (line
//! breaks removed, runs of white space one space, trimmed); every instance
//! of the [`BOUND`] fields the milter saw, in [`BOUND`] order then header
//! order; and the SHA-256 of the body. The message's own fields and body
//! are taken as raw octets in the *unbroken* form: CRLF read as LF, and every
//! line break followed by a space or tab removed together with that one
//! character — exactly what a hop adds when it breaks a line over 998
//! octets (CRLF + space, even inside a UTF-8 character) or folds a field —
//! while every other octet, white space and line ends included, counts. So
//! the seal survives the hops to the sensor, and a sealed stamp lifted from
//! one message and pasted onto another (a visible change, or a line end
//! moved, as in a quoted-printable soft break) does not verify.
//!
//! `h=` lists the bound fields as the milter saw them (one name per
//! instance): the sensor must find exactly those instances, and no instance
//! of a bound field the milter did not see.

use super::stamp::{MAX_LINE, SEAL};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The message's header fields the seal binds (lowercase).
pub const BOUND: &[&str] = &[
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
];

/// What the seal is computed over, gathered while the message passes.
#[derive(Debug, Clone, Default)]
pub struct Sealed {
    fields: Vec<(String, Vec<u8>)>,
    body: Sha256,
    unbreak: Unbreak,
}

impl Sealed {
    /// Notes a header field of the message, its value as raw octets (only
    /// [`BOUND`] ones are kept).
    pub fn header(&mut self, name: &str, value: &[u8]) {
        let name = name.trim().to_ascii_lowercase();
        if BOUND.contains(&name.as_str()) {
            let mut out = Vec::with_capacity(value.len());
            let mut u = Unbreak::default();
            u.feed(value, &mut out);
            u.finish(&mut out);
            let trimmed = out.trim_ascii();
            self.fields.push((name, trimmed.to_vec()));
        }
    }

    /// Adds a chunk of the body (chunks may split a line end anywhere).
    pub fn body(&mut self, chunk: &[u8]) {
        let mut out = Vec::with_capacity(chunk.len());
        self.unbreak.feed(chunk, &mut out);
        self.body.update(&out);
    }

    /// The body's digest, after the last chunk.
    fn body_digest(&self) -> Vec<u8> {
        let mut tail = Vec::new();
        self.unbreak.finish(&mut tail);
        let mut h = self.body.clone();
        h.update(&tail);
        h.finalize().to_vec()
    }

    /// The fields in the order the MAC takes them, and the `h=` list.
    fn ordered(&self) -> (Vec<&(String, Vec<u8>)>, String) {
        let mut out = Vec::with_capacity(self.fields.len());
        for name in BOUND {
            out.extend(self.fields.iter().filter(|(n, _)| n == name));
        }
        let h = out.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>();
        (out, h.join(":"))
    }

    /// The seal's header value over the stamps `x_agari` and (if written)
    /// `auth_results`, at `now` (Unix seconds).
    pub fn seal(self, keys: &Keys, x_agari: &str, auth_results: Option<&str>, now: u64) -> String {
        let (fields, h) = self.ordered();
        let tags = Tags {
            key: key_id(keys.first()),
            time: now,
            covers_ar: auth_results.is_some(),
            h,
        };
        let body = self.body_digest();
        let mac = mac_state(keys.first(), &tags, x_agari, auth_results, &fields, &body)
            .finalize()
            .into_bytes();
        tags.value(&hex(&mac))
    }

    /// Checks the seal value `seal` (the header's value) against the stamps
    /// and this message's fields and body, with `keys`, at `now`; a seal
    /// older than `max_age` seconds (or from more than an hour ahead) fails.
    /// `Ok(true)` when it also covers `auth_results`.
    ///
    /// # Errors
    /// Why it does not verify, for the record.
    pub fn verify(
        &self,
        seal: &str,
        keys: &Keys,
        x_agari: &str,
        auth_results: Option<&str>,
        now: u64,
        max_age: u64,
    ) -> Result<bool, String> {
        let (tags, sig) = parse(seal)?;
        let key = keys
            .by_id(&tags.key)
            .ok_or_else(|| format!("seal key {} is not one of ours", tags.key))?;
        if tags.time > now.saturating_add(3600) || now.saturating_sub(tags.time) > max_age {
            return Err(format!(
                "seal time {} is outside the accepted window",
                tags.time
            ));
        }
        let fields = self.matching(&tags.h)?;
        let ar = if tags.covers_ar {
            Some(auth_results.ok_or("the sealed Authentication-Results is missing")?)
        } else {
            None
        };
        let body = self.body_digest();
        mac_state(key, &tags, x_agari, ar, &fields, &body)
            .verify_slice(&sig)
            .map_err(|_| "seal does not match this message".to_string())?;
        Ok(tags.covers_ar)
    }

    /// The fields in MAC order if they are exactly the instances `h` lists.
    fn matching(&self, h: &str) -> Result<Vec<&(String, Vec<u8>)>, String> {
        let (fields, ours) = self.ordered();
        if ours != h {
            return Err(format!("sealed fields h={h} but the message has h={ours}"));
        }
        Ok(fields)
    }
}

struct Tags {
    key: String,
    time: u64,
    covers_ar: bool,
    h: String,
}

impl Tags {
    /// The header value with signature `s`: one line when
    /// `X-Authsense-Seal: value` fits in [`MAX_LINE`] octets, otherwise
    /// folded (RFC 5322 §2.2.3) with the `h=` list broken after its
    /// colons, so that no hop has to break a line of ours (a message with
    /// hundreds of bound fields). The tags are read without white space.
    fn value(&self, s: &str) -> String {
        let c = if self.covers_ar { "x:a" } else { "x" };
        let head = format!("v=1; k={}; t={}; c={c};", self.key, self.time);
        let one = format!("{head} h={}; s={s}", self.h);
        if SEAL.len() + 2 + one.len() <= MAX_LINE {
            return one;
        }
        let mut out = format!("{head}\n\th=");
        let mut col = 3;
        for (i, name) in self.h.split(':').enumerate() {
            let piece = if i == 0 {
                name.to_string()
            } else {
                format!(":{name}")
            };
            if col + piece.len() > 78 {
                out.push_str("\n\t");
                col = 1;
            }
            out.push_str(&piece);
            col += piece.len();
        }
        out.push_str(&format!(";\n\ts={s}"));
        out
    }
}

fn mac_state(
    key: &[u8],
    tags: &Tags,
    x_agari: &str,
    ar: Option<&str>,
    fields: &[&(String, Vec<u8>)],
    body: &[u8],
) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    let mut put = |part: &[u8]| {
        m.update(&(part.len() as u64).to_be_bytes());
        m.update(part);
    };
    put(b"authsense-seal/1");
    put(tags.key.as_bytes());
    put(tags.time.to_string().as_bytes());
    put(if tags.covers_ar { b"x:a" } else { b"x" });
    put(tags.h.as_bytes());
    put(relaxed(x_agari).as_bytes());
    put(ar.map(relaxed).unwrap_or_default().as_bytes());
    for (name, value) in fields {
        put(name.as_bytes());
        put(value);
    }
    put(body);
    m
}

/// Splits a seal value into its tags and signature.
fn parse(seal: &str) -> Result<(Tags, Vec<u8>), String> {
    let mut tags = std::collections::HashMap::new();
    for part in seal.split(';') {
        let part = squeeze(part);
        if part.is_empty() {
            continue;
        }
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("seal tag without '=': {part:?}"))?;
        if tags.insert(k.to_ascii_lowercase(), v.to_string()).is_some() {
            return Err(format!("seal tag {k} given twice"));
        }
    }
    let get = |k: &str| tags.get(k).ok_or_else(|| format!("seal without {k}="));
    if get("v")? != "1" {
        return Err("seal version is not 1".into());
    }
    let covers_ar = match get("c")?.as_str() {
        "x" => false,
        "x:a" => true,
        other => return Err(format!("seal c={other} is not x or x:a")),
    };
    let time = get("t")?.parse().map_err(|_| "seal t= is not a number")?;
    let sig = from_hex(get("s")?).ok_or("seal s= is not hex")?;
    let t = Tags {
        key: get("k")?.clone(),
        time,
        covers_ar,
        h: get("h")?.to_ascii_lowercase(),
    };
    Ok((t, sig))
}

/// `s` without any white space or line break (for the seal's own tags).
fn squeeze(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '\r' | '\n'))
        .collect()
}

mod canonical;
mod keys;

use canonical::{from_hex, hex, relaxed, Unbreak};
pub use keys::{key_id, Keys, MIN_KEY};

#[cfg(test)]
#[path = "seal_tests.rs"]
mod tests;
