//! A real full disk: the spool on a 1 MiB tmpfs (the tests run as root, as
//! tests/run-all.sh does; mounting needs it). Enqueues fail with a clear
//! "full" error once the disk is full, and everything acknowledged before
//! stays readable.

mod common;

use common::{message, TempDir};
use mail_spool::spool::{SqliteOptions, SqliteSpool};
use mail_spool::{Spool, SpoolError, Timestamp};
use std::process::Command;

/// A tmpfs mounted on a fresh directory, unmounted on drop.
struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = TempDir::new("tmpfs");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir.0)
            .status()
            .expect("running mount");
        assert!(
            status.success(),
            "mounting a tmpfs failed ({status}): this test needs root, as tests/run-all.sh runs it"
        );
        Tmpfs { dir }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir.0).status();
    }
}

#[test]
fn a_full_disk_refuses_new_mail_and_keeps_what_was_acknowledged() {
    let disk = Tmpfs::mount("1m");
    let spool = SqliteSpool::open(disk.dir.0.join("spool"), SqliteOptions::default()).unwrap();
    let mut kept = Vec::new();
    let mut big = message(0, &["a@b.example"]);
    big.body = vec![b'x'; 8 * 1024];
    let err = loop {
        match spool.enqueue(&big, Timestamp(1)) {
            Ok(e) => kept.push(e.id),
            Err(e) => break e,
        }
        assert!(kept.len() < 1000, "a 1 MiB disk never filled");
    };
    assert!(
        matches!(err, SpoolError::Full(_) | SpoolError::Unavailable(_)),
        "{err:?}"
    );
    assert!(err.is_transient(), "{err:?}");
    assert!(
        err.to_string().contains("full"),
        "the error says the disk is full: {err}"
    );
    assert!(!kept.is_empty());
    for id in &kept {
        assert_eq!(spool.body(*id).unwrap().len(), 8 * 1024);
    }
    drop(spool);
    // Reopened, the acknowledged messages are all there.
    let spool = SqliteSpool::open(disk.dir.0.join("spool"), SqliteOptions::default()).unwrap();
    assert_eq!(spool.stats().unwrap().messages as usize, kept.len());
    eprintln!("full disk after {} messages: {err}", kept.len());
}
