//! Records the commit the binary is built from, for `authsense --version`
//! (`unknown` outside a git checkout, e.g. from a source package).

use std::process::Command;

/// `git ARGS` in the crate's directory, trimmed; None when git fails.
fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=AUTHSENSE_COMMIT={commit}");
    // Rebuild when HEAD moves. In a worktree `.git` is a file: ask git where
    // HEAD and the refs are (a path that does not exist would make cargo
    // rerun this script, and rebuild the crate, on every build).
    println!("cargo:rerun-if-changed=build.rs");
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
    }
    if let Some(dir) = git(&["rev-parse", "--git-common-dir"]) {
        println!("cargo:rerun-if-changed={dir}/refs/heads");
    }
}
