//! DATA: receive the copy, extract its metadata and analyse it (verdict,
//! score, reasons; large copies off the async threads), and answer 250
//! only once the record is durably committed — 451 if it could not be (the
//! gateway keeps the copy queued and retries: nothing is lost).
//! A committed record that meets `[alerts] threshold` is then handed to the
//! alerter, which never delays the reply.
//! With export on, also only once its event is acknowledged by JetStream
//! (`required`) or spooled; a retried copy (same Message-ID, recipients and
//! content) is answered 250 again, "stored as" the first copy's uid.

use super::session::Handler;
use crate::alerts::Summary;
use crate::ingest::extract::Envelope;
use crate::model::{Gateway, Record};
use crate::store::CopyInProgress;
use std::{
    io,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::{info, warn, Level};

/// Copies up to this size are parsed and analysed on the async worker that
/// received them when the store's reads are local
/// (SQLite); larger ones, and every copy with a PostgreSQL store (the
/// analysis's history lookup is a network round trip), on the blocking
/// pool, so neither a big message nor a slow database server holds up
/// other sessions. Handing a small copy to the pool and back cost more CPU
/// than parsing it (BENCHMARKS.md).
const INLINE_PARSE_MAX: usize = 32 * 1024;

/// A unique id for each copy: receive time, process and sequence number.
fn new_uid(now: SystemTime) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let ms = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    format!(
        "{ms:011x}{:05x}{:06x}",
        std::process::id() & 0xfffff,
        seq & 0xff_ffff
    )
}

/// A copy read off the wire, with what the rest of DATA needs.
struct Received {
    data: super::conn::Data,
    env: Envelope,
    copy: CopyInProgress,
    started: Instant,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Handler<'_, S> {
    /// DATA: read the copy, ingest it, store it, reply (see the module
    /// documentation).
    pub(super) async fn data(&mut self) -> io::Result<()> {
        let Some(copy) = self.read_copy().await? else {
            return Ok(());
        };
        let uid = copy.env.uid.clone();
        let size = copy.data.bytes.len();
        let (started, in_progress) = (copy.started, copy.copy);
        // Tags of our own alert mail, if this copy is one (verified later).
        let loop_tags = self
            .st
            .settings
            .alerts
            .as_ref()
            .map(|_| crate::alerts::looptag::find(&copy.data.bytes))
            .unwrap_or_default();
        let Some(record) = self.ingest(copy.data, copy.env).await else {
            metrics::counter!(crate::metrics::SENSOR_PARSE_ERRORS).increment(1);
            warn!(%uid, gateway = %self.st.peer, "metadata extraction failed");
            return self
                .conn
                .reply("451 4.3.0 Internal error, try again later")
                .await;
        };
        let reply = self
            .store(record, in_progress, &loop_tags, size, started)
            .await;
        self.conn.reply(&reply).await
    }

    /// `354`, then the copy itself; `None` when DATA was answered already
    /// (no transaction, no recipient, too big, spool full).
    async fn read_copy(&mut self) -> io::Result<Option<Received>> {
        let Some(mut tx) = self.st.tx.take() else {
            self.conn
                .reply("503 5.5.1 Need MAIL and RCPT before DATA")
                .await?;
            return Ok(None);
        };
        if tx.rcpt_to.is_empty() {
            self.conn.reply("554 5.5.1 No valid recipients").await?;
            return Ok(None);
        }
        self.conn
            .reply("354 End data with <CR><LF>.<CR><LF>")
            .await?;
        self.conn.flush().await?;
        let cfg = &self.st.settings.config;
        let timeout = Duration::from_secs(cfg.data_timeout_secs);
        let read = self.conn.read_data(
            cfg.max_message_size,
            &self.sensor.spool,
            tx.spool.take(),
            timeout,
            cfg.min_data_rate,
        );
        let data = match read.await {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                self.conn
                    .reply("421 4.4.2 Data timeout, closing connection")
                    .await?;
                self.conn.flush().await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        if data.oversize {
            self.conn
                .reply("552 5.3.4 Message size exceeds fixed maximum message size")
                .await?;
            return Ok(None);
        }
        if data.spool_full {
            warn!(gateway = %self.st.peer, "spool full, copy deferred with 452");
            self.conn
                .reply("452 4.3.1 Insufficient system storage, try again later")
                .await?;
            return Ok(None);
        }
        let env = self.envelope(tx.mail_from, tx.rcpt_to);
        Ok(Some(Received {
            data,
            env,
            copy: tx.copy,
            started: Instant::now(),
        }))
    }

    /// The copy's SMTP facts, as the record keeps them.
    fn envelope(&self, mailfrom: String, rcptto: Vec<String>) -> Envelope {
        let st = &self.st;
        let received_at = SystemTime::now();
        Envelope {
            uid: new_uid(received_at),
            received_at,
            gateway: Gateway {
                ip: st.peer.ip().to_canonical().to_string(),
                port: st.peer.port(),
                helo: st.helo.clone().unwrap_or_default(),
                tls: st.tls.is_some(),
                tls_version: st.tls.as_ref().map(|t| t.version.clone()),
                tls_cipher: st.tls.as_ref().map(|t| t.cipher.clone()),
            },
            mailfrom,
            rcptto,
        }
    }

    /// The pure pipeline ([`crate::ingest::ingest`]) on this worker for a
    /// small copy with a local store, else on the blocking pool; `None` if
    /// it panicked.
    async fn ingest(&self, data: super::conn::Data, env: Envelope) -> Option<Record> {
        let opts = self.st.settings.extract_options(self.st.peer.ip());
        let cfg = Arc::clone(&self.st.settings.analysis);
        let history = self.sensor.store.clone();
        // The spool permit stays in `data` until the work is done.
        let inline = data.bytes.len() <= INLINE_PARSE_MAX && history.reads_are_local();
        let work = move || crate::ingest::ingest(&data.bytes, env, &opts, &cfg, &history);
        if inline {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).ok()
        } else {
            tokio::task::spawn_blocking(work).await.ok()
        }
    }

