//! `mailwire`: send mail from the command line, or run a local sink that
//! stores every message it receives in a Maildir.
#![forbid(unsafe_code)]

mod maildir;
mod send;
mod serve;
mod serve_tls;
mod users;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit code of a usage error (bad flags or values); clap uses it too.
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code when the server could not be reached or the session could not start.
pub(crate) const EXIT_CONNECT: u8 = 3;
/// Exit code when the server refused the message.
pub(crate) const EXIT_REJECTED: u8 = 4;
/// Exit code of any other failure.
pub(crate) const EXIT_OTHER: u8 = 1;

/// An error with the exit code it maps to.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) error: anyhow::Error,
}

impl Failure {
    pub(crate) fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: EXIT_USAGE,
            error: error.into(),
        }
    }
    pub(crate) fn connect(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: EXIT_CONNECT,
            error: error.into(),
        }
    }
    pub(crate) fn rejected(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: EXIT_REJECTED,
            error: error.into(),
        }
    }
    pub(crate) fn other(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: EXIT_OTHER,
            error: error.into(),
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "mailwire",
    version,
    about = "Send mail, or run a local Maildir sink"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an SMTP sink that stores each message in a Maildir.
    Serve(serve::ServeArgs),
    /// Build a message and deliver it (to the embedded local sink when no --server is given).
    Send(Box<send::SendArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Send(args) => send::run(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("mailwire: {:#}", failure.error);
            ExitCode::from(failure.code)
        }
    }
}
