//! The mailbox store through its public API: path-safe user directories,
//! delivery to several users, quotas (also under concurrent deliveries),
//! and the per-folder index's recovery.

use maildrop::{CopyMode, MailStore, MaildirFolders, Maildrop, StoreError};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("maildrop-store-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn deliver(
    store: &MailStore,
    body: &[u8],
    users: &[(&str, Option<u64>)],
) -> Result<Vec<maildrop::Delivered>, StoreError> {
    let mut incoming = store.begin().unwrap();
    for chunk in body.chunks(7) {
        incoming.write(chunk).unwrap();
    }
    incoming.commit(b"", users, None)
}

/// No file in the staging directory or its shards.
fn staging_is_empty(root: &Path) -> bool {
    fs::read_dir(root.join(".tmp")).unwrap().all(|entry| {
        let entry = entry.unwrap();
        entry.file_type().unwrap().is_dir() && fs::read_dir(entry.path()).unwrap().next().is_none()
    })
}

#[test]
fn hostile_addresses_stay_inside_the_root_and_apart() {
    let dir = TempDir::new("hostile");
    let root = dir.0.join("mail");
    let store = MailStore::open(&root).unwrap();
    let users = [
        "../../escape@example.org",
        "..@example.org",
        ".@example.org",
        "a/b@example.org",
        "a%2Fb@example.org",
        "alice@../../etc",
        "alice@..",
        "alice@.",
        "alice@example.org/..",
        "x\0y@example.org",
        "x\ny@example.org",
        "alice@example.org",
        "alice@EXAMPLE.ORG",
        "Alice@example.org",
        ".tmp@x",
        "a@.tmp",
    ];
    let canonical_root = fs::canonicalize(&root).unwrap();
    let mut dirs = std::collections::HashMap::new();
    for user in users {
        let delivered = deliver(&store, user.as_bytes(), &[(user, None)]).unwrap();
        let path = fs::canonicalize(&delivered[0].path).unwrap();
        assert!(
            path.starts_with(&canonical_root),
            "{user}: {}",
            path.display()
        );
        // Exactly two levels below the root, neither a dot name.
        let rel = path.strip_prefix(&canonical_root).unwrap();
        let parts: Vec<_> = rel.components().collect();
        assert_eq!(parts.len(), 4, "{user}: {}", rel.display());
        let domain = parts[0].as_os_str().to_str().unwrap();
        assert!(!domain.starts_with('.'), "{user}");
        dirs.entry(store.maildir(user).unwrap())
            .or_insert_with(Vec::new)
            .push(user);
    }
    // Only the two spellings of one domain share a directory.
    for (dir, users) in &dirs {
        if users.len() > 1 {
            assert_eq!(
                users,
                &["alice@example.org", "alice@EXAMPLE.ORG"],
                "{}",
                dir.display()
            );
        }
    }
    assert_eq!(dirs.len(), users.len() - 1);
    for bad in ["no-at", "@example.org", "alice@", ""] {
        assert!(
            matches!(store.maildir(bad), Err(StoreError::InvalidUser)),
            "{bad}"
        );
        let incoming = store.begin().unwrap();
        let out = incoming.commit_each(b"", &[(bad, None)], None).unwrap();
        assert!(matches!(out[0], Err(StoreError::InvalidUser)));
    }
    assert!(staging_is_empty(&root));
    // Nothing was made outside the root.
    let mut outside: Vec<_> = fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    outside.sort();
    assert_eq!(outside, ["mail"]);
}

