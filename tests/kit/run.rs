//! A finished `rev` ([`Run`]) and a running one ([`Spawned`]).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// What one run of `rev` printed, and how it exited.
pub struct Run {
    /// The exit code; -1 when a signal ended the process.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(out: std::process::Output) -> Run {
        Run::new(out.status, &out.stdout, &out.stderr)
    }

    fn new(status: ExitStatus, stdout: &[u8], stderr: &[u8]) -> Run {
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(stdout).into_owned(),
            stderr: String::from_utf8_lossy(stderr).into_owned(),
        }
    }

    /// stdout as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// The `{"error": ...}` line of stderr as JSON.
    pub fn error_json(&self) -> Value {
        let line = self
            .stderr
            .lines()
            .find(|l| l.starts_with("{\"error\""))
            .unwrap_or_else(|| panic!("no JSON error on stderr:\n{}", self.stderr));
        serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stderr is not JSON ({e}):\n{}", self.stderr))
    }

    /// The inner object of [`Run::error_json`]: kind, message, hints.
    pub fn json_error(&self) -> Value {
        self.error_json()["error"].clone()
    }

    /// The error's hints as strings.
    pub fn hints(&self) -> Vec<String> {
        self.json_error()["hints"]
            .as_array()
            .expect("hints is an array")
            .iter()
            .map(|h| h.as_str().expect("hint is a string").to_owned())
            .collect()
    }

    /// Everything, for an assertion's message.
    pub fn text(&self) -> String {
        format!(
            "exit {}\nstdout: {}\nstderr: {}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A running `rev` whose stderr is read line by line as it comes, so a
/// test can wait for the line that says the process reached a point
/// (instead of sleeping and hoping), then signal it.
pub struct Spawned {
    child: Child,
    lines: Receiver<String>,
    /// stderr so far, up to the last line received.
    seen: String,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<()>>,
}

/// How long a readiness wait may take before the test gives up: a guard
/// against a hang, far above any wait on a loaded machine.
const READY_WITHIN: Duration = Duration::from_secs(60);

impl Spawned {
    /// Starts `cmd` with stdout and stderr piped and stdin closed.
    pub fn start(mut cmd: Command) -> Spawned {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rev");
        let mut out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        let stdout = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = out.read_to_end(&mut buf);
            buf
        });
        let (tx, lines) = std::sync::mpsc::channel();
        let stderr = std::thread::spawn(move || {
            let mut reader = BufReader::new(err);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if tx
                            .send(String::from_utf8_lossy(&line).into_owned())
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        Spawned {
            child,
            lines,
            seen: String::new(),
            stdout: Some(stdout),
            stderr: Some(stderr),
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits until a line of stderr contains `text`; returns stderr so far.
    /// Panics if the process ends first.
    pub fn wait_until(&mut self, text: &str) -> String {
        let start = Instant::now();
        loop {
            if self.seen.lines().any(|l| l.contains(text)) {
                return self.seen.clone();
            }
            let left = READY_WITHIN.saturating_sub(start.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push_str(&line),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("rev ended before printing `{text}`; stderr:\n{}", self.seen)
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "rev printed no `{text}` within {READY_WITHIN:?}; stderr:\n{}",
                    self.seen
                ),
            }
        }
    }

    /// Sends `sig` (`-INT`, `-TERM`, ...) with kill(1).
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {sig} failed");
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill -9");
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Waits for the end; everything it printed.
    pub fn finish(mut self) -> Run {
        let status = self.child.wait().expect("wait for rev");
        let stdout = self
            .stdout
            .take()
            .map(|h| h.join().expect("stdout reader"))
            .unwrap_or_default();
        if let Some(h) = self.stderr.take() {
            h.join().expect("stderr reader");
        }
        let mut stderr = std::mem::take(&mut self.seen);
        stderr.extend(self.lines.try_iter());
        Run::new(status, &stdout, stderr.as_bytes())
    }
}

/// Waits for concurrent `rev -f json upgrade` runs: each must succeed and
/// not be interrupted. How many revisions they applied in all (each
/// revision exactly once makes it the history's length).
pub fn applied_by_all(children: Vec<Spawned>) -> usize {
    let mut applied_total = 0;
    for child in children {
        let out = child.finish();
        assert_eq!(out.code, 0, "{}", out.text());
        let report = out.json();
        assert_eq!(report["interrupted"], false, "{report}");
        applied_total += report["applied"].as_array().map_or(0, Vec::len);
    }
    applied_total
}

/// A test that fails part-way leaves no rev running behind it.
impl Drop for Spawned {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
