//! The spool reservation of a declared size (RFC 1870 SIZE): held from MAIL
//! to the end of DATA, 452 at MAIL when the spool cannot hold it, given
//! back by RSET.

mod common;

use authsense::config::Config;
use common::sensor::{Client, TestSensor};

async fn client(s: &TestSensor) -> Client<tokio::net::TcpStream> {
    let mut c = Client::connect(s.addr).await;
    assert!(c.reply().await.starts_with("220"));
    assert!(c.cmd("EHLO gw.example.com").await.starts_with("250"));
    c
}

#[tokio::test]
async fn declared_size_is_reserved_at_mail() {
    let mut c0 = Config::default();
    c0.sensor.spool_mb = 1;
    c0.sensor.max_message_size = 1 << 20;
    let s = TestSensor::spawn(c0).await;
    let mut a = client(&s).await;
    let mut b = client(&s).await;
    let mail = "MAIL FROM:<b@gw.example.com> SIZE=800000";
    assert_eq!(&a.cmd(mail).await[..3], "250");
    // The spool holds one such copy: the second is deferred before its data.
    let r = b.cmd(mail).await;
    assert!(r.starts_with("452 4.3.1"), "{r}");
    // RSET gives the reservation back.
    assert_eq!(&a.cmd("RSET").await[..3], "250");
    assert_eq!(&b.cmd(mail).await[..3], "250");
    assert_eq!(&b.cmd("RCPT TO:<a@example.net>").await[..3], "250");
    assert_eq!(&b.cmd("DATA").await[..3], "354");
    b.send("Subject: reserved\r\n\r\nok\r\n.\r\n").await;
    assert_eq!(&b.reply().await[..3], "250");
    // The end of DATA gives it back too.
    assert_eq!(&a.cmd(mail).await[..3], "250");
    a.cmd("QUIT").await;
    b.cmd("QUIT").await;
    assert_eq!(s.stop().await.count().unwrap(), 1);
}