#[test]
fn one_message_for_several_users_is_linked_once_with_the_prepend() {
    let dir = TempDir::new("links");
    let store = MailStore::open(&dir.0).unwrap();
    let mut incoming = store.begin().unwrap();
    incoming.write(b"Subject: hi\r\n\r\n").unwrap();
    incoming.write(b"body\r\n").unwrap();
    assert_eq!(
        fs::read(incoming.path()).unwrap(),
        b"Subject: hi\r\n\r\nbody\r\n"
    );
    let prepend = b"Received: from x\r\n";
    let users = [
        ("a@example.org", None),
        ("b@example.org", Some(1_000_000)),
        ("a@EXAMPLE.org", None),
    ];
    let delivered = incoming.commit(prepend, &users, None).unwrap();
    assert_eq!(delivered.len(), 3);
    let expected = b"Received: from x\r\nSubject: hi\r\n\r\nbody\r\n";
    for d in &delivered {
        assert_eq!(fs::read(&d.path).unwrap(), expected);
        assert_eq!(d.size, expected.len() as u64);
        assert!(d.unique.ends_with(&format!(",S={}", expected.len())));
        assert!(d.path.parent().unwrap().ends_with("new"));
    }
    // One inode, two names (a is listed twice but stored once).
    assert_eq!(delivered[0].path, delivered[2].path);
    let a = fs::metadata(&delivered[0].path).unwrap();
    let b = fs::metadata(&delivered[1].path).unwrap();
    assert_eq!(a.ino(), b.ino());
    assert_eq!(a.nlink(), 2);
    assert_eq!(a.mode() & 0o777, 0o600);
    assert!(staging_is_empty(&dir.0));
    let listed = Maildrop::scan(store.maildir("a@example.org").unwrap()).unwrap();
    assert_eq!(listed.messages().len(), 1);
    assert_eq!(listed.messages()[0].uid(), delivered[0].unique);
    assert_eq!(store.usage("a@example.org").unwrap().messages, 1);

    // One file per user in copy mode.
    let copies = store.clone().with_copy_mode(CopyMode::Copy);
    let delivered = deliver(
        &copies,
        b"x",
        &[("a@example.org", None), ("b@example.org", None)],
    )
    .unwrap();
    let a = fs::metadata(&delivered[0].path).unwrap();
    let b = fs::metadata(&delivered[1].path).unwrap();
    assert_ne!(a.ino(), b.ino());
    assert_eq!(fs::read(&delivered[1].path).unwrap(), b"x");
    assert!(staging_is_empty(&dir.0));

    // Into a folder, made on demand, as Maildir++ marks one.
    let incoming = store.begin().unwrap();
    let d = incoming
        .commit(b"X: y\r\n", &[("a@example.org", None)], Some("Junk"))
        .unwrap();
    assert!(d[0]
        .path
        .starts_with(store.maildir("a@example.org").unwrap().join(".Junk/new")));
    assert!(store
        .maildir("a@example.org")
        .unwrap()
        .join(".Junk/maildirfolder")
        .exists());
    let folders = MaildirFolders::open(store.maildir("a@example.org").unwrap()).unwrap();
    assert_eq!(folders.list("Junk", false).unwrap().messages.len(), 1);
    let incoming = store.begin().unwrap();
    assert!(matches!(
        incoming.commit(b"", &[("a@example.org", None)], Some("../x")),
        Err(StoreError::InvalidFolder)
    ));
    assert_eq!(store.usage("a@example.org").unwrap().messages, 3);
}

#[test]
fn abort_and_drop_leave_nothing() {
    let dir = TempDir::new("abort");
    let store = MailStore::open(&dir.0).unwrap();
    let mut incoming = store.begin().unwrap();
    incoming.write(b"partial").unwrap();
    assert!(incoming.path().exists());
    incoming.abort();
    let mut incoming = store.begin().unwrap();
    incoming.write(b"partial").unwrap();
    drop(incoming);
    assert!(staging_is_empty(&dir.0));
    assert!(!store.maildir("a@example.org").unwrap().exists());
}

