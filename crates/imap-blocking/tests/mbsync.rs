//! isync's mbsync (Debian package isync; a real sync tool we did not write)
//! pulls a Maildir++ tree over STARTTLS with SASL PLAIN: every message
//! arrives byte for byte, folders included, and a second run finds nothing
//! new (UIDs stable). mbsync itself stores messages with LF line ends and
//! adds an `X-TUID` header line to each; the comparison undoes exactly
//! those two changes and nothing else.

mod support;

use imap_blocking::ServerOptions;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use support::{config, start, tls, TempDir};

/// Message bodies under a Maildir (any folder), keyed by their content.
fn bodies(root: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "tmp" {
                    dirs.push(path);
                }
            } else if path
                .parent()
                .unwrap()
                .file_name()
                .is_some_and(|p| p == "cur" || p == "new")
            {
                out.push(fs::read(&path).unwrap());
            }
        }
    }
    out.sort();
    out
}

/// CRLF to LF, as mbsync stores a message in a Maildir.
fn lf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// The message without the one `X-TUID:` line mbsync adds to its header.
fn without_tuid(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut removed = 0;
    let mut in_header = true;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if in_header && line == b"\n" {
            in_header = false;
        }
        if in_header && line.starts_with(b"X-TUID: ") {
            removed += 1;
            continue;
        }
        out.extend_from_slice(line);
    }
    assert_eq!(removed, 1, "mbsync's X-TUID line");
    out
}

fn mbsync(rc: &Path) -> String {
    let out = Command::new("mbsync")
        .arg("-c")
        .arg(rc)
        .arg("-a")
        .stdin(Stdio::null())
        .output()
        .expect("mbsync is missing: run the tests through tests/run-all.sh, which installs isync");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "mbsync failed: {text}");
    text
}

#[test]
fn mbsync_pulls_every_folder_byte_for_byte() {
    let dir = TempDir::new("mbsync");
    let maildir = dir.maildir();
    let mut sent: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    sent.insert(
        "new/1700000000.M1P1.test",
        b"From: a@example.org\r\nSubject: one\r\n\r\nfirst\r\n".to_vec(),
    );
    sent.insert(
        "cur/1700000001.M2P1.test:2,S",
        [
            &b"Subject: =?UTF-8?B?5rWL6K+V?=\r\n\r\n"[..],
            "\u{4e2d}\u{6587}\r\n.\r\n".as_bytes(),
            &[0xff, 0xfe, b'\r', b'\n'],
        ]
        .concat(),
    );
    let big: Vec<u8> = (0..200_000u32)
        .flat_map(|i| format!("line {i}\r\n").into_bytes())
        .collect();
    sent.insert(
        "new/1700000002.M3P1.test",
        [&b"Subject: big\r\n\r\n"[..], &big].concat(),
    );
    for (path, body) in &sent {
        fs::write(maildir.join(path), body).unwrap();
    }
    let archive = maildir.join(".Archive");
    for sub in ["tmp", "new", "cur"] {
        fs::create_dir_all(archive.join(sub)).unwrap();
    }
    let archived = b"Subject: archived\r\n\r\nold\r\n".to_vec();
    fs::write(archive.join("new/1600000000.M1P1.test"), &archived).unwrap();

    let ca = dir.0.join("ca.pem");
    let options = ServerOptions::new(config().with_starttls(true)).with_tls(tls(&ca));
    let server = start(options, maildir.clone());
    let local = dir.0.join("local");
    fs::create_dir_all(&local).unwrap();
    // The password lives in the configuration file, never on a command line.
    let rc = dir.0.join("mbsyncrc");
    fs::write(
        &rc,
        format!(
            "IMAPAccount test\nHost localhost\nPort {port}\nUser alice\nPass secret\nSSLType STARTTLS\n\
             CertificateFile {ca}\nAuthMechs PLAIN\n\n\
             IMAPStore remote\nAccount test\n\n\
             MaildirStore local\nInbox {local}/INBOX\nSubFolders Maildir++\n\n\
             Channel all\nFar :remote:\nNear :local:\nPatterns *\nCreate Near\nSync Pull\nSyncState *\n",
            port = server.local_addr().unwrap().port(),
            ca = ca.display(),
            local = local.display(),
        ),
    )
    .unwrap();
    mbsync(&rc);
    let mut expected: Vec<Vec<u8>> = sent.values().cloned().collect();
    expected.push(archived);
    let mut expected: Vec<Vec<u8>> = expected.iter().map(|b| lf(b)).collect();
    expected.sort();
    let mut got: Vec<Vec<u8>> = bodies(&local).iter().map(|b| without_tuid(b)).collect();
    got.sort();
    assert_eq!(got, expected, "every message, byte for byte");
    // A second run: nothing new, nothing duplicated.
    mbsync(&rc);
    assert_eq!(bodies(&local).len(), 4);
    server.shutdown();
}
