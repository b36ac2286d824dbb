//! POP3 and IMAP for one Maildir, embedded in a smol program.
//!
//! ```text
//! MAILDIR=/var/mail/alice READER_PASSWORD=secret \
//!     cargo run -p session-futures --example smol_readers
//! ```
//!
//! Then `python3 -c 'import poplib; p = poplib.POP3("127.0.0.1", 1110);
//! p.user("alice"); p.pass_("secret"); print(p.stat())'`. Plaintext logins
//! on loopback only; give the options a certificate (`with_tls`,
//! `with_implicit_tls`) for anything else.

use imap_proto::ImapConfig;
use pop3_proto::Pop3Config;
use session_futures::{ImapOptions, ImapServer, Pop3Options, Pop3Server};
use smtp_smol::Smol;
use std::net::SocketAddr;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let maildir = PathBuf::from(std::env::var("MAILDIR")?);
    // The password comes from the environment, never the command line.
    let password = std::env::var("READER_PASSWORD")?;
    let (pop3_dir, pop3_password) = (maildir.clone(), password.clone());
    let pop3_users = move |c: &pop3_proto::Credentials, _peer: SocketAddr| {
        (c.username() == "alice" && c.verify_password(&pop3_password)).then(|| pop3_dir.clone())
    };
    let imap_users = move |c: &imap_proto::Credentials, _peer: SocketAddr| {
        (c.username == "alice" && *c.password.expose() == password).then(|| maildir.clone())
    };

    // The embed: bind, then run (or spawn) on the program's own executor.
    let pop3 = Pop3Server::<Smol>::bind(
        "127.0.0.1:1110",
        Pop3Options::new(Pop3Config::new("localhost").with_plaintext_auth(true)),
        pop3_users,
    )?;
    let imap = ImapServer::<Smol>::bind(
        "127.0.0.1:1143",
        ImapOptions::new(ImapConfig::new("localhost").with_plaintext_auth(true)),
        imap_users,
    )?;
    println!(
        "POP3 on {}, IMAP on {}",
        pop3.local_addr(),
        imap.local_addr()
    );
    smol::block_on(async {
        let _imap = imap.spawn();
        pop3.run().await;
    });
    Ok(())
}
