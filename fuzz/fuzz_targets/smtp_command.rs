//! SMTP command lines as the sensor reads them (src/sensor/conn.rs
//! `read_line`: up to and including LF, at most 512 octets, longer lines are
//! rejected before parsing) through `smtp_proto::Request::parse`, the call
//! src/sensor/session.rs makes.
//!
//! The input is split at each LF; every piece gets its LF back (a last piece
//! without one gets one too). Oracles: no panic, and the only error text the
//! sensor echoes to the client (the parameter of `UnsupportedParameter`,
//! with CR and LF removed as in `syntax_reply`) cannot break the reply line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_proto::{Error, Request};

/// src/sensor/conn.rs `MAX_COMMAND_LINE`.
const MAX_COMMAND_LINE: usize = 512;

fuzz_target!(|data: &[u8]| {
    let mut line = Vec::with_capacity(MAX_COMMAND_LINE);
    for piece in data.split_inclusive(|&b| b == b'\n') {
        line.clear();
        line.extend_from_slice(piece);
        if line.last() != Some(&b'\n') {
            line.push(b'\n');
        }
        if line.len() > MAX_COMMAND_LINE {
            continue;
        }
        match Request::parse(&mut line.iter()) {
            Ok(Request::Mail { from }) => {
                let _ = (from.address.len(), from.size);
            }
            Ok(Request::Rcpt { to }) => {
                let _ = to.address.len();
            }
            Ok(Request::Ehlo { host }) | Ok(Request::Helo { host }) => {
                let _ = host.len();
            }
            Ok(_) => {}
            Err(Error::UnsupportedParameter { param }) => {
                let echoed = param.replace(['\r', '\n'], "");
                assert!(!echoed.contains(['\r', '\n']));
            }
            Err(_) => {}
        }
    }
});
