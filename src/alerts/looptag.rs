//! The loop tag: every alert mail carries `X-Authsense-Alert: <uid>; <mac>`
//! so that, when it comes back through the perimeter to the sensor, no
//! alert is sent about our own alert.
//!
//! `<uid>` is `<unix seconds>.<process id>.<sequence>` and `<mac>` the
//! lowercase hex HMAC-SHA256 (RFC 2104) under the alerter's loop key of
//! `authsense-alert-loop-v1`, NUL, the uid, NUL and the alert's From
//! address (lowercased). A copy's threat alert is suppressed only when one
//! of its `X-Authsense-Alert` fields verifies against the copy's own From
//! address and was made less than [`MAX_AGE`] ago (and not in the future).
//! Outsiders cannot make one: `Auto-Submitted` (which any sender can write)
//! suppresses nothing, and a tag lifted from a real alert verifies only on
//! a message with that alert's From address, for a day.
//!
//! The key comes from `setup::alert_loop_key`; the record of such a copy is
//! stored and analysed as usual, only its alert mail is not sent.

use sha2::Sha256;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The header field that carries the tag.
pub const HEADER: &str = "X-Authsense-Alert";

/// A tag older than this no longer verifies.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// Tolerated clock skew for a tag made "in the future".
const SKEW: Duration = Duration::from_secs(300);

/// Fields of the header examined at most (the rest of an absurd header is
/// not scanned).
const MAX_FIELDS: usize = 1000;

/// Tags examined per copy.
const MAX_TAGS: usize = 8;

/// Domain separation of the MAC input.
const CONTEXT: &[u8] = b"authsense-alert-loop-v1";

/// The secret behind loop tags (at least 16 bytes).
#[derive(Clone)]
pub struct LoopKey(Arc<[u8]>);

impl std::fmt::Debug for LoopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LoopKey({} bytes)", self.0.len())
    }
}

impl LoopKey {
    /// A key from `bytes`.
    ///
    /// # Errors
    /// Fewer than 16 bytes.
    pub fn new(bytes: &[u8]) -> Result<LoopKey, String> {
        if bytes.len() < 16 {
            return Err(format!(
                "alert loop key of {} bytes, want at least 16",
                bytes.len()
            ));
        }
        Ok(LoopKey(Arc::from(bytes)))
    }

    fn mac(&self, uid: &str, from: &str) -> [u8; 32] {
        let from = from.trim().to_lowercase();
        hmac_sha256(
            &self.0,
            &[CONTEXT, b"\0", uid.as_bytes(), b"\0", from.as_bytes()],
        )
    }

    /// A fresh tag (the header value) for an alert mail from `from`.
    pub fn tag(&self, from: &str, now: SystemTime) -> String {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let uid = format!("{secs}.{:x}.{seq:x}", std::process::id());
        format!("{uid}; {}", hex(&self.mac(&uid, from)))
    }

    /// Whether `value` (one `X-Authsense-Alert` field body) is a tag this
    /// key made, less than [`MAX_AGE`] before `now`, for a mail from
    /// `from` (the copy's From address).
    pub fn verifies(&self, value: &str, from: &str, now: SystemTime) -> bool {
        let Some((uid, mac)) = value.split_once(';') else {
            return false;
        };
        let (uid, mac) = (uid.trim(), mac.trim());
        let Some(mac) = unhex(mac) else {
            return false;
        };
        let Some(made) = uid
            .split('.')
            .next()
            .and_then(|s| s.parse::<u64>().ok())
            .map(|s| UNIX_EPOCH + Duration::from_secs(s))
        else {
            return false;
        };
        let fresh = match now.duration_since(made) {
            Ok(age) => age < MAX_AGE,
            Err(ahead) => ahead.duration() <= SKEW,
        };
        fresh && same(&self.mac(uid, from), &mac)
    }
}

