//! `mailwire user add|passwd|delete|list|quota`: the accounts of a users
//! file (`address:argon2-hash[:quota]` per line), as `mailwire serve
//! --users-file` reads it.
//!
//! The password comes from `MAILWIRE_PASSWORD`, or is asked twice on a
//! terminal, or is read as one line from standard input when that is not a
//! terminal (`printf '%s\n' "$pw" | mailwire user add ...`); never from an
//! argument, where other users of the machine could read it. Only its
//! argon2 hash is written; the file is rewritten atomically, mode 0600.

use crate::connect::PASSWORD_ENV;
use crate::Failure;
use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};
use mail_accounts::{format_quota, parse_quota, EditError, HashedPassword, UsersFile};
use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};

/// The longest password read from standard input.
const MAX_PASSWORD: usize = 4096;

#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 done, 1 refused or a file problem (the account exists or \
                        is missing; the file is missing, unreadable or malformed), 2 usage (not an \
                        address, not a size, no password, the two passwords differ)."
)]
pub(crate) struct UserArgs {
    #[command(subcommand)]
    action: Action,
}

/// The users file every action works on.
#[derive(Debug, Args)]
struct FileArg {
    /// The users file (created by `add` when missing).
    #[arg(long, value_name = "FILE")]
    users_file: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Add an account; its password comes from MAILWIRE_PASSWORD or a prompt.
    Add {
        /// The account's address, local@domain.
        address: String,
        #[command(flatten)]
        file: FileArg,
        /// Its mailbox quota: 500M, 2G, or bytes. None: the server's default.
        #[arg(long, value_name = "SIZE")]
        quota: Option<String>,
    },
    /// Set an account's password (from MAILWIRE_PASSWORD or a prompt).
    Passwd {
        /// The account's address.
        address: String,
        #[command(flatten)]
        file: FileArg,
    },
    /// Delete an account.
    Delete {
        /// The account's address.
        address: String,
        #[command(flatten)]
        file: FileArg,
    },
    /// List the accounts (or one) with their quotas; never the hashes.
    List {
        /// Only this account.
        address: Option<String>,
        #[command(flatten)]
        file: FileArg,
    },
    /// Set or remove (`--quota none`) an account's quota.
    Quota {
        /// The account's address.
        address: String,
        #[command(flatten)]
        file: FileArg,
        /// 500M, 2G, bytes, or `none`.
        #[arg(long, value_name = "SIZE")]
        quota: String,
    },
}

pub(crate) fn run(args: UserArgs) -> Result<(), Failure> {
    match args.action {
        Action::Add {
            address,
            file,
            quota,
        } => {
            let quota = quota.as_deref().map(quota_flag).transpose()?.flatten();
            let path = &file.users_file;
            let mut users = read(path, true)?;
            let hash = match users.get(&address) {
                Some(entry) => {
                    return Err(edit_failed(
                        EditError::Exists(entry.address().to_owned()),
                        path,
                    ))
                }
                None => new_hash(&address)?,
            };
            users
                .add(&address, hash, quota)
                .map_err(|e| edit_failed(e, path))?;
            write(&users, path)?;
            out!("added {} to {}", canonical(&address), path.display());
        }
        Action::Passwd { address, file } => {
            let path = &file.users_file;
            let mut users = read(path, false)?;
            existing(&users, &address, path)?;
            let hash = new_hash(&address)?;
            users
                .set_password(&address, hash)
                .map_err(|e| edit_failed(e, path))?;
            write(&users, path)?;
            out!(
                "password of {} changed in {}",
                canonical(&address),
                path.display()
            );
        }
        Action::Delete { address, file } => {
            let path = &file.users_file;
            let mut users = read(path, false)?;
            users.remove(&address).map_err(|e| edit_failed(e, path))?;
            write(&users, path)?;
            out!("deleted {} from {}", canonical(&address), path.display());
        }
        Action::Quota {
            address,
            file,
            quota,
        } => {
            let quota = quota_flag(&quota)?;
            let path = &file.users_file;
            let mut users = read(path, false)?;
            users
                .set_quota(&address, quota)
                .map_err(|e| edit_failed(e, path))?;
            write(&users, path)?;
            let shown = quota.map_or_else(
                || "no quota".to_owned(),
                |q| format!("quota {}", format_quota(q)),
            );
            out!(
                "{} now has {shown} in {}",
                canonical(&address),
                path.display()
            );
        }
        Action::List { address, file } => {
            let path = &file.users_file;
            let users = read(path, false)?;
            if let Some(address) = &address {
                existing(&users, address, path)?;
            }
            let wanted = address
                .as_deref()
                .and_then(mail_accounts::canonical_address);
            for entry in users.entries() {
                if wanted.as_deref().is_some_and(|w| w != entry.address()) {
                    continue;
                }
                let quota = entry.quota().map_or_else(|| "-".to_owned(), format_quota);
                out!("{} {quota}", entry.address());
            }
        }
    }
    Ok(())
}

