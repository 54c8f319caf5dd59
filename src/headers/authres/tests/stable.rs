//! A deterministic fuzz: parse → format → parse gives the same value.

use super::*;

#[test]
fn parse_format_parse_is_stable() {
    const NOISE: [&str; 26] = [
        ";", " ", "=", ".", "/", "(", ")", "\"", "\\", "@", "\r\n ", "\n", "\r", "1", "\u{fc}",
        ":", "[", "]", "none", "\t", "\u{1}", "${x}", "-", "?", "a", "reason=",
    ];
    const IDS: [&str; 4] = [
        "mx.example.com",
        "\"q \\\" id\"",
        "m\u{fc}ller.example",
        "mx.example.com 1",
    ];
    const METHODS: [&str; 5] = ["spf", "dkim/1", "x-tls", "DMARC", "none"];
    const RESULTS: [&str; 4] = ["pass", "${SPFResult}", "", "Fail"];
    const NAMES: [&str; 5] = [
        "smtp.mailfrom",
        "header.b",
        "x-bits",
        "reason",
        "Policy.IPrev",
    ];
    const VALUES: [&str; 8] = [
        "\"q \\\" r\"",
        "user@example.org",
        "@example.org",
        "Qgi/FoC0",
        "\"j d\"@e.org",
        "a=b?c@d.example",
        "\"[192.0.2.1]\"",
        "\"\"",
    ];
    const CFWS: [&str; 5] = [" ", " (c (d) \\) ) ", "\r\n\t", "\n ", "  "];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut parsed = 0;
    for _ in 0..20_000 {
        let mut s = IDS[next(IDS.len())].to_string();
        for _ in 0..next(4) {
            s += &[
                ";",
                CFWS[next(CFWS.len())],
                METHODS[next(METHODS.len())],
                "=",
            ]
            .concat();
            s += RESULTS[next(RESULTS.len())];
            for _ in 0..next(4) {
                let (name, value) = (NAMES[next(NAMES.len())], VALUES[next(VALUES.len())]);
                s += &[CFWS[next(CFWS.len())], name, "=", value].concat();
            }
        }
        for _ in 0..next(3) {
            let at = next(s.len() + 1);
            if s.is_char_boundary(at) {
                s.insert_str(at, NOISE[next(NOISE.len())]);
            }
        }
        let _ = authserv_id(&s);
        let Ok(ar) = parse(&s) else { continue };
        parsed += 1;
        assert_eq!(authserv_id(&s).as_ref(), Ok(&ar.authserv_id), "{s:?}");
        if s.contains('\u{1}') {
            continue; // control characters are replaced when formatting
        }
        let text = ar.to_string();
        assert_eq!(parse(&text).as_ref(), Ok(&ar), "{s:?} -> {text:?}");
    }
    println!("fuzz: {parsed}/20000 parsed");
    assert!(parsed > 5_000, "only {parsed} inputs parsed");
}