#[test]
fn quota_refuses_one_user_and_stores_the_others() {
    let dir = TempDir::new("quota");
    let store = MailStore::open(&dir.0).unwrap();
    let body = vec![b'x'; 1000];
    assert!(store.room("a@example.org", Some(2500), 1000).unwrap());
    assert!(!store.room("a@example.org", Some(999), 1000).unwrap());
    assert!(store.room("a@example.org", None, u64::MAX).unwrap());
    deliver(&store, &body, &[("a@example.org", Some(2500))]).unwrap();
    deliver(&store, &body, &[("a@example.org", Some(2500))]).unwrap();
    assert!(!store.room("a@example.org", Some(2500), 1000).unwrap());
    assert!(store.room("a@example.org", Some(2500), 500).unwrap());
    let err = deliver(
        &store,
        &body,
        &[("b@example.org", None), ("a@example.org", Some(2500))],
    )
    .unwrap_err();
    assert!(
        matches!(&err, StoreError::OverQuota { user } if user == "a@example.org"),
        "{err}"
    );
    assert_eq!(store.usage("b@example.org").unwrap().messages, 1);
    let usage = store.usage("a@example.org").unwrap();
    assert_eq!(
        (usage.bytes, usage.messages, usage.limit),
        (2000, 2, Some(2500))
    );
    let maildir = store.maildir("a@example.org").unwrap();
    assert_eq!(Maildrop::scan(&maildir).unwrap().messages().len(), 2);
    // Courier/Dovecot format.
    let text = fs::read_to_string(maildir.join("maildirsize")).unwrap();
    assert!(text.starts_with("2500S\n"), "{text}");
    assert!(text.contains("\n1000 1\n"), "{text}");
    // commit_each says which user failed.
    let incoming = store.begin().unwrap();
    let outcomes = incoming
        .commit_each(
            &body,
            &[("a@example.org", Some(2500)), ("b@example.org", None)],
            None,
        )
        .unwrap();
    assert!(matches!(outcomes[0], Err(StoreError::OverQuota { .. })));
    assert!(outcomes[1].is_ok());
    // POP3 DELE counts out; then there is room again.
    let drop = Maildrop::scan(&maildir).unwrap();
    drop.delete(&[0]).unwrap();
    assert_eq!(store.usage("a@example.org").unwrap().messages, 1);
    assert!(store.room("a@example.org", Some(2500), 1000).unwrap());
    // IMAP EXPUNGE too.
    let folders = MaildirFolders::open(&maildir).unwrap();
    let uid = folders.list("INBOX", false).unwrap().messages[0].uid;
    folders.expunge("INBOX", &[uid]).unwrap();
    assert_eq!(store.usage("a@example.org").unwrap().bytes, 0);
    // A missing or corrupt maildirsize is recalculated from the files.
    deliver(&store, &body, &[("a@example.org", Some(2500))]).unwrap();
    fs::remove_file(maildir.join("maildirsize")).unwrap();
    assert_eq!(store.usage("a@example.org").unwrap().messages, 1);
    fs::write(maildir.join("maildirsize"), "garbage\n1 x\n").unwrap();
    let usage = store.usage("a@example.org").unwrap();
    assert_eq!((usage.bytes, usage.messages), (1000, 1));
    // A changed quota rewrites the definition line.
    assert!(store.room("a@example.org", Some(5000), 1000).unwrap());
    let text = fs::read_to_string(maildir.join("maildirsize")).unwrap();
    assert_eq!(text, "5000S\n1000 1\n");
}

