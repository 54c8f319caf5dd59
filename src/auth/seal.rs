//! Optional ARC sealing of our results (RFC 8617 §5.1): an ARC set
//! (ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results) added by the
//! perimeter, so intermediaries that break DKIM can still be trusted by what
//! we verified. Off unless `[milter.arc_seal]` names a domain, selector and
//! private key (RSA or Ed25519, PEM).

use mail_auth::{
    arc::ArcSealer,
    common::crypto::{DkimKey, Ed25519Key, RsaKey, Sha256},
    dkim::Done,
};
use rustls_pki_types::{pem::PemObject, PrivateKeyDer};
use std::path::Path;

/// Headers the ARC-Message-Signature covers (RFC 8617 §4.1.2 leaves the
/// choice to the sealer; these are the ones DMARC and readers depend on).
pub const SEALED_HEADERS: [&str; 7] = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "DKIM-Signature",
];

/// A loaded sealing identity. Its key type only signs with SHA-256
/// (rsa-sha256 or ed25519-sha256): mail-auth's `DkimKey` holds an
/// `RsaKey<Sha256>`, so rsa-sha1 (RFC 8301 §3.1) cannot be chosen.
pub struct Sealer {
    pub(super) sealer: ArcSealer<DkimKey, Done>,
    /// The sealing domain (`d=`).
    pub domain: String,
}

impl Sealer {
    /// Loads the private key at `key` (PEM: PKCS#8 Ed25519, or RSA in
    /// PKCS#1/PKCS#8) for `domain` and `selector`.
    ///
    /// # Errors
    /// The file cannot be read or holds no usable key; the message names it.
    pub fn load(domain: &str, selector: &str, key: &Path) -> Result<Sealer, String> {
        let der = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("arc_seal.key {}: {e}", key.display()))?;
        let dkim_key = match &der {
            PrivateKeyDer::Pkcs8(p) => match Ed25519Key::from_pkcs8_der(p.secret_pkcs8_der()) {
                Ok(k) => DkimKey::Ed25519(k),
                Err(_) => DkimKey::Rsa(rsa(der.clone_key(), key)?),
            },
            _ => DkimKey::Rsa(rsa(der.clone_key(), key)?),
        };
        let sealer = ArcSealer::from_key(dkim_key)
            .domain(domain)
            .selector(selector)
            .headers(SEALED_HEADERS);
        Ok(Sealer {
            sealer,
            domain: domain.to_string(),
        })
    }
}

fn rsa(der: PrivateKeyDer<'static>, path: &Path) -> Result<RsaKey<Sha256>, String> {
    RsaKey::<Sha256>::from_key_der(der).map_err(|e| {
        format!(
            "arc_seal.key {}: not a usable RSA or Ed25519 key: {e}",
            path.display()
        )
    })
}

/// Splits the sealer's output (`Name: value\r\n` lines with folding) into
/// `(name, value)` pairs in order, values without the leading space and
/// with folding kept as LF for the milter.
pub fn split_headers(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push('\n');
                last.1.push_str(line);
            }
        } else if let Some((n, v)) = line.split_once(':') {
            out.push((n.to_string(), v.trim_start().to_string()));
        }
    }
    out
}

/// What the ARC-Authentication-Results of our set says besides DKIM and ARC.
pub struct SealContext<'a> {
    /// Our authserv-id.
    pub authserv_id: &'a str,
    /// The SMTP client (or external hop).
    pub ip: std::net::IpAddr,
    /// Its HELO name.
    pub helo: &'a str,
    /// The MAIL FROM identity's SPF result.
    pub spf: &'a super::SpfCheck,
}

impl super::Authenticator {
    /// Seals `raw` (a CRLF message): verifies its DKIM signatures and ARC
    /// chain again (answers come from the resolver cache) and returns the
    /// new ARC set as `(name, value)` headers, topmost first.
    ///
    /// # Errors
    /// The message cannot be parsed, or the chain cannot be sealed (mail-auth
    /// refuses to extend a failed chain, RFC 8617 §5.1.2).
    pub async fn arc_seal(
        &self,
        sealer: &Sealer,
        raw: &[u8],
        ctx: &SealContext<'_>,
    ) -> Result<Vec<(String, String)>, String> {
        use mail_auth::{
            common::headers::HeaderWriter, AuthenticatedMessage, AuthenticationResults, Parameters,
            SpfOutput,
        };
        let msg = AuthenticatedMessage::parse(raw).ok_or("the message cannot be parsed")?;
        // What we vouch for goes through the same strict reading as our
        // stamp: no pass for an rsa-sha1 or malformed signature, and cv=fail
        // after a chain with such a set (super::strict).
        let dkim = self.resolver.verify_dkim(Parameters::new(&msg)).await;
        let dkim = super::strict::enforce_dkim(&msg, dkim);
        let arc = self.resolver.verify_arc(Parameters::new(&msg)).await;
        let arc = super::strict::enforce_arc(&msg, arc);
        let from = msg.from.first().map(String::as_str).unwrap_or_default();
        let identity = ctx.spf.identity.as_str();
        let domain = identity.rsplit_once('@').map_or(identity, |(_, d)| d);
        let spf = SpfOutput::new(domain.to_string()).with_result(to_mail_auth(ctx.spf.result));
        let results = AuthenticationResults::new(ctx.authserv_id)
            .with_dkim_results(&dkim, from)
            .with_spf_mailfrom_result(&spf, ctx.ip, identity, ctx.helo)
            .with_arc_result(&arc, ctx.ip);
        let set = sealer
            .sealer
            .seal(&msg, &results, &arc)
            .map_err(|e| format!("cannot seal: {e}"))?;
        Ok(split_headers(&set.to_header()))
    }
}

fn to_mail_auth(r: super::SpfResult) -> mail_auth::SpfResult {
    use super::SpfResult as S;
    use mail_auth::SpfResult as M;
    match r {
        S::None => M::None,
        S::Neutral => M::Neutral,
        S::Pass => M::Pass,
        S::Fail => M::Fail,
        S::SoftFail => M::SoftFail,
        S::TempError => M::TempError,
        S::PermError => M::PermError,
    }
}

#[cfg(test)]
mod tests {
    use super::split_headers;

    #[test]
    fn sealer_output_is_split_into_headers() {
        let text = "ARC-Seal: i=1; a=ed25519-sha256; cv=none;\r\n\td=x; s=y; b=abc\r\nARC-Message-Signature: i=1; h=from\r\nARC-Authentication-Results: i=1; x; spf=pass\r\n";
        let h = split_headers(text);
        assert_eq!(h.len(), 3);
        assert_eq!(
            h[0],
            (
                "ARC-Seal".into(),
                "i=1; a=ed25519-sha256; cv=none;\n\td=x; s=y; b=abc".into()
            )
        );
        assert_eq!(h[2].0, "ARC-Authentication-Results");
    }
}
