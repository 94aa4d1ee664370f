//! rev at a terminal and in a pipe: the live progress line, colour,
//! `-q`, Ctrl+C, shell completions, the man page, `rev edit` and the
//! examples every `--help` ends with.
//!
//! "At a terminal" is a real pseudo-terminal (portable-pty), so rev's own
//! `isatty` checks decide, as they do for a person. Each run's database is
//! a SQLite file read back through SQLite after the run.

#[macro_use]
#[path = "kit/mod.rs"]
mod kit;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use kit::{unavailable, Header, Project, Run};
use portable_pty::{native_pty_system, CommandBuilder, PtySize};

/// The revisions and terminals of this suite, on a project whose database
/// is the SQLite file `test.db` beside config.yaml.
impl Project {
    /// A revision whose upgrade creates a table with a trigger and fills it
    /// (`extra` SQL runs after that), and whose downgrade drops it.
    fn revision(&self, id: &str, down: Option<&str>, labels: &str, extra: &str) -> PathBuf {
        self.write_revision(
            &format!("versions/{id}.sql"),
            Header {
                id,
                down: down.unwrap_or("null"),
                extra: labels,
                message: &format!("create {id}"),
            },
            &format!(
                "CREATE TABLE {id} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated INTEGER);\n\
                 CREATE TRIGGER {id}_touch AFTER UPDATE OF name ON {id}\n\
                 BEGIN\n  UPDATE {id} SET updated = 1 WHERE id = NEW.id;\nEND;\n\
                 INSERT INTO {id} (name) VALUES ('a'), ('b');\n\
                 {extra}"
            ),
            &format!("DROP TABLE {id};"),
        )
    }

    /// A chain r1 <- r2 <- ... <- rN.
    fn chain(&self, n: usize) {
        for k in 1..=n {
            let down = (k > 1).then(|| format!("r{}", k - 1));
            self.revision(&format!("r{k}"), down.as_deref(), "", "");
        }
    }

    /// rev with stdout and stderr piped (not a terminal), colour left to
    /// rev and `env`.
    fn piped(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        cmd.env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env("TERM", "xterm-256color");
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from_output(cmd.output().expect("run rev"))
    }

    /// rev under a pseudo-terminal: everything it wrote (stdout and stderr
    /// share the terminal, as for a person) and its exit code.
    fn tty(&self, args: &[&str], env: &[(&str, &str)]) -> (u32, String) {
        self.tty_with(args, env, |_, _| {})
    }

    /// As [`tty`](Self::tty); `during` gets the output so far (polled) and
    /// the terminal's input, to type into it while rev runs.
    fn tty_with(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        during: impl FnOnce(&dyn Fn() -> String, &mut dyn Write),
    ) -> (u32, String) {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: 30,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(assert_cmd::cargo::cargo_bin("rev"));
        cmd.cwd(self.dir());
        cmd.args(args);
        cmd.env_remove("DATABASE_URL");
        cmd.env_remove("NO_COLOR");
        cmd.env_remove("CLICOLOR_FORCE");
        cmd.env("TERM", "xterm-256color");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = pty.slave.spawn_command(cmd).unwrap();
        // Only the child holds the terminal's other end now: reading ends
        // when it exits.
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let reading = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Linux reports the closed terminal as EIO: that is the end too.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let mut writer = pty.master.take_writer().unwrap();
        let so_far = || String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
        during(&so_far, &mut writer);
        let status = child.wait().unwrap();
        // Read to the end before the writer goes: dropping it types "\n" and
        // EOF into the terminal, and the terminal's echo of that "\n" came
        // back as a stray "\r\n" in the output when the reader was slow.
        // The reader ends on its own: the child's exit closed the last
        // handle on the terminal's other end.
        reading.join().unwrap();
        drop(writer);
        drop(pty.master);
        let text = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
        (status.exit_code(), text)
    }

    /// The tables of the project's database, read through SQLite.
    fn user_tables(&self) -> Vec<String> {
        self.file_rows(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name",
        )
    }

    /// The recorded versions (one row per applied revision), read from the
    /// tracking table.
    fn versions(&self) -> Vec<String> {
        self.file_rows("SELECT version FROM schema_migrations ORDER BY version")
    }
}

