//! The SMTP conversation with a gateway (RFC 5321), one command at a time:
//! EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, VRFY, HELP, QUIT and STARTTLS.
//! Bad commands get 500/501/503 and the session goes on. Our own failures
//! answer 4xx: a copy is never bounced. A command must arrive whole within
//! the idle timeout, and no command is read past the session time limit
//! (421); a copy being received is finished first.

use super::conn::{Conn, Line};
use super::{Sensor, Settings};
use crate::store::CopyInProgress;
use smtp_proto::{Error as ProtoError, Request};
use std::{
    io,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::OwnedSemaphorePermit;

/// TLS parameters of the session, once STARTTLS completed.
#[derive(Debug, Clone)]
pub struct TlsInfo {
    /// Protocol version, e.g. `TLSv1_3`.
    pub version: String,
    /// Cipher suite.
    pub cipher: String,
}

/// What the connection does after [`Handler::run`] returns.
pub enum Next {
    /// The client said QUIT (or was told to go away).
    Quit,
    /// STARTTLS accepted: upgrade the stream and serve again.
    StartTls,
}

/// The current mail transaction.
pub struct Transaction {
    /// MAIL FROM address.
    pub mail_from: String,
    /// RCPT TO addresses.
    pub rcpt_to: Vec<String>,
    /// Spool space held since MAIL for the size the client declared
    /// (RFC 1870 SIZE), so DATA cannot run out of it half-way.
    pub spool: Option<OwnedSemaphorePermit>,
    /// Tells the store this copy is on its way, so a commit made meanwhile
    /// may wait for it (`[store] commit_delay_us`); held until its record
    /// is queued for commit, or the transaction ends without one.
    pub copy: CopyInProgress,
}

/// State of one session, kept across STARTTLS (then reset, RFC 3207 §4.2).
pub struct SessionState {
    /// The gateway's address.
    pub peer: SocketAddr,
    /// HELO/EHLO name.
    pub helo: Option<String>,
    /// Set after STARTTLS.
    pub tls: Option<TlsInfo>,
    /// The transaction in progress.
    pub tx: Option<Transaction>,
    /// When the connection was accepted.
    pub started: Instant,
    /// The sensor's settings this session works with: those in force at
    /// accept, taken again at each EHLO/HELO and each new transaction.
    pub settings: Arc<Settings>,
}

impl SessionState {
    /// A new session from `peer`, with the settings in force.
    pub fn new(peer: SocketAddr, settings: Arc<Settings>) -> Self {
        SessionState {
            peer,
            helo: None,
            tls: None,
            tx: None,
            started: Instant::now(),
            settings,
        }
    }

    /// After the TLS handshake: forget everything learnt in plaintext.
    pub fn start_tls(&mut self, info: TlsInfo) {
        self.helo = None;
        self.tx = None;
        self.tls = Some(info);
    }
}

/// One gateway connection: the framed stream, the session's state and the
/// sensor it serves (tokio-rs/mini-redis's `Handler` shape). STARTTLS ends a
/// handler; the connection then serves a new one over the TLS stream with
/// the same state.
pub struct Handler<'a, S> {
    /// The framed stream.
    pub conn: Conn<S>,
    /// What the session has learnt.
    pub st: SessionState,
    /// The sensor.
    pub sensor: &'a Sensor,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Handler<'_, S> {
    /// Serves commands until QUIT, STARTTLS or an I/O error.
    pub async fn run(&mut self) -> io::Result<Next> {
        let idle = Duration::from_secs(self.st.settings.config.idle_timeout_secs);
        let limit = self.st.settings.config.session_timeout_secs;
        let end = (limit > 0).then(|| self.st.started + Duration::from_secs(limit));
        loop {
            let left = end.map_or(idle, |end| end.saturating_duration_since(Instant::now()));
            let read = if left.is_zero() {
                Err(io::ErrorKind::TimedOut.into())
            } else {
                self.conn.read_line(idle.min(left)).await
            };
            let line = match read {
                Ok(Line::Ok(line)) => line,
                Ok(Line::TooLong) => {
                    self.conn.reply("500 5.5.2 Line too long").await?;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    let reply = if end.is_some_and(|end| Instant::now() >= end) {
                        "421 4.4.2 Session time limit reached, closing connection"
                    } else {
                        "421 4.4.2 Idle timeout, closing connection"
                    };
                    self.conn.reply(reply).await?;
                    self.conn.flush().await?;
                    return Ok(Next::Quit);
                }
                Err(e) => return Err(e),
            };
            if let Some(next) = self.command(Request::parse(&mut line.iter())).await? {
                return Ok(next);
            }
        }
    }

    /// Answers one command; `Some` when the session ends or upgrades.
    async fn command(
        &mut self,
        request: Result<Request<std::borrow::Cow<'_, str>>, ProtoError>,
    ) -> io::Result<Option<Next>> {
        let reply: String = match request {
            Ok(Request::Ehlo { host }) => return self.ehlo(&host, true).await.map(|_| None),
            Ok(Request::Helo { host }) => return self.ehlo(&host, false).await.map(|_| None),
            Ok(Request::Lhlo { .. }) => "500 5.5.1 LHLO is for LMTP".into(),
            Ok(Request::Mail { from }) => self.mail(&from.address, from.size),
            Ok(Request::Rcpt { to }) => self.rcpt(&to.address).into(),
            Ok(Request::Data) => return self.data().await.map(|_| None),
            Ok(Request::Rset) => {
                self.st.tx = None;
                "250 2.0.0 Ok".into()
            }
            Ok(Request::Noop { .. }) => "250 2.0.0 Ok".into(),
            Ok(Request::Vrfy { .. }) => "252 2.5.2 Cannot VRFY user".into(),
            Ok(Request::Help { .. }) => {
                "214 2.0.0 authsense sensor: https://www.rfc-editor.org/rfc/rfc5321".into()
            }
            Ok(Request::Quit) => {
                self.conn.reply("221 2.0.0 Bye").await?;
                self.conn.flush().await?;
                return Ok(Some(Next::Quit));
            }
            Ok(Request::StartTls) => return self.starttls().await,
            Ok(Request::Auth { .. }) => "502 5.5.1 AUTH not supported".into(),
            Ok(_) => "502 5.5.1 Command not implemented".into(),
            Err(e) => syntax_reply(&e),
        };
        self.conn.reply(&reply).await.map(|_| None)
    }

    async fn starttls(&mut self) -> io::Result<Option<Next>> {
        if self.st.tls.is_some() {
            self.conn.reply("503 5.5.1 TLS already active").await?;
        } else if self.st.settings.tls.is_none() {
            self.conn.reply("502 5.5.1 STARTTLS not available").await?;
        } else {
            self.conn.reply("220 2.0.0 Ready to start TLS").await?;
            self.conn.flush().await?;
            return Ok(Some(Next::StartTls));
        }
        Ok(None)
    }

    async fn ehlo(&mut self, host: &str, extended: bool) -> io::Result<()> {
        self.st.helo = Some(host.to_string());
        self.st.tx = None;
        self.st.settings = self.sensor.settings();
        let set = Arc::clone(&self.st.settings);
        let name = &set.hostname;
        if !extended {
            return self.conn.reply(&format!("250 {name}")).await;
        }
        let mut lines = vec![
            name.to_string(),
            "PIPELINING".into(),
            format!("SIZE {}", set.config.max_message_size),
            "8BITMIME".into(),
            "SMTPUTF8".into(),
            "ENHANCEDSTATUSCODES".into(),
        ];
        if set.tls.is_some() && self.st.tls.is_none() {
            lines.push("STARTTLS".into());
        }
        let last = lines.len() - 1;
        for (i, l) in lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            self.conn.reply(&format!("250{sep}{l}")).await?;
        }
        Ok(())
    }

    fn mail(&mut self, from: &str, size: usize) -> String {
        let (st, sensor) = (&mut self.st, self.sensor);
        if st.helo.is_none() {
            return "503 5.5.1 Send EHLO or HELO first".into();
        }
        if st.tx.is_some() {
            return "503 5.5.1 Nested MAIL command".into();
        }
        // A new transaction: the settings in force, kept until it ends.
        st.settings = sensor.settings();
        let cfg = &st.settings.config;
        if cfg.require_tls && st.tls.is_none() {
            return "530 5.7.0 Must issue a STARTTLS command first".into();
        }
        if size > cfg.max_message_size {
            return "552 5.3.4 Message size exceeds fixed maximum message size".into();
        }
        // A declared size is reserved now (KiB permits): if the spool cannot
        // hold it, 452 before the client streams it (RFC 1870 §6.1), instead
        // of after, and concurrent copies cannot each take a share and all
        // fail.
        let spool = if size == 0 {
            None
        } else {
            let kib = u32::try_from(size.div_ceil(1024)).unwrap_or(u32::MAX);
            match sensor.spool.clone().try_acquire_many_owned(kib) {
                Ok(p) => Some(p),
                Err(_) => return "452 4.3.1 Insufficient system storage, try again later".into(),
            }
        };
        st.tx = Some(Transaction {
            mail_from: from.to_string(),
            rcpt_to: Vec::new(),
            spool,
            copy: sensor.store.begin_copy(),
        });
        "250 2.1.0 Ok".into()
    }

    fn rcpt(&mut self, to: &str) -> &'static str {
        let Some(tx) = self.st.tx.as_mut() else {
            return "503 5.5.1 Need MAIL before RCPT";
        };
        if tx.rcpt_to.len() >= self.st.settings.config.max_recipients {
            return "452 4.5.3 Too many recipients";
        }
        tx.rcpt_to.push(to.to_string());
        "250 2.1.5 Ok"
    }
}

fn syntax_reply(e: &ProtoError) -> String {
    match e {
        ProtoError::UnknownCommand => "500 5.5.2 Command unrecognized".into(),
        ProtoError::InvalidSenderAddress => "501 5.1.7 Bad sender address syntax".into(),
        ProtoError::InvalidRecipientAddress => "501 5.1.3 Bad recipient address syntax".into(),
        ProtoError::SyntaxError { syntax } => format!("501 5.5.4 Syntax: {syntax}"),
        ProtoError::InvalidParameter { param } => format!("501 5.5.4 Invalid parameter {param}"),
        ProtoError::UnsupportedParameter { param } => {
            format!(
                "555 5.5.4 Unsupported parameter {}",
                param.replace(['\r', '\n'], "")
            )
        }
        _ => "500 5.5.2 Syntax error".into(),
    }
}