#[test]
fn concurrent_deliveries_keep_counts_and_quota_exact() {
    let dir = TempDir::new("threads");
    let store = MailStore::open(&dir.0).unwrap();
    let body = vec![b'y'; 100];
    let quota = Some(100 * 60);
    let stored = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let body = body.clone();
            let (stored, refused) = (stored.clone(), refused.clone());
            std::thread::spawn(move || {
                for _ in 0..20 {
                    match deliver(
                        &store,
                        &body,
                        &[("busy@example.org", quota), ("free@example.org", None)],
                    ) {
                        Ok(_) => stored.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
                        Err(StoreError::OverQuota { .. }) => {
                            refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                        }
                        Err(e) => panic!("{e}"),
                    };
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(stored.load(std::sync::atomic::Ordering::SeqCst), 60);
    assert_eq!(refused.load(std::sync::atomic::Ordering::SeqCst), 100);
    let busy = store.maildir("busy@example.org").unwrap();
    assert_eq!(Maildrop::scan(&busy).unwrap().messages().len(), 60);
    assert_eq!(store.usage("busy@example.org").unwrap().messages, 60);
    assert_eq!(store.usage("busy@example.org").unwrap().bytes, 6000);
    let free = store.maildir("free@example.org").unwrap();
    assert_eq!(Maildrop::scan(&free).unwrap().messages().len(), 160);
    assert_eq!(store.usage("free@example.org").unwrap().messages, 160);
    fs::remove_file(free.join("maildirsize")).unwrap();
    assert_eq!(store.usage("free@example.org").unwrap().bytes, 16_000);
    assert!(staging_is_empty(&dir.0));
}

fn uids(listing: &maildrop::FolderListing) -> Vec<(u32, String, String, u64)> {
    listing
        .messages
        .iter()
        .map(|m| (m.uid, m.unique.clone(), m.flags.clone(), m.size))
        .collect()
}

/// Waits until directory stamps taken now count as settled (older than
/// the current second and the one before).
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(2100));
}

#[test]
fn index_serves_unchanged_folders_and_notices_every_change() {
    let dir = TempDir::new("index");
    let store = MailStore::open(&dir.0).unwrap();
    for i in 0..5 {
        deliver(
            &store,
            format!("message {i}").as_bytes(),
            &[("a@example.org", None)],
        )
        .unwrap();
    }
    let maildir = store.maildir("a@example.org").unwrap();
    let folders = MaildirFolders::open(&maildir).unwrap();
    let first = folders.list("INBOX", true).unwrap();
    assert_eq!(first.messages.len(), 5);
    settle();
    let settled = folders.list("INBOX", false).unwrap();
    assert_eq!(uids(&settled), uids(&first));
    let index = fs::read_to_string(maildir.join(".mailwire-uidlist")).unwrap();
    assert!(index.starts_with("mailwire-uidlist 2 "), "{index}");
    assert!(!index.lines().next().unwrap().ends_with("- -"), "{index}");
    // Served from the index: a file whose size changed behind its back
    // (never done to a Maildir) still shows the indexed size.
    let victim = settled.messages[0].path().to_path_buf();
    let before = fs::metadata(maildir.join("cur"))
        .unwrap()
        .modified()
        .unwrap();
    fs::write(&victim, b"tampered, longer than before").unwrap();
    assert_eq!(
        fs::metadata(maildir.join("cur"))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
    assert_eq!(folders.list("INBOX", false).unwrap().messages[0].size, 9);
    // Another reader renames a file (a flag): seen at once.
    let m = &settled.messages[1];
    fs::rename(
        m.path(),
        maildir.join("cur").join(format!("{}:2,FS", m.unique)),
    )
    .unwrap();
    let after = folders.list("INBOX", false).unwrap();
    assert_eq!(after.messages[1].flags, "FS");
    // A delivery right after a listing, within the same second: seen.
    let listed = folders.list("INBOX", false).unwrap();
    deliver(&store, b"late", &[("a@example.org", None)]).unwrap();
    let later = folders.list("INBOX", false).unwrap();
    assert_eq!(later.messages.len(), listed.messages.len() + 1);
    assert_eq!(later.messages[5].uid, 6);
    assert!(later.messages[5].recent);
    // Removed by another reader: gone from the listing.
    fs::remove_file(later.messages[2].path()).unwrap();
    let fewer = folders.list("INBOX", false).unwrap();
    assert_eq!(fewer.messages.len(), 5);
    assert_eq!(fewer.uid_validity, first.uid_validity);
}

#[test]
fn a_deleted_or_corrupt_index_is_rebuilt_from_the_files() {
    let dir = TempDir::new("rebuild");
    let store = MailStore::open(&dir.0).unwrap();
    for i in 0..4 {
        deliver(
            &store,
            format!("message {i}").as_bytes(),
            &[("a@example.org", None)],
        )
        .unwrap();
    }
    let maildir = store.maildir("a@example.org").unwrap();
    let folders = MaildirFolders::open(&maildir).unwrap();
    let first = folders.list("INBOX", true).unwrap();
    folders.expunge("INBOX", &[2]).unwrap();
    let before = folders.list("INBOX", false).unwrap();
    let names = |l: &maildrop::FolderListing| {
        l.messages
            .iter()
            .map(|m| m.unique.clone())
            .collect::<Vec<_>>()
    };
    let index = maildir.join(".mailwire-uidlist");
    let good = fs::read(&index).unwrap();
    // Deleted: the same messages, new UIDs under a new UIDVALIDITY.
    fs::remove_file(&index).unwrap();
    let rebuilt = MaildirFolders::open(&maildir)
        .unwrap()
        .list("INBOX", false)
        .unwrap();
    assert_eq!(names(&rebuilt), names(&before));
    assert_ne!(rebuilt.uid_validity, first.uid_validity);
    assert_eq!(
        rebuilt.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    // Corrupt in many ways: never a panic, never a lost message, and
    // UIDVALIDITY changes whenever the UIDs were not kept.
    let mut corruptions: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"garbage".to_vec(),
        good[..good.len() / 2].to_vec(),
        good.iter()
            .map(|b| if *b == b' ' { b'\t' } else { *b })
            .collect(),
        vec![0xff; 100],
    ];
    let text = String::from_utf8(good.clone()).unwrap();
    corruptions.push(text.replacen('\n', "\n9999999 - x\n", 1).into_bytes());
    corruptions.push(text.replace(" C ", " Q ").into_bytes());
    for bad in corruptions {
        fs::write(&index, &good).unwrap();
        let kept = folders.list("INBOX", false).unwrap();
        fs::write(&index, &bad).unwrap();
        let listing = MaildirFolders::open(&maildir)
            .unwrap()
            .list("INBOX", false)
            .unwrap();
        assert_eq!(names(&listing), names(&before));
        assert_ne!(listing.uid_validity, kept.uid_validity);
        // And the new index reads back with the same UIDs.
        assert_eq!(uids(&folders.list("INBOX", false).unwrap()), uids(&listing));
    }
    // A version 1 index (before this format) keeps its UIDs.
    let v1: String = std::iter::once(format!(
        "mailwire-uidlist 1 {} {}\n",
        before.uid_validity, before.uid_next
    ))
    .chain(
        before
            .messages
            .iter()
            .map(|m| format!("{} {}\n", m.uid, m.unique)),
    )
    .collect();
    fs::write(&index, v1).unwrap();
    let upgraded = folders.list("INBOX", false).unwrap();
    assert_eq!(uids(&upgraded), uids(&before));
    assert_eq!(upgraded.uid_validity, before.uid_validity);
}

/// The child half of the kill test: delivers until killed, printing each
/// message's unique name once `commit` has returned.
fn crash_child(root: &Path, copy: bool) {
    use std::io::Write;
    let store = MailStore::open(root).unwrap();
    let store = if copy {
        store.with_copy_mode(CopyMode::Copy)
    } else {
        store
    };
    let users = [
        ("a@example.org", None),
        ("b@example.org", None),
        ("c@example.org", None),
    ];
    let mut out = std::io::stdout().lock();
    for n in 0u64.. {
        let size = 1000 + (n * 7919) % 300_000;
        let mut incoming = store.begin().unwrap();
        let chunk = vec![b'z'; 8192];
        let mut left = size;
        while left > 0 {
            let take = left.min(8192) as usize;
            incoming.write(&chunk[..take]).unwrap();
            left -= take as u64;
        }
        let delivered = incoming
            .commit(b"X-Prepended: yes\r\n", &users, None)
            .unwrap();
        writeln!(out, "\nDELIVERED {}", delivered[0].unique).unwrap();
        out.flush().unwrap();
    }
}

/// A message file is whole: the prepend, then exactly the `z`s its size
/// says.
fn is_whole(path: &Path, unique: &str) -> bool {
    let bytes = fs::read(path).unwrap();
    let size: usize = unique.rsplit(",S=").next().unwrap().parse().unwrap();
    bytes.len() == size
        && bytes.starts_with(b"X-Prepended: yes\r\n")
        && bytes[18..].iter().all(|&b| b == b'z')
}

#[test]
fn kill_9_during_delivery_leaves_whole_messages_only() {
    if let Ok(root) = std::env::var("MAILDROP_CRASH_CHILD") {
        crash_child(
            Path::new(&root),
            std::env::var("MAILDROP_CRASH_COPY").is_ok(),
        );
        return;
    }
    for copy in [false, true] {
        let dir = TempDir::new(if copy { "kill-copy" } else { "kill-link" });
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--exact",
                "kill_9_during_delivery_leaves_whole_messages_only",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("MAILDROP_CRASH_CHILD", &dir.0)
            .stdout(std::process::Stdio::piped());
        if copy {
            command.env("MAILDROP_CRASH_COPY", "1");
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            use std::io::BufRead;
            std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| l.strip_prefix("DELIVERED ").map(str::to_owned))
                .collect::<Vec<String>>()
        });
        std::thread::sleep(std::time::Duration::from_millis(1500));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acknowledged = reader.join().unwrap();
        assert!(
            acknowledged.len() > 5,
            "only {} deliveries",
            acknowledged.len()
        );
        let store = MailStore::open(&dir.0).unwrap();
        for user in ["a@example.org", "b@example.org", "c@example.org"] {
            let maildir = store.maildir(user).unwrap();
            let mut present = std::collections::HashSet::new();
            for sub in ["new", "cur"] {
                for entry in fs::read_dir(maildir.join(sub)).unwrap() {
                    let entry = entry.unwrap();
                    let name = entry.file_name().into_string().unwrap();
                    assert!(is_whole(&entry.path(), &name), "{user}: partial {name}");
                    present.insert(name);
                }
            }
            for unique in &acknowledged {
                assert!(
                    present.contains(unique),
                    "{user}: lost acknowledged {unique}"
                );
            }
            // The counts agree with the files once recalculated.
            fs::remove_file(maildir.join("maildirsize")).unwrap();
            assert_eq!(store.usage(user).unwrap().messages, present.len() as u64);
        }
    }
}