    /// Commits the record (and exports it), then the reply: 250 only once
    /// it is durable, 451 otherwise. Alerts are queued after the commit.
    async fn store(
        &self,
        record: Record,
        copy: CopyInProgress,
        loop_tags: &[String],
        size: usize,
        started: Instant,
    ) -> String {
        let sensor = self.sensor;
        let peer = self.st.peer;
        let uid = record.uid.clone();
        let line = tracing::enabled!(Level::INFO).then(|| LogLine::of(&record));
        // Only a flagged record costs a summary; it is queued after the commit.
        let alert = self
            .st
            .settings
            .alerts
            .as_ref()
            .filter(|a| a.wants(&record) && !a.is_own_alert(loop_tags, &record))
            .map(|a| (a, Summary::of(&record, 0)));
        let counted = crate::metrics::sensor_labels(&record);
        // The event is the stored record, id included (kept only if exporting).
        let event = sensor.exporter.as_ref().map(|_| record.clone());
        let insert_started = Instant::now();
        let stored = match sensor.store.insert_in_progress(record, copy).await {
            Ok(stored) => stored,
            Err(e) => {
                metrics::counter!(crate::metrics::STORE_ERRORS).increment(1);
                warn!(%uid, gateway = %peer, error = %e, "store failed, copy refused with 451");
                return "451 4.3.0 Storage unavailable, try again later".into();
            }
        };
        let id = stored.id;
        crate::metrics::stored(&counted, size, insert_started.elapsed());
        if let (Some(ex), Some(mut event)) = (&sensor.exporter, event) {
            event.id = Some(id);
            if let Err(e) = ex.export(&event).await {
                warn!(%uid, id, gateway = %peer, error = %e, "export failed, copy refused with 451 (stored; the retry is idempotent)");
                return "451 4.3.0 Event export unavailable, try again later".into();
            }
        }
        if let Some((alerts, summary)) = alert {
            alerts.notify(Summary { id, ..summary });
        }
        if let Some(l) = line {
            info!(%uid, id, gateway = %peer, size, rcpts = l.rcpts, auth_source = %l.source, spf = %l.spf, original_mailfrom = %l.sender, verdict = l.verdict, score = l.score, elapsed_us = started.elapsed().as_micros() as u64, "copy stored");
        }
        if stored.duplicate {
            info!(%uid, id, stored_as = %stored.uid, gateway = %peer, "retried copy, already stored");
        }
        format!("250 2.0.0 Ok: stored as {}", stored.uid)
    }
}

/// The "copy stored" log line's fields, built only when it is written.
struct LogLine {
    spf: String,
    source: &'static str,
    sender: String,
    verdict: &'static str,
    score: u8,
    rcpts: usize,
}

impl LogLine {
    fn of(r: &Record) -> LogLine {
        LogLine {
            spf: r
                .auth
                .spf
                .as_ref()
                .map_or("-".to_string(), |m| m.result.clone()),
            source: r.auth.source.as_str(),
            sender: r.original.mailfrom.clone().unwrap_or_default(),
            verdict: r.verdict.map_or("-", |v| v.as_str()),
            score: r.score.unwrap_or_default(),
            rcpts: r.rcptto.len(),
        }
    }
}
