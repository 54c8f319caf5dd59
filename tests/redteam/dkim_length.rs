//! DKIM `l=` (RFC 6376 §3.5, §8.2): a signature that covers only the first
//! octets of the body would let anyone append to a genuine signed message
//! and keep `dkim=pass` for the signer's domain, so DMARC would pass for
//! content the domain never sent. Held: mail-auth reports such a
//! signature as a length error, which authsense records as `neutral`.

use crate::common::dns::serve_txt;
use authsense::auth::{Authenticator, Outcome};
use mail_auth::common::crypto::{RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use rustls_pki_types::{pem::PemObject, PrivateKeyDer};
use std::path::PathBuf;
use std::time::Duration;

fn data(file: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/dkim-strict");
    std::fs::read_to_string(dir.join(file)).unwrap()
}

const MESSAGE: &str = "From: Alice <alice@strict.example>\r\nTo: bob@example.net\r\n\
    Subject: invoice\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n\
    Message-ID: <l-1@strict.example>\r\n\r\nYour invoice is attached.\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_over_part_of_the_body_does_not_pass_for_the_rest() {
    let records = data("records.txt");
    let (_dns, cfg) = serve_txt(records.lines().filter_map(|l| l.split_once(' '))).await;
    let auth = Authenticator::new(&cfg.dns).unwrap();
    let sign = |l: bool| {
        let der = PrivateKeyDer::from_pem_slice(data("rsa.pem").as_bytes()).unwrap();
        let key = RsaKey::<Sha256>::from_key_der(der).unwrap();
        let signature = DkimSigner::from_key(key)
            .domain("strict.example")
            .selector("rsa")
            .headers(["From", "To", "Subject", "Date", "Message-ID"])
            .body_length(l)
            .sign(MESSAGE.as_bytes())
            .unwrap()
            .to_header();
        format!("{signature}{MESSAGE}")
    };
    let check = |raw: String| {
        let auth = &auth;
        async move {
            let ip = [192, 0, 2, 1].into();
            let checks = auth
                .check_message(raw.as_bytes(), ip, true, Duration::from_secs(5))
                .await;
            checks
                .dkim
                .into_iter()
                .map(|d| d.result)
                .collect::<Vec<_>>()
        }
    };
    // The key and the DNS record work: the same signature without l= passes.
    assert_eq!(check(sign(false)).await, [Outcome::Pass]);
    let appended = format!(
        "{}\r\nPay to IBAN XX00 0000 today, not to the old account.\r\n",
        sign(true)
    );
    assert_ne!(check(appended).await, [Outcome::Pass]);
}