#[test]
fn pop3_scan_reads_a_settled_index_and_notices_changes() {
    let dir = TempDir::new("pop3");
    let store = MailStore::open(&dir.0).unwrap();
    for i in 0..3 {
        deliver(
            &store,
            format!("message {i}").as_bytes(),
            &[("a@example.org", None)],
        )
        .unwrap();
    }
    let maildir = store.maildir("a@example.org").unwrap();
    let plain = Maildrop::scan(&maildir).unwrap();
    settle();
    let folders = MaildirFolders::open(&maildir).unwrap();
    folders.list("INBOX", false).unwrap();
    let indexed = Maildrop::scan(&maildir).unwrap();
    assert_eq!(indexed.messages(), plain.messages());
    // Served from the index: a size changed behind its back is not seen.
    fs::write(plain.messages()[0].path(), b"longer than before").unwrap();
    assert_eq!(Maildrop::scan(&maildir).unwrap().messages()[0].size(), 9);
    // A deletion changes new/: read again.
    indexed.delete(&[1]).unwrap();
    let after = Maildrop::scan(&maildir).unwrap();
    assert_eq!(after.messages().len(), 2);
    assert_eq!(after.messages()[0].size(), 18);
}

/// Many deliveries to one user at once (each with a prepend, so through a
/// staged file in one of the staging shards, and sharing syncs of `new/`):
/// every one returns its own file, listed in `new/` with its content, and
/// nothing is left in staging.
#[test]
fn simultaneous_deliveries_to_one_user_are_all_stored_and_listed() {
    let dir = TempDir::new("burst");
    let store = MailStore::open(&dir.0).unwrap();
    let barrier = Arc::new(std::sync::Barrier::new(32));
    let threads: Vec<_> = (0..32)
        .map(|i| {
            let (store, barrier) = (store.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let mut incoming = store.begin().unwrap();
                incoming
                    .write(format!("Subject: {i}\r\n\r\nbody {i}\r\n").as_bytes())
                    .unwrap();
                barrier.wait();
                let prepend = format!("Received: by test {i}\r\n");
                let mut d = incoming
                    .commit(prepend.as_bytes(), &[("burst@example.org", None)], None)
                    .unwrap();
                (i, d.remove(0))
            })
        })
        .collect();
    let mut names = std::collections::HashSet::new();
    for t in threads {
        let (i, d) = t.join().unwrap();
        let text = fs::read_to_string(&d.path).unwrap();
        assert_eq!(
            text,
            format!("Received: by test {i}\r\nSubject: {i}\r\n\r\nbody {i}\r\n")
        );
        assert!(names.insert(d.unique));
    }
    let inbox = store.maildir("burst@example.org").unwrap();
    assert_eq!(Maildrop::scan(&inbox).unwrap().messages().len(), 32);
    assert_eq!(store.usage("burst@example.org").unwrap().messages, 32);
    assert!(staging_is_empty(&dir.0));
}