/// Whether `text` holds an SGR (colour/bold) escape sequence.
fn has_sgr(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("\x1b[") {
        let mut j = i + at + 2;
        while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b';') {
            j += 1;
        }
        if j < bytes.len() && bytes[j] == b'm' {
            return true;
        }
        i = j;
    }
    false
}

/// The subcommands `rev --help` lists.
fn subcommands(p: &Project) -> Vec<String> {
    let help = p.piped(&["--help"], &[]).stdout;
    let start = help.find("Commands:").expect("a Commands: section");
    help[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A description that wraps goes on deeper-indented lines.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(String::from)
        .collect()
}

fn rt_tables(n: usize) -> Vec<String> {
    let mut t: Vec<String> = (1..=n).map(|k| format!("r{k}")).collect();
    t.sort();
    t
}

#[test]
fn live_line_at_a_terminal_plain_lines_in_a_pipe() {
    let p = Project::sqlite_file();
    p.chain(4);

    let (code, out) = p.tty(&["upgrade", "head"], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(p.user_tables(), rt_tables(4));
    assert_eq!(p.versions(), rt_tables(4));
    // The live line counted the plan and named the running revision...
    assert!(out.contains("revision 4 of 4"), "{out}");
    assert!(out.contains("upgrade r3  create r3"), "{out}");
    // ...each finished revision kept its own line, in colour...
    for k in 1..=4 {
        assert!(out.contains(&format!("r{k}")), "{out}");
    }
    assert!(has_sgr(&out), "no colour at a terminal: {out:?}");
    // ...and the live line was cleared at the end: nothing follows the
    // last erase.
    let cleared = out.rfind("\r\x1b[2K").expect("the live line is erased");
    assert!(
        out[cleared..]
            .trim_start_matches("\r\x1b[2K")
            .trim()
            .is_empty(),
        "left on the terminal after the run: {:?}",
        &out[cleared..]
    );

    // In a pipe: one plain line per revision, newest first, no escape code.
    let out = p.piped(&["downgrade", "base"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(p.user_tables(), Vec::<String>::new());
    assert_eq!(p.versions(), Vec::<String>::new());
    assert!(!out.stderr.contains('\x1b'), "{:?}", out.stderr);
    assert!(!out.stderr.contains(" of 4"), "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stderr);
    for (line, id) in lines.iter().zip(["r4", "r3", "r2", "r1"]) {
        assert!(
            line.starts_with(&format!("downgrade {id}  create {id} (")),
            "{line}"
        );
    }
}

#[test]
fn short_runs_get_no_live_line_and_verbose_names_each_start() {
    let p = Project::sqlite_file();
    p.chain(2);
    let (code, out) = p.tty(&["upgrade", "head", "-v"], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(p.user_tables(), rt_tables(2));
    assert!(
        !out.contains(" of 2"),
        "a live line for two revisions: {out}"
    );
    assert!(out.contains("running   upgrade of r1"), "{out}");
    assert!(out.contains("running   upgrade of r2"), "{out}");
}

#[test]
fn no_color_and_color_never_keep_the_terminal_free_of_colour() {
    let p = Project::sqlite_file();
    p.chain(3);
    // NO_COLOR: the live line still moves (it is not colour), but no SGR
    // sequence is written, not even in the lines printed above it.
    let (code, out) = p.tty(&["upgrade", "head"], &[("NO_COLOR", "1")]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(p.user_tables(), rt_tables(3));
    assert!(out.contains("revision 3 of 3"), "{out}");
    assert!(!has_sgr(&out), "colour despite NO_COLOR: {out:?}");

    let (code, out) = p.tty(&["status", "--color", "never"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("applied (3):"), "{out}");
    assert!(!has_sgr(&out), "colour despite --color never: {out:?}");

    // At a terminal by default, status colours its sections.
    let (_, out) = p.tty(&["status"], &[]);
    assert!(out.contains("\x1b[32mapplied (3)"), "{out:?}");
}

#[test]
fn pipes_get_no_escape_codes_unless_color_always() {
    let p = Project::sqlite_file();
    p.chain(2);
    p.revision(
        "b1",
        Some("r1"),
        "-- branch_labels: [billing]\n",
        "UPDATE b1 SET name = 'c' WHERE id = 1;\n",
    );
    let out = p.piped(&["upgrade", "heads"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(p.user_tables(), ["b1", "r1", "r2"]);
    for args in [
        &["heads"][..],
        &["history"],
        &["status"],
        &["current"],
        &["show", "b1"],
    ] {
        let out = p.piped(args, &[]);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert!(
            !out.stdout.contains('\x1b') && !out.stderr.contains('\x1b'),
            "escape code in a pipe for {args:?}: {:?}",
            out.stdout
        );
    }
    // An error in a pipe: plain too.
    let out = p.piped(&["show", "nosuch"], &[]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);

    // --color always forces colour into the pipe, even over NO_COLOR: heads
    // green, labels cyan, errors red.
    let out = p.piped(&["heads", "--color", "always"], &[("NO_COLOR", "1")]);
    assert!(out.stdout.contains("\x1b[32mhead"), "{:?}", out.stdout);
    assert!(out.stdout.contains("\x1b[36mbilling"), "{:?}", out.stdout);
    let out = p.piped(&["--color", "always", "show", "nosuch"], &[]);
    assert!(out.stderr.contains("\x1b[1m\x1b[31merror") || has_sgr(&out.stderr));
    let out = p.piped(&["downgrade", "base", "--color=always"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("\x1b[33mdowngrade"), "{:?}", out.stderr);
    assert_eq!(p.user_tables(), Vec::<String>::new());
}

#[test]
fn quiet_prints_nothing_on_success_and_still_the_error() {
    let p = Project::sqlite_file();
    p.chain(4);
    let (code, out) = p.tty(&["-q", "upgrade", "head"], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "", "-q printed at a terminal");
    assert_eq!(p.user_tables(), rt_tables(4));
    let out = p.piped(&["downgrade", "r2", "-q"], &[]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", "")
    );
    assert_eq!(p.user_tables(), rt_tables(2));
    assert_eq!(p.versions(), rt_tables(2));

    // A failing revision: its error is printed, and it is not recorded.
    p.revision(
        "r5",
        Some("r4"),
        "",
        "INSERT INTO no_such_table VALUES (1);\n",
    );
    let (code, out) = p.tty(&["-q", "upgrade", "head"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no_such_table"), "{out}");
    assert!(
        !out.contains("revision 1 of"),
        "a live line under -q: {out}"
    );
    assert_eq!(p.versions(), rt_tables(4));
    assert!(!p.user_tables().contains(&"r5".to_string()));
}

#[test]
fn ctrl_c_during_a_run_leaves_a_clean_terminal() {
    let p = Project::sqlite_file();
    // r1 takes a while (a few million rows through a recursive CTE), long
    // enough for the Ctrl+C typed once its live line shows.
    p.revision(
        "r1",
        None,
        "",
        "CREATE TABLE big (x INTEGER);\n\
         WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000)\n\
         INSERT INTO big SELECT x FROM c;\n",
    );
    for k in 2..=4 {
        p.revision(&format!("r{k}"), Some(&format!("r{}", k - 1)), "", "");
    }
    let (code, out) = p.tty_with(&["upgrade", "head"], &[], |so_far, input| {
        while !so_far().contains("upgrade r1  create r1") {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        input.write_all(b"\x03").unwrap();
        input.flush().unwrap();
    });
    assert_eq!(code, 130, "{out}");
    // The running revision finished (it commits whole) and the run stopped
    // there: r1 runs for about a second after the Ctrl+C, so normally
    // nothing after it ran; on a very slow machine a later one may have.
    let done = p.versions();
    assert!(!done.is_empty() && done.len() < 4, "{done:?}");
    let mut expected = done.clone();
    expected.insert(0, "big".to_string());
    assert_eq!(p.user_tables(), expected);
    let stopped = out
        .find("rev: interrupted")
        .expect("the interruption is reported");
    assert!(out.contains("rev: stopping after the revision"), "{out}");
    // The live line was erased before the report, and never drawn again.
    let last_bar = out[..stopped].rfind(" of 4 ").expect("a live line");
    assert!(
        out[last_bar..stopped].contains("\x1b[2K"),
        "the live line was left on the terminal: {:?}",
        &out[last_bar..]
    );
    assert!(!out[stopped..].contains(" of 4"), "{:?}", &out[stopped..]);
}

#[test]
fn completions_name_every_subcommand_in_every_shell() {
    let p = Project::sqlite_file();
    let commands = subcommands(&p);
    for expected in ["upgrade", "downgrade", "edit", "completions", "man"] {
        assert!(commands.iter().any(|c| c == expected), "{commands:?}");
    }
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = p.piped(&["completions", shell], &[]);
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        for c in &commands {
            assert!(
                out.stdout.contains(c.as_str()),
                "the {shell} script does not name `{c}`"
            );
        }
        assert!(out.stdout.contains("database-url"), "{shell}");
        // The dynamic script calls back into rev.
        let out = p.piped(&["completions", shell, "--dynamic"], &[]);
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        assert!(out.stdout.contains("COMPLETE"), "{shell}: {}", out.stdout);
    }
    let out = p.piped(&["completions", "tcsh"], &[]);
    assert_eq!(out.code, 2);
}

#[test]
fn the_bash_script_loads_and_completes_subcommands() {
    let p = Project::sqlite_file();
    let script = p.piped(&["completions", "bash"], &[]).stdout;
    std::fs::write(p.dir().join("rev.bash"), script).unwrap();
    let out = std::process::Command::new("bash")
        .current_dir(p.dir())
        .arg("-c")
        .arg(
            "source ./rev.bash; COMP_WORDS=(rev up); COMP_CWORD=1; COMP_LINE='rev up'; \
             COMP_POINT=6; _rev rev up rev; printf '%s\\n' \"${COMPREPLY[@]}\"",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "upgrade", "{stdout}");
}

#[test]
fn targets_complete_to_revisions_labels_and_keywords() {
    let p = Project::sqlite_file();
    p.chain(2);
    p.revision("b1", Some("r1"), "-- branch_labels: [billing]\n", "");
    // What the fish script asks: `COMPLETE=fish rev -- <the line so far>`.
    let out = p.piped(&["--", "rev", "upgrade", ""], &[("COMPLETE", "fish")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let values: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    for v in [
        "head",
        "heads",
        "base",
        "r1",
        "r2",
        "b1",
        "billing",
        "billing@head",
    ] {
        assert!(values.contains(&v), "`{v}` not offered: {values:?}");
    }
    let out = p.piped(&["--", "rev", "show", "bi"], &[("COMPLETE", "fish")]);
    let values: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(values, ["billing", "billing@head"], "{}", out.stdout);
    // Another project through -c on the line being completed.
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("rev"))
        .current_dir(std::env::temp_dir())
        .env("COMPLETE", "fish")
        .args(["--", "rev", "-c"])
        .arg(p.dir().join("config.yaml"))
        .args(["stamp", "r"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("r1\tcreate r1"), "{stdout}");
    assert!(stdout.contains("r2\tcreate r2"), "{stdout}");
}

#[test]
fn man_page_renders_and_names_every_subcommand() {
    let p = Project::sqlite_file();
    let out = p.piped(&["man"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with(".ie") || out.stdout.contains(".TH rev 1"));
    let Some(rendered) = render_man(p.dir(), &out.stdout) else {
        unavailable("groff", "not installed; the man page cannot be rendered");
        return;
    };
    assert!(rendered.contains("NAME"), "{rendered}");
    assert!(rendered.contains("SUBCOMMANDS"), "{rendered}");
    for c in subcommands(&p) {
        assert!(
            rendered.contains(&format!("rev-{c}")),
            "the man page does not name `{c}`"
        );
    }
}

/// The man page as `man` would show it (groff's plain-text output).
fn render_man(dir: &Path, roff: &str) -> Option<String> {
    let mut child = std::process::Command::new("groff")
        .current_dir(dir)
        .args(["-man", "-Tutf8", "-P-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(roff.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "groff failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // groff's overstrike bold (`N\bNAME`) is removed, leaving the text.
    let text = String::from_utf8_lossy(&out.stdout);
    let mut plain = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    Some(plain)
}

#[test]
fn every_help_ends_with_examples_of_that_command() {
    let p = Project::sqlite_file();
    let top = p.piped(&["--help"], &[]);
    assert!(top.stdout.contains("Examples:\n  rev "), "{}", top.stdout);
    for c in subcommands(&p) {
        let out = p.piped(&[&c, "--help"], &[]);
        assert_eq!(out.code, 0, "{c}: {}", out.stderr);
        let examples = out
            .stdout
            .split("Examples:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("`rev {c} --help` has no examples:\n{}", out.stdout));
        let lines: Vec<&str> = examples.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(
            (2..=3).contains(&lines.len()),
            "`rev {c} --help`: {} example lines",
            lines.len()
        );
        for line in lines {
            assert!(
                line.contains(&format!("rev {c}")),
                "`rev {c} --help` example is about another command: {line}"
            );
        }
    }
}

#[test]
fn edit_opens_the_revision_file_in_the_editor() {
    let p = Project::sqlite_file();
    p.chain(2);
    p.revision("b1", Some("r1"), "-- branch_labels: [billing]\n", "");
    // An "editor" that records what it was given and appends to the file,
    // as a person saving an edit would.
    let editor = p.dir().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" >> \"$(dirname \"$0\")/opened\"\n\
         for last; do :; done\nprintf -- '-- edited\\n' >> \"$last\"\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let editor = editor.display().to_string();
    let opened = || std::fs::read_to_string(p.dir().join("opened")).unwrap_or_default();

    let out = p.piped(&["edit", "billing@head"], &[("EDITOR", &editor)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(opened(), "versions/b1.sql\n");
    let text = std::fs::read_to_string(p.dir().join("versions/b1.sql")).unwrap();
    assert!(text.ends_with("-- edited\n"), "{text}");

    // VISUAL wins over EDITOR; an editor command with its own arguments works.
    let out = p.piped(
        &["edit", "r2"],
        &[("VISUAL", &format!("{editor} --wait")), ("EDITOR", "false")],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(opened(), "versions/b1.sql\n--wait\nversions/r2.sql\n");

    // Errors: an ambiguous target, no editor without a terminal, an editor
    // that fails.
    let out = p.piped(&["edit", "heads"], &[("EDITOR", &editor)]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("names 2 revisions"), "{}", out.stderr);
    let out = p.piped(
        &["edit", "r1", "-f", "json"],
        &[("EDITOR", ""), ("VISUAL", "")],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let err: serde_json::Value = serde_json::from_str(out.stderr.trim()).unwrap();
    assert_eq!(err["error"]["kind"], "no_editor");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("versions/r1.sql"));
    let out = p.piped(&["edit", "r1"], &[("EDITOR", "false")]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("exited with"), "{}", out.stderr);
    assert_eq!(opened().lines().count(), 3, "the file list changed");
}

#[test]
fn a_fleet_at_a_terminal_counts_databases_on_a_live_line_and_clears_it() {
    let p = Project::sqlite_file();
    p.chain(2);
    p.write_config(
        "script_location: versions\ndatabases:\n  a: sqlite://a.db?mode=rwc\n  b: sqlite://b.db?mode=rwc\n  c: sqlite://c.db?mode=rwc\n",
    );
    let (code, out) = p.tty(&["upgrade", "head", "--all", "-j", "2"], &[]);
    assert_eq!(code, 0, "{out}");
    // The live line counted the databases of the total...
    assert!(out.contains("of 3"), "{out}");
    assert!(out.contains("done,"), "{out}");
    // ...each database got its result line, and the summary came last.
    for name in ["a", "b", "c"] {
        assert!(p.dir().join(format!("{name}.db")).exists());
    }
    let plain = String::from_utf8(strip_ansi(out.as_bytes())).unwrap();
    assert_eq!(
        plain.matches("<base> -> r2  (2 applied)").count(),
        3,
        "{plain}"
    );
    assert!(
        plain.contains("3 databases: 3 ok (3 changed, 0 already there)"),
        "{plain}"
    );
    let cleared = out.rfind("\r\x1b[2K").expect("the live line is erased");
    let after = &out[cleared..];
    assert!(
        !after.contains("running of"),
        "left on the terminal: {after:?}"
    );
}

/// The text without CSI escape sequences.
fn strip_ansi(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0x1b && bytes.get(i + 1) == Some(&b'[') {
            i += 2;
            while i < bytes.len() && !(0x40..=0x7e).contains(&bytes[i]) {
                i += 1;
            }
            i += 1;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}
