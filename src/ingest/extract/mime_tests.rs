//! Unit tests of the MIME structure reader.

use super::{parse, Kind};

fn shape(raw: &str) -> (Vec<(String, Kind, u32, String)>, super::Oddities) {
    let t = parse(raw.as_bytes(), 20, 500);
    let list = t
        .entities
        .iter()
        .map(|e| {
            (
                e.ctype.clone(),
                e.kind,
                e.depth,
                raw[e.body.clone()].to_string(),
            )
        })
        .collect();
    (list, t.odd)
}

#[test]
fn parts_end_before_the_delimiters_line_break() {
    let raw = "Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\n\r\none\r\n--b \r\nContent-Type: text/html\r\n\r\n<p>two</p>\r\n\r\n--b--\r\nepilogue\r\n";
    let (list, odd) = shape(raw);
    let bodies: Vec<(&str, &str)> = list
        .iter()
        .map(|(t, _, _, b)| (t.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        bodies[1..],
        [("text/plain", "one"), ("text/html", "<p>two</p>\r\n")]
    );
    assert_eq!(list[0].1, Kind::Multipart);
    assert_eq!(odd, super::Oddities::default());
}

#[test]
fn an_unclosed_inner_multipart_ends_at_the_outer_delimiter() {
    let raw = "Content-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n--inner\r\n\r\ntext\r\n--outer\r\nContent-Type: application/x-msdownload; name=evil.exe\r\n\r\nMZ\r\n--outer--\r\n";
    let (list, odd) = shape(raw);
    let types: Vec<&str> = list.iter().map(|(t, ..)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "multipart/mixed",
            "multipart/alternative",
            "text/plain",
            "application/x-msdownload"
        ]
    );
    assert_eq!(list[2].3, "text");
    assert_eq!(list[3].3, "MZ");
    assert!(odd.unclosed_multipart);
}

#[test]
fn a_reused_boundary_flattens_as_clients_do() {
    let raw = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n";
    let (list, odd) = shape(raw);
    let types: Vec<&str> = list.iter().map(|(t, ..)| t.as_str()).collect();
    assert_eq!(types, ["multipart/mixed", "multipart/mixed", "text/plain"]);
    assert_eq!(list[1].1, Kind::Leaf);
    assert!(odd.degenerate_multipart);
}

#[test]
fn forwarded_messages_are_read_one_depth_down() {
    let raw = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: fwd\r\nContent-Type: text/html\r\n\r\n<a href=x>\r\n--b--\r\n";
    let (list, _) = shape(raw);
    assert_eq!(list[1].1, Kind::Message);
    assert_eq!(
        list[1].3,
        "Subject: fwd\r\nContent-Type: text/html\r\n\r\n<a href=x>"
    );
    assert_eq!(
        (list[2].0.as_str(), list[2].2, list[2].3.as_str()),
        ("text/html", 1, "<a href=x>")
    );
}

#[test]
fn headers_end_at_a_line_that_is_not_a_field() {
    let raw = "Content-Type: text/plain\r\nnot a header\r\nbody\r\n";
    let (list, odd) = shape(raw);
    assert_eq!(list[0].3, "not a header\r\nbody\r\n");
    assert!(odd.missing_header_end);
}

#[test]
fn caps_truncate() {
    let mut raw = String::new();
    for i in 0..30 {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"
        ));
    }
    let t = parse(raw.as_bytes(), 20, 500);
    assert!(t.odd.truncated);
    assert!(t.entities.len() <= 20);
    let many = "Content-Type: multipart/mixed; boundary=b\r\n\r\n".to_string()
        + &"--b\r\n\r\nx\r\n".repeat(50);
    let t = parse(many.as_bytes(), 20, 10);
    assert!(t.odd.truncated);
    assert_eq!(t.entities.len(), 10);
}
