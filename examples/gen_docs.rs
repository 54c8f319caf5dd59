//! Writes the man pages and shell completions of `authsense` from its clap
//! definitions (`authsense::cli::Cli`), for the Debian package
//! (`packaging/build-deb`). An example rather than a subcommand, so that the
//! generators stay out of the binary.
//!
//!     cargo run --example gen_docs -- DIR
//!
//! writes into DIR `authsense.1` and one page per subcommand
//! (`authsense-milter.1`, `authsense-sensor.1`, …), and the completions
//! `authsense.bash`, `_authsense` (zsh) and `authsense.fish`.

use authsense::cli::Cli;
use clap::CommandFactory;
use clap_complete::Shell;
use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
};

/// Paths of the installed package, named in the FILES section.
const FILES: &str = r#".SH FILES
.TP
\fI/etc/authsense/authsense.toml\fR
The configuration (\fB\-\-config\fR; every key is documented in the file).
.TP
\fI/var/lib/authsense/\fR
The store \fIauthsense.db\fR, the seal key \fIseal.key\fR and the export spool.
.TP
\fI/run/authsense/\fR
A unix milter socket, if one is configured.
.TP
\fIauthsense.service\fR, \fIauthsense\-milter.service\fR, \fIauthsense\-sensor.service\fR
The systemd units: \fBsystemctl reload\fR sends SIGHUP.
"#;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: cargo run --example gen_docs -- DIR");
        return ExitCode::from(2);
    };
    match generate(&dir) {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen_docs: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes every page and completion into `dir` (created if missing) and
/// returns the paths written.
fn generate(dir: &Path) -> Result<Vec<PathBuf>, String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let subcommands: Vec<clap::Command> = cmd.get_subcommands().cloned().collect();
    let names: Vec<String> = std::iter::once("authsense".to_string())
        .chain(subcommands.iter().map(page_name))
        .collect();

    let mut written = vec![man_page(cmd.clone(), "authsense", &names, dir)?];
    for sub in subcommands {
        let name = page_name(&sub);
        written.push(man_page(sub, &name, &names, dir)?);
    }
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = clap_complete::generate_to(shell, &mut cmd, "authsense", dir)
            .map_err(|e| format!("cannot write the {shell} completion: {e}"))?;
        written.push(path);
    }
    Ok(written)
}

/// `authsense-milter` for the `milter` subcommand (clap's display name).
fn page_name(sub: &clap::Command) -> String {
    sub.get_display_name()
        .map(str::to_string)
        .unwrap_or_else(|| format!("authsense-{}", sub.get_name()))
}

/// Renders one page, followed by FILES (top-level and daemon pages) and
/// SEE ALSO (every other page), into `dir/NAME.1`.
fn man_page(cmd: clap::Command, name: &str, all: &[String], dir: &Path) -> Result<PathBuf, String> {
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd)
        .manual("authsense")
        .render(&mut page)
        .map_err(|e| format!("cannot render {name}: {e}"))?;
    let daemon = [
        "authsense",
        "authsense-run",
        "authsense-milter",
        "authsense-sensor",
    ];
    if daemon.contains(&name) {
        page.extend_from_slice(FILES.as_bytes());
    }
    let see_also: Vec<String> = all
        .iter()
        .filter(|other| other.as_str() != name)
        .map(|other| format!(".BR {} (1)", other.replace('-', "\\-")))
        .collect();
    writeln!(page, ".SH \"SEE ALSO\"\n{}", see_also.join(",\n"))
        .map_err(|e| format!("cannot render {name}: {e}"))?;
    let path = dir.join(format!("{name}.1"));
    fs::write(&path, page).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}
