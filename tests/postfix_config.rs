//! `authsense postfix-config`: its output, appended to a minimal private
//! Postfix configuration, is accepted by `postconf -c DIR` and
//! `postfix -c DIR check` without warnings, and its maps do what the comments
//! say (checked with `postmap -q`). Needs Postfix (postfix-test/install-deps)
//! and root for `postfix check`; without them the Postfix part is skipped
//! with a message, the output checks still run.

#[path = "common/tempdir.rs"]
mod tempdir;

use std::{path::Path, process::Command};
use tempdir::TempDir;

fn authsense(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_authsense"))
        .args(["postfix-config", "--format", "files"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn have_postfix() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    if !root || !Path::new("/usr/sbin/postconf").exists() {
        eprintln!(
            "postfix_config: Postfix part skipped (needs root and postfix-test/install-deps)"
        );
        return false;
    }
    true
}

/// A private instance in DIR/conf with the generated lines appended
/// (DIR is removed when the returned [`TempDir`] is dropped).
fn instance(name: &str, generated: &str) -> TempDir {
    let base = TempDir::new(&format!("pfc-{name}"));
    for d in ["conf", "queue", "data"] {
        std::fs::create_dir_all(base.join(d)).unwrap();
    }
    Command::new("chown")
        .args(["postfix:postfix"])
        .arg(base.join("data"))
        .status()
        .unwrap();
    let (main_part, master_part) = generated.split_at(
        generated
            .find("# ===== master.cf")
            .unwrap_or(generated.len()),
    );
    let b = base.display();
    let main = format!(
        "compatibility_level = 3.6\nqueue_directory = {b}/queue\ndata_directory = {b}/data\n\
         mail_owner = postfix\nsetgid_group = postdrop\nmyhostname = mta.example.test\n\
         mydestination =\nalias_maps =\nalias_database =\ninet_interfaces = loopback-only\n\
         inet_protocols = ipv4\nmaillog_file = {b}/maillog\nmaillog_file_prefixes = /var, {b}\n\
         {main_part}"
    );
    let master = format!(
        "127.0.0.1:25999 inet n - n - - smtpd\npickup unix n - n 60 1 pickup\n\
         cleanup unix n - n - 0 cleanup\nqmgr unix n - n 300 1 qmgr\n\
         rewrite unix - - n - - trivial-rewrite\nbounce unix - - n - 0 bounce\n\
         defer unix - - n - 0 bounce\ntrace unix - - n - 0 bounce\nverify unix - - n - 1 verify\n\
         flush unix n - n 1000? 0 flush\nproxymap unix - - n - - proxymap\nsmtp unix - - n - - smtp\n\
         relay unix - - n - - smtp\nshowq unix n - n - - showq\nerror unix - - n - - error\n\
         retry unix - - n - - error\ndiscard unix - - n - - discard\nanvil unix - - n - 1 anvil\n\
         scache unix - - n - 1 scache\ntlsmgr unix - - n 1000? 1 tlsmgr\n\
         postlog unix-dgram n - n - 1 postlogd\n{master_part}"
    );
    std::fs::write(base.join("conf/main.cf"), main).unwrap();
    std::fs::write(base.join("conf/master.cf"), master).unwrap();
    base
}

fn run(cmd: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(cmd).args(args).output().unwrap();
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), s)
}

/// `postmap -q KEY MAP` with MAP taken (expanded) from parameter PARAM.
fn lookup(conf: &str, param: &str, key: &str) -> String {
    let (ok, map) = run("postconf", &["-c", conf, "-xh", param]);
    assert!(ok, "postconf -xh {param}: {map}");
    let (_, out) = run("postmap", &["-c", conf, "-q", key, map.trim()]);
    out.trim().to_string()
}

