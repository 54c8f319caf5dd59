//! The seal's keys: read from the key file, generated, identified.

use super::canonical::{from_hex, hex};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Shortest key accepted, in octets.
pub const MIN_KEY: usize = 32;

/// Seal keys: the first signs, all verify (rotation: put the new key first
/// on every sensor, then on the milters).
#[derive(Clone)]
pub struct Keys(pub(super) Vec<Vec<u8>>);

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<String> = self.0.iter().map(|k| key_id(k)).collect();
        write!(f, "Keys({})", ids.join(", "))
    }
}

impl Keys {
    /// Keys from their raw bytes, each at least [`MIN_KEY`] octets.
    ///
    /// # Errors
    /// No key, or a key too short.
    pub fn new(keys: Vec<Vec<u8>>) -> Result<Keys, String> {
        if keys.is_empty() {
            return Err("no seal key".into());
        }
        if let Some(k) = keys.iter().find(|k| k.len() < MIN_KEY) {
            return Err(format!(
                "seal key of {} octets: at least {MIN_KEY} are needed",
                k.len()
            ));
        }
        Ok(Keys(keys))
    }

    /// Parses a key file: one key per line as hex (64 or more digits);
    /// blank lines and lines starting with `#` are skipped.
    ///
    /// # Errors
    /// A line that is not hex, or no key at all; the message names the line.
    pub fn parse(text: &str) -> Result<Keys, String> {
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = from_hex(line).ok_or_else(|| format!("line {}: not a hex key", n + 1))?;
            keys.push(key);
        }
        Keys::new(keys)
    }

    /// Reads the key file at `path`, if one is given (`[seal] key_file`).
    ///
    /// # Errors
    /// The file cannot be read or holds no valid key; the message names it.
    pub fn load(path: Option<&std::path::Path>) -> Result<Option<Keys>, String> {
        let Some(path) = path else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("[seal] key_file {}: {e}", path.display()))?;
        Keys::parse(&text)
            .map(Some)
            .map_err(|e| format!("[seal] key_file {}: {e}", path.display()))
    }

    /// A new random key as a key file's text (from the kernel's CSPRNG).
    ///
    /// # Errors
    /// `/dev/urandom` cannot be read.
    pub fn generate() -> std::io::Result<String> {
        use std::io::Read;
        let mut key = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
        Ok(format!(
            "# authsense seal key (shared by milter and sensor; keep it secret)\n{}\n",
            hex(&key)
        ))
    }

    /// A key for another purpose derived from the signing key (HMAC of the
    /// purpose's name), so that one shared secret serves the fleet, e.g.
    /// the tag on alert mail.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(self.first()).expect("any key length");
        m.update(b"authsense-derive/");
        m.update(purpose.as_bytes());
        m.finalize().into_bytes().into()
    }

    /// The signing key.
    pub(super) fn first(&self) -> &[u8] {
        &self.0[0]
    }

    /// The key whose id is `id`.
    pub(super) fn by_id(&self, id: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|k| key_id(k).eq_ignore_ascii_case(id))
            .map(Vec::as_slice)
    }
}

/// A key's public id: the first 4 octets of its SHA-256, hex.
pub fn key_id(key: &[u8]) -> String {
    hex(&Sha256::digest(key)[..4])
}
