//! The listener that serves a milter socket ([`SocketSpec`], defined with
//! the configuration).
//!
//! TCP connections get `TCP_NODELAY`: indymilter writes each reply of an
//! end-of-message batch (delete header, insert header, accept) separately, and
//! with Nagle on, every write after the first waits for the MTA's delayed ACK
//! (~40 ms per message against Postfix).

pub use crate::config::SocketSpec;
use std::{
    io,
    net::SocketAddr,
    os::unix::fs::PermissionsExt,
    pin::Pin,
    task::{Context, Poll},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream, UnixListener, UnixStream},
};

/// A bound milter listener of either kind.
pub enum MilterListener {
    /// TCP; accepted streams get `TCP_NODELAY`.
    Tcp(TcpListener),
    /// Unix-domain socket.
    Unix(UnixListener),
}

impl MilterListener {
    /// Binds `spec`. A unix socket gets `mode`; see [`Self::bind_owned`].
    pub async fn bind(spec: &SocketSpec, mode: u32) -> io::Result<Self> {
        Self::bind_owned(spec, mode, None, None).await
    }

    /// Binds `spec`; a unix socket gets `mode`, and the owner `uid` and group
    /// `gid` when given (the account the process will drop to, the group
    /// Postfix is in). A stale socket file is removed first; a socket some
    /// live process still answers on is refused, as OpenDKIM does — taking
    /// it over would leave that process unreachable, and its exit would
    /// delete our socket.
    pub async fn bind_owned(
        spec: &SocketSpec,
        mode: u32,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> io::Result<Self> {
        let path = match spec {
            SocketSpec::Inet(addr) => {
                return Ok(MilterListener::Tcp(TcpListener::bind(addr).await?))
            }
            SocketSpec::Unix(path) => path,
        };
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            use std::os::unix::fs::FileTypeExt;
            if !meta.file_type().is_socket() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a socket", path.display()),
                ));
            }
            if UnixStream::connect(path).await.is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "{} is in use: another milter answers on it (stop it first)",
                        path.display()
                    ),
                ));
            }
            std::fs::remove_file(path)?;
        }
        let l = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::chown(path, uid, gid)?;
        }
        Ok(MilterListener::Unix(l))
    }

    /// The bound TCP address, if any (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            MilterListener::Tcp(l) => l.local_addr().ok(),
            MilterListener::Unix(_) => None,
        }
    }
}

impl indymilter::Listener for MilterListener {
    type Io = MilterStream;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<MilterStream>> {
        match self {
            MilterListener::Tcp(l) => TcpListener::poll_accept(l, cx).map_ok(|(s, _)| {
                // Best effort: a failure only costs latency.
                let _ = s.set_nodelay(true);
                MilterStream::Tcp(s)
            }),
            MilterListener::Unix(l) => {
                UnixListener::poll_accept(l, cx).map_ok(|(s, _)| MilterStream::Unix(s))
            }
        }
    }
}

/// An accepted milter connection.
pub enum MilterStream {
    /// TCP (with `TCP_NODELAY`).
    Tcp(TcpStream),
    /// Unix-domain.
    Unix(UnixStream),
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            MilterStream::Tcp($s) => {
                let $s = Pin::new($s);
                $e
            }
            MilterStream::Unix($s) => {
                let $s = Pin::new($s);
                $e
            }
        }
    };
}

impl AsyncRead for MilterStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = self.get_mut();
        let poll = match this {
            MilterStream::Tcp(s) => Pin::new(&mut *s).poll_read(cx, buf),
            MilterStream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        };
        if let (MilterStream::Tcp(s), Poll::Ready(Ok(()))) = (&*this, &poll) {
            if buf.filled().len() > before {
                quickack(s);
            }
        }
        poll
    }
}

/// Acknowledges received data at once instead of after the delayed-ACK
/// timer. Steps the MTA was told not to wait for (no-reply) get no answer to
/// carry the ACK, and an MTA that writes each command separately (Sendmail,
/// miltertest) would hold its next small write (Nagle) until that ACK came,
/// ~40 ms later. Linux leaves quick-ACK mode by itself, so it is re-armed
/// after every read. Best effort: a failure only costs latency.
fn quickack(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: a valid socket descriptor and a c_int option of the right size.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

impl AsyncWrite for MilterStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => s.poll_write(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => s.poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => s.poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_spellings() {
        let ok = [
            ("inet:127.0.0.1:8891", "inet:127.0.0.1:8891"),
            ("inet:8891@127.0.0.1", "inet:127.0.0.1:8891"),
            ("inet:8891@localhost", "inet:127.0.0.1:8891"),
            ("inet:localhost:10", "inet:127.0.0.1:10"),
            ("inet:[::1]:8891", "inet:[::1]:8891"),
            ("inet6:8891@[::1]", "inet:[::1]:8891"),
            ("inet:*:25", "inet:0.0.0.0:25"),
            ("unix:/run/authsense.sock", "unix:/run/authsense.sock"),
            ("local:/x.sock", "unix:/x.sock"),
        ];
        for (s, want) in ok {
            assert_eq!(s.parse::<SocketSpec>().unwrap().to_string(), want, "{s}");
        }
        for bad in [
            "8891",
            "inet:",
            "inet:host.example:1",
            "inet:1@",
            "unix:",
            "tcp:1:2",
            "inet:1.2.3.4:99999",
        ] {
            assert!(bad.parse::<SocketSpec>().is_err(), "{bad}");
        }
    }
}
