//! The process around the daemon: telling systemd it is ready (`Type=notify`)
//! and, started as root, dropping to `[process] user` once the sockets are
//! bound, so nothing after that — the store, the key files, every message —
//! is handled as root.

use crate::config::ProcessConfig;
use std::ffi::{CStr, CString};
use tracing::{info, warn};

/// Tells systemd the service is ready (no-op outside systemd).
pub fn notify_ready() {
    if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        warn!(error = %e, "cannot notify systemd of readiness");
    }
}

/// A user's id and primary group id, looked up by name.
fn user_ids(name: &str) -> Result<(libc::uid_t, libc::gid_t), String> {
    let c = CString::new(name).map_err(|_| format!("user {name:?}: contains NUL"))?;
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; `buf` outlives `pw`'s use.
    let rc =
        unsafe { libc::getpwnam_r(c.as_ptr(), &mut pw, buf.as_mut_ptr(), buf.len(), &mut out) };
    if rc != 0 || out.is_null() {
        return Err(format!("no such user {name:?}"));
    }
    Ok((pw.pw_uid, pw.pw_gid))
}

/// A group's id, looked up by name.
pub fn group_id(name: &str) -> Result<libc::gid_t, String> {
    let c = CString::new(name).map_err(|_| format!("group {name:?}: contains NUL"))?;
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut out: *mut libc::group = std::ptr::null_mut();
    // SAFETY: as in `user_ids`.
    let rc =
        unsafe { libc::getgrnam_r(c.as_ptr(), &mut gr, buf.as_mut_ptr(), buf.len(), &mut out) };
    if rc != 0 || out.is_null() {
        return Err(format!("no such group {name:?}"));
    }
    Ok(gr.gr_gid)
}

/// The uid and gid `[process]` asks for, if any (checked at start, before
/// anything is bound or created).
///
/// # Errors
/// An unknown user or group.
pub fn target(p: &ProcessConfig) -> Result<Option<(libc::uid_t, libc::gid_t)>, String> {
    let Some(user) = &p.user else {
        return Ok(None);
    };
    let (uid, mut gid) = user_ids(user).map_err(|e| format!("[process] user: {e}"))?;
    if let Some(g) = &p.group {
        gid = group_id(g).map_err(|e| format!("[process] group: {e}"))?;
    }
    Ok(Some((uid, gid)))
}

/// After the sockets are bound: started as root, become `[process] user`
/// (its group or `[process] group`, no supplementary groups). Refuses to
/// go on as root when that fails, unless `allow_root`; without `user`, a
/// root process is warned about. Not root: `user`, if set, must be who we
/// already are.
///
/// # Errors
/// The switch failed or is impossible, and `allow_root` is not set.
pub fn drop_privileges(p: &ProcessConfig) -> Result<(), String> {
    // SAFETY: geteuid never fails.
    let euid = unsafe { libc::geteuid() };
    let Some((uid, gid)) = target(p)? else {
        if euid == 0 {
            warn!("running as root: set [process] user = \"authsense\" to run as that account once the sockets are bound");
        }
        return Ok(());
    };
    if euid != 0 {
        return if euid == uid {
            Ok(())
        } else {
            Err(format!(
                "[process] user: cannot become uid {uid} without being started as root"
            ))
        };
    }
    match switch(uid, gid) {
        Ok(()) => {
            info!(uid, gid, "dropped root privileges");
            Ok(())
        }
        Err(e) if p.allow_root => {
            warn!(error = %e, "could not drop root privileges; running as root ([process] allow_root)");
            Ok(())
        }
        Err(e) => Err(format!(
            "cannot drop root privileges: {e} (refusing to run as root)"
        )),
    }
}

fn switch(uid: libc::uid_t, gid: libc::gid_t) -> Result<(), String> {
    let err = |what: &str| format!("{what}: {}", std::io::Error::last_os_error());
    // SAFETY: plain system calls on integers and a one-element array.
    unsafe {
        if libc::setgroups(1, &gid) != 0 {
            return Err(err("setgroups"));
        }
        if libc::setgid(gid) != 0 {
            return Err(err("setgid"));
        }
        if libc::setuid(uid) != 0 {
            return Err(err("setuid"));
        }
        if libc::getuid() != uid || libc::geteuid() != uid || libc::setuid(0) == 0 {
            return Err("root privileges still held after setuid".into());
        }
    }
    Ok(())
}

/// The name of the user we run as, for messages.
pub fn current_user() -> String {
    // SAFETY: getpwuid returns a pointer into static storage or null.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if pw.is_null() {
            return libc::geteuid().to_string();
        }
        CStr::from_ptr((*pw).pw_name).to_string_lossy().into_owned()
    }
}
