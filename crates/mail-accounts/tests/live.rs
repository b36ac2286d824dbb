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
