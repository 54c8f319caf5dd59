//! DATA: receive the copy, extract its metadata and analyse it (verdict,
//! score, reasons; large copies off the async threads), and answer 250
//! only once the record is durably committed — 451 if it could not be (the
//! gateway keeps the copy queued and retries: nothing is lost).
//! A committed record that meets `[alerts] threshold` is then handed to the
//! alerter, which never delays the reply.
//! With export on, also only once its event is acknowledged by JetStream
//! (`required`) or spooled; a retried copy (same Message-ID, recipients and
//! content) is answered 250 again, "stored as" the first copy's uid.

use super::conn::Conn;
use super::session::SessionState;
use super::Sensor;
use crate::alerts::Summary;
use crate::ingest::analysis;
use crate::ingest::extract::{self, Envelope};
use crate::model::Gateway;
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

/// Handles the DATA command and the message that follows.
pub async fn receive<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    st: &mut SessionState,
    sensor: &Sensor,
) -> io::Result<()> {
    let Some(mut tx) = st.tx.take() else {
        return conn.reply("503 5.5.1 Need MAIL and RCPT before DATA").await;
    };
    if tx.rcpt_to.is_empty() {
        return conn.reply("554 5.5.1 No valid recipients").await;
    }
    conn.reply("354 End data with <CR><LF>.<CR><LF>").await?;
    conn.flush().await?;
    let timeout = Duration::from_secs(sensor.config.data_timeout_secs);
    let data = match conn
        .read_data(
            sensor.config.max_message_size,
            &sensor.spool,
            tx.spool.take(),
            timeout,
            sensor.config.min_data_rate,
        )
        .await
    {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {
            conn.reply("421 4.4.2 Data timeout, closing connection")
                .await?;
            conn.flush().await?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    if data.oversize {
        return conn
            .reply("552 5.3.4 Message size exceeds fixed maximum message size")
            .await;
    }
    if data.spool_full {
        warn!(gateway = %st.peer, "spool full, copy deferred with 452");
        return conn
            .reply("452 4.3.1 Insufficient system storage, try again later")
            .await;
    }
    let started = Instant::now();
    let received_at = SystemTime::now();
    let uid = new_uid(received_at);
    let env = Envelope {
        uid: uid.clone(),
        received_at,
        gateway: Gateway {
            ip: st.peer.ip().to_canonical().to_string(),
            port: st.peer.port(),
            helo: st.helo.clone().unwrap_or_default(),
            tls: st.tls.is_some(),
            tls_version: st.tls.as_ref().map(|t| t.version.clone()),
            tls_cipher: st.tls.as_ref().map(|t| t.cipher.clone()),
        },
        mailfrom: tx.mail_from,
        rcptto: tx.rcpt_to,
    };
    // Tags of our own alert mail, if this copy is one (verified below).
    let loop_tags = sensor
        .alerts
        .as_ref()
        .map(|_| crate::alerts::looptag::find(&data.bytes))
        .unwrap_or_default();
    let opts = sensor.extract_options(st.peer.ip());
    let analysis_cfg = Arc::clone(&sensor.analysis);
    let history = sensor.store.clone();
    let size = data.bytes.len();
    // The spool permit stays in `data` until the work is done. The analysis
    // reads the store's history (a short indexed query).
    let inline = size <= INLINE_PARSE_MAX && history.reads_are_local();
    let work = move || {
        let mut record = extract::extract(&data.bytes, env, &opts);
        analysis::apply(&mut record, &analysis_cfg, &history);
        record
    };
    let record = if inline {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
            .map_err(|_| "panicked".to_string())
    } else {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| e.to_string())
    };
    let record = match record {
        Ok(r) => r,
        Err(e) => {
            metrics::counter!(crate::metrics::SENSOR_PARSE_ERRORS).increment(1);
            warn!(%uid, gateway = %st.peer, error = %e, "metadata extraction failed");
            return conn
                .reply("451 4.3.0 Internal error, try again later")
                .await;
        }
    };
    // The log line's fields, built only when it is written.
    let summary = tracing::enabled!(Level::INFO).then(|| {
        (
            record
                .auth
                .spf
                .as_ref()
                .map_or("-".to_string(), |m| m.result.clone()),
            record.auth.source.as_str(),
            record.original.mailfrom.clone().unwrap_or_default(),
            record.verdict.map_or("-", |v| v.as_str()),
            record.score.unwrap_or_default(),
        )
    });
    let rcpts = record.rcptto.len();
    // Only a flagged record costs a summary; it is queued after the commit.
    let alert = sensor
        .alerts
        .as_ref()
        .filter(|a| a.wants(&record) && !a.is_own_alert(&loop_tags, &record))
        .map(|a| (a, Summary::of(&record, 0)));
    let counted = crate::metrics::sensor_labels(&record);
    // The event is the stored record, id included (kept only if exporting).
    let event = sensor.exporter.as_ref().map(|_| record.clone());
    let insert_started = Instant::now();
    match sensor.store.insert_in_progress(record, tx.copy).await {
        Ok(stored) => {
            let id = stored.id;
            crate::metrics::stored(&counted, size, insert_started.elapsed());
            if let (Some(ex), Some(mut event)) = (&sensor.exporter, event) {
                event.id = Some(id);
                if let Err(e) = ex.export(&event).await {
                    warn!(%uid, id, gateway = %st.peer, error = %e, "export failed, copy refused with 451 (stored; the retry is idempotent)");
                    return conn
                        .reply("451 4.3.0 Event export unavailable, try again later")
                        .await;
                }
            }
            if let Some((alerts, summary)) = alert {
                alerts.notify(Summary { id, ..summary });
            }
            if let Some((spf, source, sender, verdict, score)) = summary {
                info!(%uid, id, gateway = %st.peer, size, rcpts, auth_source = %source, spf = %spf, original_mailfrom = %sender, verdict, score, elapsed_us = started.elapsed().as_micros() as u64, "copy stored");
            }
            if stored.duplicate {
                info!(%uid, id, stored_as = %stored.uid, gateway = %st.peer, "retried copy, already stored");
            }
            conn.reply(&format!("250 2.0.0 Ok: stored as {}", stored.uid))
                .await
        }
        Err(e) => {
            metrics::counter!(crate::metrics::STORE_ERRORS).increment(1);
            warn!(%uid, gateway = %st.peer, error = %e, "store failed, copy refused with 451");
            conn.reply("451 4.3.0 Storage unavailable, try again later")
                .await
        }
    }
}
