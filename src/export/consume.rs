//! `authsense export`: read the event stream back (`--from-stream`), one
//! JSON object per line, for SIEM pipelines; or dump a store as JSON lines
//! (`--jsonl`).

use crate::store::{Filter, Store};
use async_nats::jetstream::{self, consumer::pull, consumer::DeliverPolicy};
use futures_util::StreamExt;
use std::io::Write;
use std::time::Duration;

/// What to consume.
#[derive(Debug, Clone)]
pub struct StreamSource {
    /// NATS server URL.
    pub url: String,
    /// Stream name.
    pub stream: String,
    /// Durable consumer name (resumes where it left off); `None`: an
    /// ephemeral consumer reading the stream from its start.
    pub durable: Option<String>,
    /// Stop after this many events.
    pub count: Option<u64>,
    /// Stop when no event arrived for this long.
    pub idle_timeout: Option<Duration>,
}

/// Prints each event of the stream as one line on `out` and acknowledges
/// it; returns how many were printed.
///
/// # Errors
/// Connecting, finding the stream, creating the consumer, or writing.
pub async fn from_stream(src: &StreamSource, out: &mut impl Write) -> Result<u64, String> {
    let client = async_nats::connect(src.url.as_str())
        .await
        .map_err(|e| format!("nats {}: {e}", src.url))?;
    let js = jetstream::new(client);
    let stream = js
        .get_stream(&src.stream)
        .await
        .map_err(|e| format!("stream {}: {e}", src.stream))?;
    let config = pull::Config {
        durable_name: src.durable.clone(),
        deliver_policy: DeliverPolicy::All,
        ..Default::default()
    };
    let consumer = stream
        .create_consumer(config)
        .await
        .map_err(|e| format!("consumer on {}: {e}", src.stream))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| format!("consume {}: {e}", src.stream))?;
    let mut n = 0u64;
    while src.count.is_none_or(|c| n < c) {
        let next = match src.idle_timeout {
            Some(t) => match tokio::time::timeout(t, messages.next()).await {
                Ok(m) => m,
                Err(_) => break,
            },
            None => messages.next().await,
        };
        let Some(msg) = next else { break };
        let msg = msg.map_err(|e| format!("consume {}: {e}", src.stream))?;
        out.write_all(&msg.payload)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush())
            .map_err(|e| format!("cannot write: {e}"))?;
        msg.ack().await.map_err(|e| format!("ack: {e}"))?;
        n += 1;
    }
    Ok(n)
}

/// Writes every record of `store` as one JSON line (newest first, paged);
/// returns how many.
///
/// # Errors
/// A store read or a write failed.
pub fn dump_jsonl(store: &Store, out: &mut impl Write) -> Result<u64, String> {
    let mut filter = Filter {
        limit: Some(1000),
        ..Filter::default()
    };
    let mut n = 0u64;
    loop {
        let page = store.query(&filter).map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        filter.after_id = last.id;
        for rec in &page {
            serde_json::to_writer(&mut *out, rec).map_err(|e| format!("cannot write: {e}"))?;
            out.write_all(b"\n")
                .map_err(|e| format!("cannot write: {e}"))?;
            n += 1;
        }
    }
    out.flush().map_err(|e| format!("cannot write: {e}"))?;
    Ok(n)
}
