//! SMTP framing over one stream: command lines with the RFC 5321 §4.5.3.1
//! length limit (excess discarded, not buffered), DATA with dot-unstuffing,
//! a size cap that keeps reading but stops buffering, and counts of bare LF
//! and NUL octets. Replies are buffered and flushed only when no pipelined
//! input is waiting (RFC 2920).
//!
//! Every wait is bounded: a command line must arrive whole within its
//! timeout, DATA within its timeout plus its size at the minimum data rate
//! (however the bytes are paced), and each write within the write timeout
//! (a client that never reads its replies cannot pin a session).

use std::{future::Future, io, sync::Arc, time::Duration};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets with CRLF.
pub const MAX_COMMAND_LINE: usize = 512;

/// Write timeout unless [`Conn::with_write_timeout`] sets one.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(300);

/// One read command line.
pub enum Line {
    /// The line, with its line ending.
    Ok(Vec<u8>),
    /// Longer than the limit; the rest was discarded up to the line end.
    TooLong,
}

/// A message received by DATA.
#[derive(Default)]
pub struct Data {
    /// The unstuffed message, up to the size cap.
    pub bytes: Vec<u8>,
    /// It exceeded the cap: `bytes` is incomplete and must not be used.
    pub oversize: bool,
    /// Lines ended by LF without CR.
    pub bare_lf: u32,
    /// NUL octets.
    pub nul: u32,
    /// The shared spool had no room: `bytes` is incomplete.
    pub spool_full: bool,
    /// Spool space held for `bytes` (KiB permits), released on drop.
    pub spool: Option<OwnedSemaphorePermit>,
}

/// A framed SMTP connection.
pub struct Conn<S> {
    stream: BufReader<BufWriter<S>>,
    write_timeout: Duration,
    /// A write timed out: the stream is unusable, every later write fails.
    write_dead: bool,
}

