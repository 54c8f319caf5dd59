//! The on-disk spool of events waiting for JetStream (`required = false`):
//! one file per event, named by a sequence number so they drain in order,
//! written to a temporary name, synced and renamed, so a crash leaves
//! either a whole event or none. Survives restarts; bounded in bytes.
//!
//! File format: the JetStream message id on the first line, then the JSON.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// One spooled event.
#[derive(Debug, Clone, PartialEq)]
pub struct Spooled {
    /// Its file.
    pub path: PathBuf,
    /// `Nats-Msg-Id`.
    pub msg_id: String,
    /// The record's JSON.
    pub payload: Vec<u8>,
}

/// A spool directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    next: AtomicU64,
    bytes: AtomicU64,
    depth: AtomicU64,
}

/// What [`Spool::push`] could not do.
#[derive(Debug)]
pub enum PushError {
    /// The spool is at its cap.
    Full,
    /// Writing failed.
    Io(io::Error),
}

impl Spool {
    /// Opens (creating) `dir` and counts what is already spooled.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Spool> {
        fs::create_dir_all(dir)?;
        let spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            next: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            depth: AtomicU64::new(0),
        };
        let mut last = 0;
        for (seq, path) in spool.files()? {
            last = last.max(seq + 1);
            let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            spool.bytes.fetch_add(len, Ordering::Relaxed);
            spool.depth.fetch_add(1, Ordering::Relaxed);
        }
        spool.next.store(last, Ordering::Relaxed);
        Ok(spool)
    }

    /// Events waiting.
    pub fn depth(&self) -> u64 {
        self.depth.load(Ordering::Relaxed)
    }

    /// Appends one event, durably (blocking file I/O).
    pub fn push(&self, msg_id: &str, payload: &[u8]) -> Result<(), PushError> {
        let len = (msg_id.len() + 1 + payload.len()) as u64;
        let before = self.bytes.fetch_add(len, Ordering::Relaxed);
        if before + len > self.max_bytes {
            self.bytes.fetch_sub(len, Ordering::Relaxed);
            return Err(PushError::Full);
        }
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let write = || -> io::Result<()> {
            let tmp = self.dir.join(format!("{seq:020}.tmp"));
            let mut f = fs::File::create(&tmp)?;
            f.write_all(msg_id.as_bytes())?;
            f.write_all(b"\n")?;
            f.write_all(payload)?;
            f.sync_data()?;
            fs::rename(&tmp, self.dir.join(format!("{seq:020}.event")))
        };
        match write() {
            Ok(()) => {
                self.depth.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.bytes.fetch_sub(len, Ordering::Relaxed);
                Err(PushError::Io(e))
            }
        }
    }

    /// Up to `max` oldest events, in order (blocking file I/O). A file
    /// that cannot be read is skipped and logged.
    pub fn oldest(&self, max: usize) -> io::Result<Vec<Spooled>> {
        let mut out = Vec::new();
        for (_, path) in self.files()?.into_iter().take(max) {
            match fs::read(&path) {
                Ok(bytes) => {
                    let nl = bytes.iter().position(|&b| b == b'\n').unwrap_or(0);
                    out.push(Spooled {
                        msg_id: String::from_utf8_lossy(&bytes[..nl]).into_owned(),
                        payload: bytes[(nl + 1).min(bytes.len())..].to_vec(),
                        path,
                    });
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "unreadable spool file")
                }
            }
        }
        Ok(out)
    }

    /// Removes a published event.
    pub fn remove(&self, ev: &Spooled) -> io::Result<()> {
        let len = fs::metadata(&ev.path)?.len();
        fs::remove_file(&ev.path)?;
        self.bytes.fetch_sub(len, Ordering::Relaxed);
        self.depth.fetch_sub(1, Ordering::Relaxed);
        Ok(())
    }

    /// `(sequence, path)` of every complete event, oldest first.
    fn files(&self) -> io::Result<Vec<(u64, PathBuf)>> {
        let mut files = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let seq = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".event"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(seq) = seq {
                files.push((seq, path));
            }
        }
        files.sort();
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_cap_and_survives_reopen() {
        let dir = std::env::temp_dir().join(format!("authsense-spool-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let spool = Spool::open(&dir, 64).expect("open");
        spool.push("a", b"{\"n\":1}").expect("push a");
        spool.push("b", b"{\"n\":2}").expect("push b");
        assert!(matches!(spool.push("c", &[b'x'; 60]), Err(PushError::Full)));
        assert_eq!(spool.depth(), 2);
        drop(spool);
        let spool = Spool::open(&dir, 64).expect("reopen");
        assert_eq!(spool.depth(), 2);
        let evs = spool.oldest(10).expect("list");
        assert_eq!(
            evs.iter().map(|e| e.msg_id.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(evs[1].payload, b"{\"n\":2}");
        spool.remove(&evs[0]).expect("remove");
        spool.push("c", b"{}").expect("room again");
        let ids: Vec<String> = spool
            .oldest(10)
            .expect("list")
            .into_iter()
            .map(|e| e.msg_id)
            .collect();
        assert_eq!(ids, ["b", "c"]);
        let _ = fs::remove_dir_all(&dir);
    }
}
