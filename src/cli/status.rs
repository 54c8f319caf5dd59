//! `authsense status`: the status page as text (or JSON).

use super::{load, StatusArgs};
use crate::status::report as status;
use std::time::SystemTime;

/// `authsense status`.
pub async fn status(args: StatusArgs) -> Result<(), String> {
    let mut cfg = load(args.config.as_deref())?;
    let store = super::open_existing_store(&mut cfg, args.db.as_deref())?;
    let report = status::report(&store, SystemTime::now(), None, None).map_err(|e| e.to_string());
    store.close().await.map_err(|e| e.to_string())?;
    let report = report?;
    let text = if args.json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        json + "\n"
    } else {
        report.to_text()
    };
    // A closed pipe (`| head`) is not an error.
    match std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write to stdout: {e}"))
        }
        _ => Ok(()),
    }
}
