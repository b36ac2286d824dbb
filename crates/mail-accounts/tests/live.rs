//! A running server's directory follows its users file: added, changed
//! and deleted users take effect without a restart, and a broken file
//! keeps the last good directory.

use mail_accounts::{DirectoryConfig, HashedPassword, LiveAccounts, UsersFile};
use std::path::PathBuf;
use std::time::Duration;

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let path =
            std::env::temp_dir().join(format!("mail-accounts-live-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn add(path: &std::path::Path, address: &str, password: &str, quota: Option<u64>) {
    let mut file = if path.exists() {
        UsersFile::read(path).unwrap()
    } else {
        UsersFile::new()
    };
    file.add(address, HashedPassword::new(password).unwrap(), quota)
        .unwrap();
    file.write(path).unwrap();
}

fn config() -> DirectoryConfig {
    DirectoryConfig {
        domains: vec!["example.org".into()],
        ..DirectoryConfig::default()
    }
}

#[test]
fn a_user_added_to_the_file_can_log_in_without_a_restart() {
    let dir = Dir::new("add");
    let users = dir.0.join("users");
    add(&users, "ana@example.org", "ana-pw", None);
    let live = LiveAccounts::load(Some(&users), &config())
        .unwrap()
        .with_check_interval(Duration::ZERO);
    assert!(live.current().verify("ana@example.org", "ana-pw"));
    assert!(!live.current().verify("bo@example.org", "bo-pw"));
    assert!(live.current().user("bo@example.org").is_none());

    add(&users, "bo@example.org", "bo-pw", Some(1 << 20));
    let now = live.current();
    assert!(now.verify("bo@example.org", "bo-pw"));
    assert_eq!(now.user("bo@example.org").unwrap().quota, Some(1 << 20));
    assert!(now.verify("ana@example.org", "ana-pw"));
    assert_eq!(live.last_error(), None);
}

#[test]
fn a_deleted_user_and_a_changed_password_take_effect() {
    let dir = Dir::new("change");
    let users = dir.0.join("users");
    add(&users, "ana@example.org", "old-pw", None);
    add(&users, "bo@example.org", "bo-pw", None);
    let live = LiveAccounts::load(Some(&users), &config())
        .unwrap()
        .with_check_interval(Duration::ZERO);
    assert!(live.current().verify("ana@example.org", "old-pw"));

    let mut file = UsersFile::read(&users).unwrap();
    file.set_password("ana@example.org", HashedPassword::new("new-pw").unwrap())
        .unwrap();
    file.remove("bo@example.org").unwrap();
    file.write(&users).unwrap();

    let now = live.current();
    assert!(!now.verify("ana@example.org", "old-pw"));
    assert!(now.verify("ana@example.org", "new-pw"));
    assert!(now.user("bo@example.org").is_none());
}

#[test]
fn a_broken_or_missing_file_keeps_the_last_good_users() {
    let dir = Dir::new("broken");
    let users = dir.0.join("users");
    add(&users, "ana@example.org", "ana-pw", None);
    let live = LiveAccounts::load(Some(&users), &config())
        .unwrap()
        .with_check_interval(Duration::ZERO);

    std::fs::write(&users, "this line is not a user\n").unwrap();
    assert!(live.current().verify("ana@example.org", "ana-pw"));
    let error = live.last_error().expect("the broken file is reported");
    assert!(error.contains("line 1"), "{error}");
    assert!(!error.contains("this line is not a user"), "{error}");

    std::fs::remove_file(&users).unwrap();
    assert!(live.current().verify("ana@example.org", "ana-pw"));
    assert!(live.last_error().unwrap().contains("gone"));

    add(&users, "cy@example.org", "cy-pw", None);
    let now = live.current();
    assert!(now.verify("cy@example.org", "cy-pw"));
    assert!(!now.verify("ana@example.org", "ana-pw"));
    assert_eq!(live.last_error(), None);
}

#[test]
fn the_file_is_looked_at_once_per_interval() {
    let dir = Dir::new("interval");
    let users = dir.0.join("users");
    add(&users, "ana@example.org", "ana-pw", None);
    let live = LiveAccounts::load(Some(&users), &config())
        .unwrap()
        .with_check_interval(Duration::from_secs(3600));
    // The first call looks (nothing changed); later ones within the hour
    // do not, so a change is not seen until `check` is called.
    assert!(live.current().user("bo@example.org").is_none());
    add(&users, "bo@example.org", "bo-pw", None);
    assert!(live.current().user("bo@example.org").is_none());
    assert!(live.check());
    assert!(live.current().user("bo@example.org").is_some());
    assert!(!live.check(), "nothing changed since");
}

/// Pauses the thread that logs "users file reloaded" (the moment a reload
/// has read its version and is about to take it) until told to go on.
struct PauseAtReload {
    reached: std::sync::Mutex<std::sync::mpsc::Sender<()>>,
    go: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl tracing::Subscriber for PauseAtReload {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        if message.0.contains("users file reloaded") {
            self.reached.lock().unwrap().send(()).unwrap();
            self.go.lock().unwrap().recv().unwrap();
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Two reloads at once (one stalled after reading its version, the other
/// reading a newer one meanwhile): the newer directory stays, never
/// replaced by the older one when the stalled reload goes on (it would
/// stay until the file changed again).
#[test]
fn a_slow_reload_of_an_older_version_never_replaces_a_newer_one() {
    use std::sync::{mpsc, Arc, Mutex};
    let dir = Dir::new("race");
    let users = dir.0.join("users");
    add(&users, "ana@example.org", "ana-pw", None);
    let live = Arc::new(LiveAccounts::load(Some(&users), &config()).unwrap());
    add(&users, "bo@example.org", "bo-pw", None);

    let (reached_tx, reached) = mpsc::channel();
    let (go, go_rx) = mpsc::channel();
    let pause = PauseAtReload {
        reached: Mutex::new(reached_tx),
        go: Mutex::new(go_rx),
    };
    let slow = {
        let live = Arc::clone(&live);
        std::thread::spawn(move || tracing::subscriber::with_default(pause, || live.check()))
    };
    // The slow reload has read the version with bo and is about to take it.
    reached.recv_timeout(Duration::from_secs(10)).unwrap();
    add(&users, "cy@example.org", "cy-pw", None);
    let fast = {
        let live = Arc::clone(&live);
        std::thread::spawn(move || live.check())
    };
    // Time for the second reload to finish, or to wait its turn.
    std::thread::sleep(Duration::from_millis(300));
    go.send(()).unwrap();
    assert!(slow.join().unwrap());
    fast.join().unwrap();
    live.check();
    let now = live.current();
    assert!(
        now.user("cy@example.org").is_some(),
        "the newest users file (with cy) was replaced by an older one"
    );
    assert!(now.user("bo@example.org").is_some());
}

/// A users file that changes while it is read (written in place: here a
/// FIFO, whose reader gets only what the writer wrote) is not taken: the
/// directory keeps every user until a version reads whole.
#[cfg(unix)]
#[test]
fn a_file_that_changes_while_it_is_read_is_not_taken() {
    use std::io::Write;
    let dir = Dir::new("in-place");
    let users = dir.0.join("users");
    add(&users, "ana@example.org", "ana-pw", None);
    add(&users, "bo@example.org", "bo-pw", None);
    // Looked at only when asked (`check`), never by `current`.
    let live = LiveAccounts::load(Some(&users), &config())
        .unwrap()
        .with_check_interval(Duration::from_secs(3600));
    assert!(live.current().user("bo@example.org").is_some());
    let live = std::sync::Arc::new(live);
    // What a half-written file holds: ana only.
    let partial = dir.0.join("partial");
    add(&partial, "ana@example.org", "ana-pw", None);
    let partial = std::fs::read(&partial).unwrap();

    let fifo = dir.0.join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo (coreutils) runs");
    assert!(made.success());
    std::fs::rename(&fifo, &users).unwrap();
    let reader = {
        let live = std::sync::Arc::clone(&live);
        std::thread::spawn(move || live.check())
    };
    // Later than the FIFO's creation by more than the clock's granularity.
    std::thread::sleep(Duration::from_millis(50));
    let mut writer = std::fs::OpenOptions::new()
        .write(true)
        .open(&users)
        .unwrap();
    writer.write_all(&partial).unwrap();
    drop(writer);
    assert!(
        !reader.join().unwrap(),
        "a file read while written was taken"
    );
    assert!(
        live.current().user("bo@example.org").is_some(),
        "bo was lost to a half-written users file"
    );
}