/// The bodies of the first `X-Authsense-Alert` fields in the header of
/// `raw` (a message as received), unfolded; empty when there is none.
pub fn find(raw: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    let lines = raw.split(|b| *b == b'\n').take(MAX_FIELDS * 4);
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let (Some(v), Some(b' ' | b'\t')) = (current.as_mut(), line.first()) {
            v.push_str(&String::from_utf8_lossy(line));
            continue;
        }
        out.extend(current.take());
        if line.is_empty() || out.len() >= MAX_TAGS {
            break;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = &line[..colon];
        if name.eq_ignore_ascii_case(HEADER.as_bytes()) {
            current = Some(String::from_utf8_lossy(&line[colon + 1..]).into_owned());
        }
    }
    out.extend(current);
    out.truncate(MAX_TAGS);
    out
}

/// HMAC-SHA256 (RFC 2104) of the concatenated `parts` under `key`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Constant-time equality of two MACs.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> LoopKey {
        LoopKey::new(&[7u8; 32]).unwrap()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test cases 1 and 2, and 6 (a key longer than the block).
        let mac = hmac_sha256(&[0x0b; 20], &[b"Hi ", b"There"]);
        assert_eq!(
            hex(&mac),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want for nothing?"]);
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let mac = hmac_sha256(
            &[0xaa; 131],
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
        );
        assert_eq!(
            hex(&mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn a_fresh_tag_verifies_and_a_forged_one_does_not() {
        let now = SystemTime::now();
        let tag = key().tag("authsense@sensor.test", now);
        assert!(key().verifies(&tag, "Authsense@Sensor.test", now));
        let (uid, mac) = tag.split_once("; ").unwrap();
        let other = LoopKey::new(&[8u8; 32]).unwrap();
        for forged in [
            other.tag("authsense@sensor.test", now),
            format!("{uid}; {}", "0".repeat(64)),
            format!("{uid}; {}", &mac[..63]),
            format!("{uid}x; {mac}"),
            format!("{}; {mac}", uid.replacen('1', "2", 1)),
            uid.to_string(),
            String::new(),
            "auto-generated".to_string(),
        ] {
            assert!(
                !key().verifies(&forged, "authsense@sensor.test", now),
                "{forged:?}"
            );
        }
    }

    #[test]
    fn a_tag_is_bound_to_its_from_address_and_expires() {
        let now = SystemTime::now();
        let tag = key().tag("authsense@sensor.test", now);
        assert!(!key().verifies(&tag, "ceo@examp1e.com", now), "lifted");
        assert!(!key().verifies(&tag, "", now));
        let later = now + MAX_AGE + Duration::from_secs(1);
        assert!(!key().verifies(&tag, "authsense@sensor.test", later));
        let early = now - Duration::from_secs(3600);
        assert!(!key().verifies(&tag, "authsense@sensor.test", early));
        assert!(LoopKey::new(b"short").is_err());
    }

    #[test]
    fn find_reads_folded_fields_of_the_header_only() {
        let raw = b"Received: by mx\r\nx-authsense-alert: 1.2.3;\r\n\tabcd\r\n\
                    Subject: hi\r\nX-Authsense-Alert:second\r\n\r\n\
                    X-Authsense-Alert: in the body\r\n";
        assert_eq!(find(raw), [" 1.2.3;\tabcd", "second"]);
        assert!(find(b"Subject: none\n\nX-Authsense-Alert: body\n").is_empty());
        let many = "X-Authsense-Alert: x\r\n".repeat(50);
        assert_eq!(find(many.as_bytes()).len(), MAX_TAGS);
        // A verified tag survives folding by a transport.
        let now = SystemTime::now();
        let tag = key().tag("a@b.test", now);
        let folded = format!("{HEADER}: {}\r\n\r\n", tag.replace("; ", ";\r\n "));
        let found = find(folded.as_bytes());
        assert!(key().verifies(&found[0], "a@b.test", now), "{found:?}");
    }
}