/// The peer went away or the stream failed.
pub fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed by peer")
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// Wraps a stream.
    pub fn new(stream: S) -> Self {
        Conn {
            stream: BufReader::with_capacity(
                16 * 1024,
                BufWriter::with_capacity(16 * 1024, stream),
            ),
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            write_dead: false,
        }
    }

    /// Sets how long one write (of a reply, or a flush) may block.
    pub fn with_write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Gives the stream back (for STARTTLS). Buffered input is dropped: after
    /// STARTTLS nothing sent in plaintext may be acted on (RFC 3207 §4.2).
    pub fn into_inner(self) -> S {
        self.stream.into_inner().into_inner()
    }

    /// Input already received and not yet read.
    pub fn has_pending_input(&self) -> bool {
        !self.stream.buffer().is_empty()
    }

    /// Queues a reply line (without CRLF).
    pub async fn reply(&mut self, line: &str) -> io::Result<()> {
        let (timeout, dead) = (self.write_timeout, &mut self.write_dead);
        let w = self.stream.get_mut();
        bounded_write(timeout, dead, async {
            w.write_all(line.as_bytes()).await?;
            w.write_all(b"\r\n").await
        })
        .await
    }

    /// Sends queued replies now.
    pub async fn flush(&mut self) -> io::Result<()> {
        let (timeout, dead) = (self.write_timeout, &mut self.write_dead);
        bounded_write(timeout, dead, self.stream.get_mut().flush()).await
    }

    /// Reads one command line within `timeout`, flushing replies first if
    /// the client is waiting for them.
    pub async fn read_line(&mut self, timeout: Duration) -> io::Result<Line> {
        if !self.has_pending_input() {
            self.flush().await?;
        }
        tokio::time::timeout(timeout, self.read_line_inner())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "command timeout"))?
    }

    async fn read_line_inner(&mut self) -> io::Result<Line> {
        let mut line = Vec::new();
        let mut too_long = false;
        loop {
            let buf = self.stream.fill_buf().await?;
            if buf.is_empty() {
                return Err(closed());
            }
            let (chunk, done) = match memchr(b'\n', buf) {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            let n = chunk.len();
            if !too_long {
                if line.len() + n > MAX_COMMAND_LINE {
                    too_long = true;
                    line.clear();
                } else {
                    line.extend_from_slice(chunk);
                }
            }
            self.stream.consume(n);
            if done {
                return Ok(if too_long {
                    Line::TooLong
                } else {
                    Line::Ok(line)
                });
            }
        }
    }

    /// Reads message data up to the terminating `.` line (CRLF.CRLF only,
    /// so a bare-LF dot cannot end the message early: no SMTP smuggling).
    /// Each read must arrive within `timeout`, and with `min_rate` octets/s
    /// (0: no minimum) the whole message within `timeout` plus its size at
    /// that rate (Postfix's `smtpd_min_data_rate` rule). `reserved`: spool
    /// space already held (the declared SIZE), allocated up front.
    pub async fn read_data(
        &mut self,
        max: usize,
        spool: &Arc<Semaphore>,
        reserved: Option<OwnedSemaphorePermit>,
        timeout: Duration,
        min_rate: u64,
    ) -> io::Result<Data> {
        let mut deadline = Instant::now() + timeout;
        let held = reserved.as_ref().map_or(0, |p| p.num_permits() * 1024);
        let mut data = Data {
            bytes: Vec::with_capacity(held.min(max)),
            spool: reserved,
            ..Data::default()
        };
        // The current line so far; `spilled` once part of it was passed on
        // (then it can be neither the terminator nor dot-stuffed any more).
        let mut cur: Vec<u8> = Vec::new();
        let mut spilled = false;
        let mut after_crlf = true;
        loop {
            let buf = tokio::time::timeout_at(deadline, self.stream.fill_buf())
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "data timeout"))??;
            if buf.is_empty() {
                return Err(closed());
            }
            let (chunk, eol) = match memchr(b'\n', buf) {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            cur.extend_from_slice(chunk);
            let n = chunk.len();
            self.stream.consume(n);
            deadline = data_deadline(deadline, n, timeout, min_rate);
            // Only CRLF "." CRLF ends the data: a dot line after a bare LF is
            // content (no SMTP smuggling through LF.CRLF).
            if eol && !spilled && after_crlf && cur == b".\r\n" {
                return Ok(data);
            }
            if eol || cur.len() >= 4096 {
                if eol {
                    after_crlf = cur.ends_with(b"\r\n");
                    data.bare_lf += u32::from(!after_crlf);
                }
                // Dot-unstuffing applies to the start of a line only.
                let stuffed = !spilled && cur.first() == Some(&b'.');
                data.take(&cur[usize::from(stuffed)..], max, spool);
                cur.clear();
                spilled = !eol;
            }
        }
    }
}

impl Data {
    /// Usable: neither over the size cap nor cut short by the spool.
    pub fn complete(&self) -> bool {
        !self.oversize && !self.spool_full
    }

    fn take(&mut self, text: &[u8], max: usize, spool: &Arc<Semaphore>) {
        self.nul += text.iter().filter(|&&b| b == 0).count() as u32;
        if !self.complete() {
            return;
        }
        let len = self.bytes.len() + text.len();
        if len > max {
            self.oversize = true;
        } else if !self.reserve(len, spool) {
            self.spool_full = true;
        } else {
            self.bytes.extend_from_slice(text);
            return;
        }
        self.bytes = Vec::new();
        self.spool = None;
    }

    /// Holds spool space for `len` bytes (in KiB units).
    fn reserve(&mut self, len: usize, spool: &Arc<Semaphore>) -> bool {
        let want = len.div_ceil(1024) as u32;
        let held = self.spool.as_ref().map_or(0, |p| p.num_permits() as u32);
        if want <= held {
            return true;
        }
        match spool.clone().try_acquire_many_owned(want - held) {
            Ok(p) => {
                match &mut self.spool {
                    Some(h) => h.merge(p),
                    None => self.spool = Some(p),
                }
                true
            }
            Err(_) => false,
        }
    }
}

