//! `mailwire`: send mail from the command line, or run a local sink that
//! stores every message it receives in a Maildir.

/// `println!` for the tool's output: a reader that went away (`mailwire …
/// | head`) is not an error of ours, so a closed pipe drops the line
/// instead of panicking as `println!` does.
macro_rules! out {
    () => {
        $crate::print_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::print_line(format_args!($($arg)*))
    };
}

mod bulk;
mod check_auth;
mod connect;
mod deliver;
mod dkim;
mod doctor;
mod maildir;
mod probe;
mod queue;
mod send;
mod serve;
mod serve_readers;
mod serve_tls;
mod sink;
mod template;
mod user;
mod users;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit code of a usage error (bad flags or values); clap uses it too.
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code when the server could not be reached or the session could not start.
pub(crate) const EXIT_CONNECT: u8 = 3;
/// Exit code when the server refused the message.
pub(crate) const EXIT_REJECTED: u8 = 4;
/// Exit code when the login failed (wrong password, app password needed).
pub(crate) const EXIT_AUTH: u8 = 5;
/// Exit code when TLS failed (certificate, handshake, STARTTLS missing).
pub(crate) const EXIT_TLS: u8 = 6;
/// Exit code of any other failure.
pub(crate) const EXIT_OTHER: u8 = 1;

/// An error with the exit code it maps to.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) error: anyhow::Error,
    /// Already shown to the user (as a probe step): not printed again.
    pub(crate) shown: bool,
}

impl Failure {
    fn new(code: u8, error: anyhow::Error) -> Failure {
        Failure {
            code,
            error,
            shown: false,
        }
    }

    /// Marks the failure as already shown to the user.
    pub(crate) fn shown(mut self) -> Failure {
        self.shown = true;
        self
    }

    pub(crate) fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure::new(EXIT_USAGE, error.into())
    }
    pub(crate) fn connect(error: impl Into<anyhow::Error>) -> Failure {
        Failure::new(EXIT_CONNECT, error.into())
    }
    pub(crate) fn rejected(error: impl Into<anyhow::Error>) -> Failure {
        Failure::new(EXIT_REJECTED, error.into())
    }
    pub(crate) fn auth(error: impl Into<anyhow::Error>) -> Failure {
        Failure::new(EXIT_AUTH, error.into())
    }
    pub(crate) fn tls(error: impl Into<anyhow::Error>) -> Failure {
        Failure::new(EXIT_TLS, error.into())
    }
    pub(crate) fn other(error: impl Into<anyhow::Error>) -> Failure {
        Failure::new(EXIT_OTHER, error.into())
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "mailwire",
    version,
    about = "Send mail, run a local Maildir sink, or diagnose an SMTP server",
    after_help = "Exit codes: 0 done, 1 other failure, 2 usage, 3 could not connect or set up \
                  the session, 4 message refused, 5 login failed, 6 TLS failed."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an SMTP sink that stores each message in a Maildir.
    Serve(Box<serve::ServeArgs>),
    /// Build a message and deliver it (to the embedded local sink when no --server is given).
    Send(Box<send::SendArgs>),
    /// Connect to a server and report each step: DNS, TCP, greeting, TLS,
    /// EHLO extensions, AUTH, and optionally a login test.
    Probe(Box<probe::ProbeArgs>),
    /// Deliver what the spool holds, retrying and pacing, until stopped.
    Deliver(Box<deliver::DeliverArgs>),
    /// Show and manage the spool: list, show, retry, delete, purge, stats.
    Queue(queue::QueueArgs),
    /// Send one message per row of a CSV file, from templates.
    Bulk(Box<bulk::BulkArgs>),
    /// DKIM keys: `mailwire dkim keygen --domain D --selector S`.
    Dkim(dkim::DkimArgs),
    /// The accounts of a users file: add, passwd, delete, list, quota.
    User(user::UserArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Send(args) => send::run(*args),
        Command::Probe(args) => probe::run(*args),
        Command::Deliver(args) => deliver::run(*args),
        Command::Queue(args) => queue::run(args),
        Command::Bulk(args) => bulk::run(*args),
        Command::Dkim(args) => dkim::run(args),
        Command::User(args) => user::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) if failure.shown => ExitCode::from(failure.code),
        Err(failure) => {
            // The error may quote the server: its text is escaped.
            let text = format!("{:#}", failure.error);
            let lines: Vec<_> = text
                .split('\n')
                .map(smtp_proto::transcript::escape_control)
                .collect();
            eprintln!("mailwire: {}", lines.join("\n"));
            ExitCode::from(failure.code)
        }
    }
}

/// Writes one line to standard output; see [`out!`].
fn print_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    // Any failure (a closed pipe, a full disk behind a redirection) only
    // loses this line: the work the line reports on is already done.
    let _ = stdout
        .write_fmt(line)
        .and_then(|()| stdout.write_all(b"\n"));
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