/// The address as the file stores it (for the messages).
fn canonical(address: &str) -> String {
    mail_accounts::canonical_address(address).unwrap_or_else(|| address.to_owned())
}

/// `--quota`: a size, or `none` (only where removing one makes sense).
fn quota_flag(text: &str) -> Result<Option<u64>, Failure> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    parse_quota(text).map(Some).ok_or_else(|| {
        Failure::usage(anyhow!(
            "--quota {text:?} is not a size: write it like 500M, 2G or 1048576 (bytes)"
        ))
    })
}

fn read(path: &Path, missing_is_empty: bool) -> Result<UsersFile, Failure> {
    let read = if missing_is_empty {
        UsersFile::read_or_new(path)
    } else {
        UsersFile::read(path)
    };
    read.map_err(|error| match &error {
        mail_accounts::UsersFileError::Io { source, .. }
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Failure::other(anyhow!(
                "the users file {} does not exist (`mailwire user add` creates it)",
                path.display()
            ))
        }
        _ => {
            Failure::other(anyhow!(error).context(format!("in the users file {}", path.display())))
        }
    })
}

fn write(users: &UsersFile, path: &Path) -> Result<(), Failure> {
    users
        .write(path)
        .map_err(|error| Failure::other(anyhow!(error)))
}

fn existing(users: &UsersFile, address: &str, path: &Path) -> Result<(), Failure> {
    match users.get(address) {
        Some(_) => Ok(()),
        None if mail_accounts::canonical_address(address).is_none() => {
            Err(edit_failed(EditError::BadAddress(address.to_owned()), path))
        }
        None => Err(edit_failed(EditError::Missing(canonical(address)), path)),
    }
}

fn edit_failed(error: EditError, path: &Path) -> Failure {
    match error {
        EditError::BadAddress(_) => Failure::usage(anyhow!(error)),
        EditError::Exists(address) => Failure::other(anyhow!(
            "{address} already has an account in {} (use `mailwire user passwd` to change its password)",
            path.display()
        )),
        EditError::Missing(address) => Failure::other(anyhow!(
            "{address} has no account in {} (see `mailwire user list`)",
            path.display()
        )),
        other => Failure::other(anyhow!(other)),
    }
}

/// The new password for `address`, hashed.
fn new_hash(address: &str) -> Result<HashedPassword, Failure> {
    if mail_accounts::canonical_address(address).is_none() {
        return Err(edit_failed(
            EditError::BadAddress(address.to_owned()),
            Path::new(""),
        ));
    }
    let password = new_password(address)?;
    if password.is_empty() {
        return Err(Failure::usage(anyhow!("the password is empty")));
    }
    HashedPassword::new(&password)
        .context("hashing the password")
        .map_err(Failure::other)
}

/// MAILWIRE_PASSWORD; else asked twice on a terminal; else one line of
/// standard input.
fn new_password(address: &str) -> Result<String, Failure> {
    match std::env::var(PASSWORD_ENV) {
        Ok(password) => return Ok(password),
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(Failure::usage(anyhow!("{PASSWORD_ENV} is not valid UTF-8")))
        }
        Err(std::env::VarError::NotPresent) => {}
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let ask = |prompt: String| {
            rpassword::prompt_password(prompt).map_err(|e| {
                Failure::usage(anyhow!(
                    "could not read the password from the terminal: {e}"
                ))
            })
        };
        let first = ask(format!("New password for {address}: "))?;
        let second = ask("The same password again: ".to_owned())?;
        if first != second {
            return Err(Failure::usage(anyhow!(
                "the two passwords differ; nothing was changed"
            )));
        }
        return Ok(first);
    }
    let mut line = Vec::new();
    stdin
        .lock()
        .take(MAX_PASSWORD as u64 + 1)
        .read_until(b'\n', &mut line)
        .context("reading the password from standard input")
        .map_err(Failure::usage)?;
    if line.len() > MAX_PASSWORD {
        return Err(Failure::usage(anyhow!(
            "the password on standard input is longer than {MAX_PASSWORD} bytes"
        )));
    }
    if line.ends_with(b"\n") {
        line.pop();
        if line.ends_with(b"\r") {
            line.pop();
        }
    }
    if line.is_empty() {
        return Err(Failure::usage(anyhow!(
            "no password: set {PASSWORD_ENV}, run on a terminal to be asked, or give it as one \
             line on standard input"
        )));
    }
    String::from_utf8(line).map_err(|_| Failure::usage(anyhow!("the password is not valid UTF-8")))
}