/// The DATA deadline after `n` more octets: extended by their time at
/// `min_rate`, but never more than `timeout` from now (and exactly that
/// without a minimum rate).
fn data_deadline(deadline: Instant, n: usize, timeout: Duration, min_rate: u64) -> Instant {
    let per_read = Instant::now() + timeout;
    if min_rate == 0 {
        return per_read;
    }
    let credit = Duration::from_nanos((n as u64).saturating_mul(1_000_000_000) / min_rate);
    (deadline + credit).min(per_read)
}

/// Runs a write with a timeout; after one timeout every later write fails
/// at once (a client that does not read must not hold the session longer).
async fn bounded_write(
    timeout: Duration,
    dead: &mut bool,
    write: impl Future<Output = io::Result<()>>,
) -> io::Result<()> {
    if *dead {
        return Err(write_timed_out());
    }
    match tokio::time::timeout(timeout, write).await {
        Ok(r) => r,
        Err(_) => {
            *dead = true;
            Err(write_timed_out())
        }
    }
}

fn write_timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "write timeout")
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// DATA fed in awkward pieces: the terminator and dot-stuffing split
    /// across reads, a long line, a bare LF.
    #[tokio::test]
    async fn data_split_across_reads() {
        let (client, server) = tokio::io::duplex(8);
        let mut conn = Conn::new(server);
        let spool = Arc::new(Semaphore::new(1024));
        let long = "x".repeat(5000);
        let input = format!("a\r\n..b\r\n{long}\r\nbare\n.\r\nnot end\r\n.\r\n");
        let writer = tokio::spawn(async move {
            let mut client = client;
            for piece in input.as_bytes().chunks(3) {
                client.write_all(piece).await.unwrap();
            }
            client
        });
        let data = conn
            .read_data(1 << 20, &spool, None, Duration::from_secs(5), 500)
            .await
            .unwrap();
        let _client = writer.await.unwrap();
        // "bare\n.\r\n" is not the end: the dot line follows a bare LF.
        let want = format!("a\r\n.b\r\n{long}\r\nbare\n\r\nnot end\r\n");
        assert_eq!(String::from_utf8(data.bytes.clone()).unwrap(), want);
        assert_eq!(data.bare_lf, 1);
        assert!(data.complete());
    }

    /// Trickles `body` one byte per `gap`, then the terminator.
    fn trickle(
        body: usize,
        gap: Duration,
    ) -> (tokio::io::DuplexStream, tokio::task::JoinHandle<()>) {
        let (mut client, server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            for _ in 0..body {
                if client.write_all(b"x").await.is_err() {
                    return;
                }
                tokio::time::sleep(gap).await;
            }
            let _ = client.write_all(b"\r\n.\r\n").await;
        });
        (server, writer)
    }

    /// A slow sender whose every byte arrives well within the per-read
    /// timeout is cut off by the minimum data rate, not only by idleness.
    #[tokio::test]
    async fn data_slower_than_min_rate_is_cut_off() {
        let spool = Arc::new(Semaphore::new(1024));
        let timeout = Duration::from_millis(200);
        // 50 octets/s against a minimum of 1000: about 210 ms allowed.
        let (server, writer) = trickle(100, Duration::from_millis(20));
        let started = Instant::now();
        let r = Conn::new(server)
            .read_data(1 << 20, &spool, None, timeout, 1000)
            .await;
        let took = started.elapsed();
        assert_eq!(r.err().map(|e| e.kind()), Some(io::ErrorKind::TimedOut));
        assert!(took >= timeout && took < Duration::from_secs(1), "{took:?}");
        writer.abort();
        // Without a minimum rate the same pace is fine (each read is on time).
        let (server, writer) = trickle(20, Duration::from_millis(20));
        let data = Conn::new(server)
            .read_data(1 << 20, &spool, None, timeout, 0)
            .await
            .unwrap();
        assert_eq!(data.bytes, b"xxxxxxxxxxxxxxxxxxxx\r\n");
        writer.await.unwrap();
    }
}