#[test]
fn output_maps_every_guide_step() {
    let (ok, out, err) = authsense(&[
        "--milter",
        "inet:127.0.0.1:8891",
        "--sensor",
        "192.0.2.25:25",
        "--sensor",
        "sensor2.example.com:2525",
        "--mode",
        "ordered",
        "--blackhole",
        "no-reply@example.com",
        "--tls",
    ]);
    assert!(ok, "{err}");
    for want in [
        "smtpd_milters = inet:127.0.0.1:8891",
        "header_checks = $authsense_header_checks",
        "-o local_header_rewrite_clients=",
        "recipient_bcc_maps = $authsense_recipient_bcc",
        "authsense_recipient_bcc = regexp:",
        "-o content_filter=authsense_sensor:[192.0.2.25]:25,[sensor2.example.com]:2525",
        "-o sender_canonical_maps=static:no-reply@example.com",
        "-o smtp_tls_security_level=encrypt",
        "no-reply@example.com=discard:",
        "Assign Return Path",
        "Use\n# Original-Recipient Address",
        "Enable SPF Assessment",
        "Create an SMTP Profile",
        "Send a copy to destination",
        "Encrypting Messages to the Sensor",
        "Delivery Type: Ordered",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    let (ok, _, err) = authsense(&["--sensor", "nope"]);
    assert!(!ok && err.contains("HOST:PORT"), "{err}");
    let (ok, _, err) = authsense(&[]);
    assert!(!ok && err.contains("nothing to print"), "{err}");
}

#[test]
fn postfix_accepts_the_output() {
    if !have_postfix() {
        return;
    }
    let cases: &[(&str, &[&str])] = &[
        (
            "milter-only",
            &["--milter", "unix:/run/authsense/milter.sock"],
        ),
        (
            "one-sensor",
            &[
                "--milter",
                "inet:127.0.0.1:8891",
                "--sensor",
                "127.0.0.1:2526",
                "--tls",
            ],
        ),
        (
            "ordered",
            &[
                "--sensor",
                "127.0.0.11:2526",
                "--sensor",
                "[2001:db8::25]:25",
                "--mode",
                "ordered",
                "--skip-domain",
                "corp.example",
            ],
        ),
        (
            "load-balanced",
            &[
                "--milter",
                "inet:127.0.0.1:8891",
                "--sensor",
                "127.0.0.11:2526",
                "--sensor",
                "127.0.0.12:2526",
                "--sensor",
                "127.0.0.13:2526",
            ],
        ),
    ];
    for (name, args) in cases {
        let (ok, out, err) = authsense(args);
        assert!(ok, "{name}: {err}");
        let base = instance(name, &out);
        let conf = base.join("conf");
        let conf = conf.to_str().unwrap();
        for cmd in [
            vec!["-c", conf, "-n"],
            vec!["-c", conf, "-M"],
            vec!["-c", conf, "-P"],
        ] {
            let (ok, o) = run("postconf", &cmd);
            assert!(
                ok && !o.contains("warning"),
                "{name}: postconf {cmd:?}:\n{o}\n--- output:\n{out}"
            );
        }
        // postfix check reports to stderr only on a tty; the exit code is enough here.
        let (ok, o) = run("postfix", &["-c", conf, "check"]);
        assert!(
            ok && !o.contains("warning"),
            "{name}: postfix check:\n{o}\n--- output:\n{out}"
        );
        if out.contains("\nsmtpd_milters = ") {
            // The defence drops forged stamps and seals, in any case.
            for header in [
                "X-Agari-Authentication-Results: mx.example.com; spf=pass",
                "x-authsense-seal: v=1",
            ] {
                assert_eq!(
                    lookup(conf, "authsense_header_checks", header),
                    "IGNORE",
                    "{name}"
                );
            }
            let kept = "Authentication-Results: other.example; spf=pass";
            assert_eq!(lookup(conf, "authsense_header_checks", kept), "", "{name}");
        }
        if *name == "milter-only" {
            assert!(!out.contains("recipient_bcc_maps"), "{out}");
            continue;
        }
        assert_eq!(
            lookup(conf, "recipient_bcc_maps", "bob@example.com"),
            "bob=example.com@sensor-copy.invalid"
        );
        assert_eq!(
            lookup(conf, "recipient_bcc_maps", "blackhole@discard.invalid"),
            ""
        );
        assert_eq!(
            lookup(
                conf,
                "authsense_rcpt_decode",
                "a=b=example.com@sensor-copy.invalid"
            ),
            "a=b@example.com"
        );
        assert_eq!(
            lookup(conf, "authsense_transport", "blackhole@discard.invalid"),
            "discard:"
        );
        assert_eq!(
            lookup(conf, "authsense_transport", "sensor-copy.invalid"),
            "authsense_copy:[127.0.0.1]:10040"
        );
        if *name == "ordered" {
            assert_eq!(lookup(conf, "recipient_bcc_maps", "x@corp.example"), "");
            assert!(
                out.contains("content_filter=authsense_sensor:[127.0.0.11]:2526,[2001:db8::25]:25"),
                "{out}"
            );
        }
        if *name == "load-balanced" {
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..60 {
                seen.insert(lookup(conf, "authsense_sensor_pick", "127.0.0.1"));
            }
            let want: std::collections::BTreeSet<String> = [
                "FILTER authsense_sensor:[127.0.0.11]:2526,[127.0.0.12]:2526,[127.0.0.13]:2526",
                "FILTER authsense_sensor:[127.0.0.12]:2526,[127.0.0.13]:2526,[127.0.0.11]:2526",
                "FILTER authsense_sensor:[127.0.0.13]:2526,[127.0.0.11]:2526,[127.0.0.12]:2526",
            ]
            .into_iter()
            .map(String::from)
            .collect();
            assert_eq!(seen, want, "60 picks should show every rotation");
        }
    }
}
