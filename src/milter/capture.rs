//! The message as the MTA passes it to the milter, rebuilt for DKIM and ARC:
//! `name:value` header lines with CRLF (the MTA folds with bare LF), a blank
//! line, the body. Buffering stops at a size cap; the headers are kept so
//! signatures can still be listed.

/// A message being received, up to `cap` octets.
#[derive(Debug, Default)]
pub struct Capture {
    raw: Vec<u8>,
    header_end: Option<usize>,
    cap: usize,
    over: bool,
}

impl Capture {
    /// An empty capture that buffers at most `cap` octets.
    pub fn new(cap: usize) -> Self {
        Capture {
            cap,
            ..Capture::default()
        }
    }

    /// One header; `value` is exactly what followed the colon (leading space
    /// included).
    pub fn header(&mut self, name: &str, value: &[u8]) {
        if self.header_end.is_some() {
            return;
        }
        self.raw.extend_from_slice(name.as_bytes());
        self.raw.push(b':');
        push_crlf(&mut self.raw, value);
        self.raw.extend_from_slice(b"\r\n");
    }

    fn end_headers(&mut self) {
        if self.header_end.is_none() {
            self.raw.extend_from_slice(b"\r\n");
            self.header_end = Some(self.raw.len());
        }
    }

    /// A body chunk (CRLF line endings, as the MTA sends it).
    pub fn body(&mut self, chunk: &[u8]) {
        self.end_headers();
        if self.over {
            return;
        }
        if self.raw.len() + chunk.len() > self.cap {
            self.over = true;
            let end = self.header_end.unwrap_or(self.raw.len());
            self.raw.truncate(end);
            self.raw.shrink_to_fit();
        } else {
            self.raw.extend_from_slice(chunk);
        }
    }

    /// The rebuilt message and whether its body is complete.
    pub fn finish(mut self) -> (Vec<u8>, bool) {
        self.end_headers();
        (self.raw, !self.over)
    }
}

/// Appends `value`, turning bare LF into CRLF.
fn push_crlf(out: &mut Vec<u8>, value: &[u8]) {
    let mut prev = 0u8;
    for &b in value {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
}

#[cfg(test)]
mod tests {
    use super::Capture;

    #[test]
    fn rebuilds_crlf_message() {
        let mut c = Capture::new(1000);
        c.header("Subject", b" hello");
        c.header("X-Folded", b" a\n\tb");
        c.body(b"line\r\n");
        let (raw, complete) = c.finish();
        assert!(complete);
        assert_eq!(raw, b"Subject: hello\r\nX-Folded: a\r\n\tb\r\n\r\nline\r\n");
    }

    #[test]
    fn over_the_cap_keeps_headers_only() {
        let mut c = Capture::new(40);
        c.header("Subject", b" hello");
        c.body(b"0123456789");
        c.body(&[b'x'; 100]);
        c.body(b"more");
        let (raw, complete) = c.finish();
        assert!(!complete);
        assert_eq!(raw, b"Subject: hello\r\n\r\n");
    }

    #[test]
    fn no_body_at_all() {
        let mut c = Capture::new(40);
        c.header("A", b" b");
        assert_eq!(c.finish(), (b"A: b\r\n\r\n".to_vec(), true));
    }
}
