//! `authsense postfix-config` (default `--format postconf`) on a stock Debian
//! Postfix configuration that already has milters, header_checks and a
//! transport map: the script merges (the host's entries stay, ours are added
//! once), a second run changes nothing, postconf never warns, and the
//! result has the same authsense parameters and master.cf services as the
//! `--format files` sections. A unix socket under the queue directory is
//! printed relative to it (chrooted smtpd), one elsewhere draws a warning.
//! Needs Postfix (postfix-test/install-deps); skipped with a message without.

#[path = "common/tempdir.rs"]
mod tempdir;

use std::path::Path;
use std::process::Command;
use tempdir::TempDir;

const ARGS: [&str; 6] = [
    "--milter",
    "unix:/var/spool/postfix/authsense/milter.sock",
    "--sensor",
    "127.0.0.1:2526",
    "--sensor",
    "127.0.0.2:2526",
];

fn authsense(args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_authsense"))
        .arg("postfix-config")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?}: {text}");
    text
}

fn postconf(conf: &Path, args: &[&str]) -> String {
    run(Command::new("postconf").arg("-c").arg(conf).args(args))
}

/// A configuration directory with Debian's stock main.cf and master.cf,
/// plus what a host typically has already (removed when dropped).
fn stock(name: &str) -> TempDir {
    let dir = TempDir::new(&format!("pc-{name}"));
    std::fs::copy("/usr/share/postfix/main.cf.debian", dir.join("main.cf")).unwrap();
    std::fs::copy("/usr/share/postfix/master.cf.dist", dir.join("master.cf")).unwrap();
    postconf(
        &dir,
        &[
            "-e",
            "smtpd_milters = inet:localhost:8891",
            "header_checks = regexp:/etc/postfix/local_header_checks",
            "transport_maps = hash:/etc/postfix/transport",
        ],
    );
    dir
}

/// Runs the script on `conf` as an admin would (`sh FILE`), MAIL_CONFIG set.
fn apply(conf: &Path, script: &str) -> String {
    let file = conf.join("authsense.sh");
    std::fs::write(&file, script).unwrap();
    run(Command::new("sh").arg(&file).env("MAIL_CONFIG", conf))
}

/// Our part of a configuration: authsense_* parameters (expanded) and the
/// master.cf services and their -o options, as postconf reports them.
fn ours(conf: &Path) -> Vec<String> {
    let mut v: Vec<String> = postconf(conf, &["-n"])
        .lines()
        .filter(|l| l.starts_with("authsense_"))
        .map(String::from)
        .collect();
    for what in ["-M", "-P"] {
        v.extend(
            postconf(conf, &[what])
                .lines()
                .filter(|l| l.starts_with("authsense_") || l.starts_with("127.0.0.1:10040"))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")),
        );
    }
    v
}

fn have_postfix() -> bool {
    let ok = Path::new("/usr/sbin/postconf").exists()
        && Path::new("/usr/share/postfix/master.cf.dist").exists();
    if !ok {
        eprintln!("postfix_postconf: skipped (needs Postfix: postfix-test/install-deps)");
    }
    ok
}

#[test]
fn the_script_merges_once_without_warnings_and_matches_the_files_format() {
    if !have_postfix() {
        return;
    }
    let (script, err) = authsense(&ARGS);
    assert!(
        err.is_empty(),
        "no warning for a socket under the chroot: {err}"
    );
    let conf = stock("merge");
    let out = apply(&conf, &script);
    assert!(!out.contains("warning"), "{out}");
    let (main1, master1) = (
        std::fs::read(conf.join("main.cf")).unwrap(),
        std::fs::read(conf.join("master.cf")).unwrap(),
    );
    let out = apply(&conf, &script);
    assert!(!out.contains("warning"), "{out}");
    assert_eq!(
        std::fs::read(conf.join("main.cf")).unwrap(),
        main1,
        "second run changed main.cf"
    );
    assert_eq!(
        std::fs::read(conf.join("master.cf")).unwrap(),
        master1,
        "second run changed master.cf"
    );
    let n = postconf(&conf, &["-n"]);
    assert!(!n.contains("warning"), "{n}");
    for want in [
        "smtpd_milters = inet:localhost:8891, unix:authsense/milter.sock",
        "header_checks = $authsense_header_checks, regexp:/etc/postfix/local_header_checks",
        "transport_maps = $authsense_transport, hash:/etc/postfix/transport",
        "recipient_bcc_maps = $authsense_recipient_bcc",
        "milter_default_action = accept",
    ] {
        assert!(n.lines().any(|l| l == want), "missing {want:?} in:\n{n}");
    }

    // The same authsense configuration as the files format gives.
    let files = stock("files");
    let (text, _) = authsense(&[&["--format", "files"][..], &ARGS[..]].concat());
    let (main, master) = text.split_at(text.find("# ===== master.cf").unwrap());
    for (file, part) in [("main.cf", main), ("master.cf", master)] {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(files.join(file))
            .unwrap();
        std::io::Write::write_all(&mut f, part.as_bytes()).unwrap();
    }
    let (a, b) = (ours(&conf), ours(&files));
    assert!(a.len() > 20, "{a:?}");
    assert_eq!(a, b);
}

#[test]
fn a_unix_socket_outside_the_chroot_draws_a_warning() {
    let (text, err) = authsense(&["--milter", "unix:/run/authsense/milter.sock"]);
    assert!(
        err.contains("chrooted") && err.contains("/var/spool/postfix"),
        "{err}"
    );
    assert!(
        text.contains("# WARNING: /run/authsense/milter.sock is outside"),
        "{text}"
    );
    let (text, err) = authsense(&["--milter", "inet:127.0.0.1:8897"]);
    assert!(err.is_empty(), "{err}");
    assert!(
        text.contains("smtpd_milters 'inet:127.0.0.1:8897' last"),
        "{text}"
    );
}
