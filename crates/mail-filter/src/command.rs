//! An external program as a filter: the message on its standard input, the
//! envelope in environment variables, its exit status as the verdict.

use crate::chain::{default_timeout_ms, FailurePolicy};
use crate::{sanitize_text, Filter, FilterError, MessageInfo, Verdict};
use serde::Deserialize;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How the program is run (`kind = "command"` in `[[filters.chain]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// The filter's name in logs, metrics and failure headers.
    pub name: String,
    /// The program and its arguments (no shell).
    pub program: Vec<String>,
    /// The deadline, in milliseconds (default 15000); the program is killed
    /// when it passes.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The exit status that rejects (default 1): `554 5.7.1` with the first
    /// line of the program's output as the text.
    #[serde(default = "default_reject_exit")]
    pub reject_exit: i32,
    /// The exit status that quarantines (default 2); its output's first line
    /// is the reason.
    #[serde(default = "default_quarantine_exit")]
    pub quarantine_exit: i32,
    /// When the program fails (another status, a signal, the deadline):
    /// default the chain's.
    #[serde(default)]
    pub on_failure: Option<FailurePolicy>,
}

fn default_reject_exit() -> i32 {
    1
}

fn default_quarantine_exit() -> i32 {
    2
}

impl CommandConfig {
    /// The defaults for `program`.
    pub fn new(name: impl Into<String>, program: Vec<String>) -> CommandConfig {
        CommandConfig {
            name: name.into(),
            program,
            timeout_ms: default_timeout_ms(),
            reject_exit: default_reject_exit(),
            quarantine_exit: default_quarantine_exit(),
            on_failure: None,
        }
    }
}

/// The most output read from the program (the rest is read and dropped).
const MAX_OUTPUT: usize = 4096;

/// The external-command filter.
///
/// The program gets the message on standard input and, in a clean
/// environment (only `PATH` is passed on), the envelope:
/// `MAILWIRE_CLIENT_IP`, `MAILWIRE_HELO`, `MAILWIRE_MAIL_FROM`,
/// `MAILWIRE_RECIPIENTS` (space-separated), `MAILWIRE_AUTHENTICATED` (set
/// only after AUTH), `MAILWIRE_QUEUE_ID`, `MAILWIRE_SIZE`. Exit 0 accepts.
#[derive(Debug, Clone)]
pub struct Command {
    config: CommandConfig,
}

impl Command {
    /// Checks the configuration (a program is named).
    pub fn new(config: CommandConfig) -> Result<Command, FilterError> {
        if config.program.first().is_none_or(|p| p.is_empty()) {
            return Err(FilterError::Config(format!(
                "command filter {:?} names no program",
                config.name
            )));
        }
        Ok(Command { config })
    }

    fn io_error(&self, source: io::Error) -> FilterError {
        FilterError::Io {
            scanner: self.config.name.clone(),
            source,
        }
    }

    fn spawn(&self, info: &MessageInfo) -> Result<Child, FilterError> {
        let clean = |s: &str| -> String { s.chars().filter(|c| !c.is_control()).collect() };
        let (program, args) = self
            .config
            .program
            .split_first()
            .ok_or_else(|| FilterError::Config("no program".into()))?;
        let mut command = std::process::Command::new(program);
        command
            .args(args)
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .env("MAILWIRE_CLIENT_IP", info.client_ip.to_string())
            .env("MAILWIRE_HELO", clean(&info.helo))
            .env("MAILWIRE_MAIL_FROM", clean(&info.mail_from))
            .env(
                "MAILWIRE_RECIPIENTS",
                info.recipients
                    .iter()
                    .map(|r| clean(r))
                    .collect::<Vec<_>>()
                    .join(" "),
            )
            .env("MAILWIRE_QUEUE_ID", clean(&info.queue_id))
            .env("MAILWIRE_SIZE", info.size.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(user) = &info.authenticated {
            command.env("MAILWIRE_AUTHENTICATED", clean(user));
        }
        command.spawn().map_err(|e| self.io_error(e))
    }
}

impl Filter for Command {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn check(&self, info: &MessageInfo, message: &Path) -> Result<Verdict, FilterError> {
        let timeout = Duration::from_millis(self.config.timeout_ms);
        let started = Instant::now();
        let mut file = File::open(message).map_err(|e| self.io_error(e))?;
        let mut child = self.spawn(info)?;
        // The message goes in from one thread and the output comes out in
        // another, so a program that writes before it reads cannot deadlock
        // with us; one that does neither meets the deadline.
        if let Some(mut stdin) = child.stdin.take() {
            std::thread::spawn(move || {
                // A program that exits without reading all is its own choice.
                let _ = io::copy(&mut file, &mut stdin);
            });
        }
        let (sender, output) = mpsc::channel();
        if let Some(mut stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    match stdout.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let room = MAX_OUTPUT.saturating_sub(kept.len());
                            kept.extend_from_slice(buf.get(..n.min(room)).unwrap_or_default());
                        }
                    }
                }
                let _ = sender.send(kept);
            });
        }
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|e| self.io_error(e))? {
                break status;
            }
            if started.elapsed() >= timeout {
                let _ = child.kill();
                let _ = child.wait();
                return Err(FilterError::Timeout {
                    scanner: self.config.name.clone(),
                    after: timeout,
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        // The output is whole once the program's end of the pipe closes; a
        // child it left behind that holds the pipe gets a short grace.
        let output = output
            .recv_timeout(Duration::from_millis(500))
            .unwrap_or_default();
        let first_line = String::from_utf8_lossy(&output)
            .lines()
            .next()
            .map(sanitize_text)
            .unwrap_or_default();
        let code = status.code();
        if code == Some(0) {
            return Ok(Verdict::accept());
        }
        if code == Some(self.config.reject_exit) {
            let text = if first_line.is_empty() {
                format!("message refused by {}", self.config.name)
            } else {
                first_line
            };
            return Ok(Verdict::reject(text));
        }
        if code == Some(self.config.quarantine_exit) {
            let reason = if first_line.is_empty() {
                format!("quarantined by {}", self.config.name)
            } else {
                first_line
            };
            return Ok(Verdict::Quarantine {
                reason,
                add_headers: Vec::new(),
            });
        }
        Err(FilterError::Scanner {
            scanner: self.config.name.clone(),
            message: match code {
                Some(code) => format!("exited with status {code}"),
                None => format!("ended by a signal ({status})"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_is_required() {
        assert!(Command::new(CommandConfig::new("c", vec![])).is_err());
        assert!(Command::new(CommandConfig::new("c", vec![String::new()])).is_err());
    }
}
