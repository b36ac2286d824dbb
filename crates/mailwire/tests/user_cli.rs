//! `mailwire user add|passwd|delete|list|quota` driven as a person would:
//! the real binary, the password from the environment, from standard input,
//! and from a terminal (a pseudo-terminal made by util-linux `script`).

mod common;

use common::{mailwire, run_to_end, TempDir, LIMIT};
use mail_accounts::{Accounts, DirectoryConfig};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// `mailwire user ARGS --users-file FILE` with the password in the
/// environment (when given): exit code, stdout, stderr.
fn user(dir: &Path, args: &[&str], password: Option<&str>) -> (Option<i32>, String, String) {
    let mut cmd = mailwire(dir);
    cmd.arg("user").args(args).args(["--users-file", "users"]);
    if let Some(password) = password {
        cmd.env("MAILWIRE_PASSWORD", password);
    }
    run_to_end(cmd)
}

/// The same with `input` on standard input (not a terminal).
fn user_with_stdin(dir: &Path, args: &[&str], input: &[u8]) -> (Option<i32>, String, String) {
    let mut cmd = mailwire(dir);
    cmd.arg("user")
        .args(args)
        .args(["--users-file", "users"])
        .stdin(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output = wait(child);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn wait(mut child: std::process::Child) -> std::process::Output {
    let deadline = Instant::now() + LIMIT;
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "mailwire did not finish");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn accounts(dir: &Path) -> Accounts {
    Accounts::load(Some(&dir.join("users")), &DirectoryConfig::default()).unwrap()
}

#[test]
fn add_list_passwd_quota_delete_keep_the_file_hashed_and_private() {
    let dir = TempDir::new("user-cycle");
    let path = dir.0.join("users");
    fs::write(&path, "# the staff\n\n").unwrap();

    let (code, out, err) = user(
        &dir.0,
        &["add", "Ana@EXAMPLE.org", "--quota", "2G"],
        Some("first pw"),
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim(), "added Ana@example.org to users");
    let (code, _, err) = user_with_stdin(&dir.0, &["add", "bo@bücher.example"], b"bo's pw\r\n");
    assert_eq!(code, Some(0), "{err}");

    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("# the staff\n\nAna@example.org:$argon2id$"),
        "{text}"
    );
    assert!(
        text.contains(":2G\nbo@xn--bcher-kva.example:$argon2id$"),
        "{text}"
    );
    assert!(
        !text.contains("first pw") && !text.contains("bo's pw"),
        "{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let dir_accounts = accounts(&dir.0);
    assert!(dir_accounts.verify("Ana@example.org", "first pw"));
    assert!(
        dir_accounts.verify("bo@bücher.example", "bo's pw"),
        "CRLF stripped"
    );

    let (code, out, _) = user(&dir.0, &["list"], None);
    assert_eq!(code, Some(0));
    assert_eq!(out, "Ana@example.org 2G\nbo@xn--bcher-kva.example -");
    let (code, out, _) = user(&dir.0, &["list", "bo@BÜCHER.example"], None);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "bo@xn--bcher-kva.example -")
    );

    let (code, out, err) = user(&dir.0, &["passwd", "Ana@example.org"], Some("second pw"));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "password of Ana@example.org changed in users");
    let (code, out, _) = user(
        &dir.0,
        &["quota", "bo@bücher.example", "--quota", "500M"],
        None,
    );
    assert_eq!(code, Some(0));
    assert_eq!(out, "bo@xn--bcher-kva.example now has quota 500M in users");
    let after = accounts(&dir.0);
    assert!(!after.verify("Ana@example.org", "first pw"));
    assert!(after.verify("Ana@example.org", "second pw"));
    assert_eq!(
        after.user("bo@xn--bcher-kva.example").unwrap().quota,
        Some(500 << 20)
    );

    let (code, out, _) = user(&dir.0, &["delete", "Ana@example.org"], None);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "deleted Ana@example.org from users")
    );
    let (code, _, _) = user(
        &dir.0,
        &["quota", "bo@bücher.example", "--quota", "none"],
        None,
    );
    assert_eq!(code, Some(0));
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("# the staff\n\nbo@xn--bcher-kva.example:$argon2id$"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 3, "{text}");
    // Nothing but the file is left in the directory.
    let names: Vec<_> = fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["users"]);
}

#[test]
fn refusals_say_what_is_wrong_in_plain_words_with_their_exit_codes() {
    let dir = TempDir::new("user-refuse");
    let path = dir.0.join("users");
    assert_eq!(
        user(&dir.0, &["add", "ana@example.org"], Some("pw")).0,
        Some(0)
    );
    let before = fs::read(&path).unwrap();
    let cases: Vec<(Vec<&str>, Option<&str>, i32, &str)> = vec![
        (
            vec!["add", "ana@EXAMPLE.ORG"],
            Some("pw2"),
            1,
            "ana@example.org already has an account in users",
        ),
        (
            vec!["passwd", "bo@example.org"],
            Some("pw2"),
            1,
            "bo@example.org has no account in users",
        ),
        (vec!["delete", "bo@example.org"], None, 1, "has no account"),
        (
            vec!["quota", "bo@example.org", "--quota", "1G"],
            None,
            1,
            "has no account",
        ),
        (vec!["list", "bo@example.org"], None, 1, "has no account"),
        (
            vec!["add", "bo"],
            Some("pw2"),
            2,
            "\"bo\" is not an address",
        ),
        (
            vec!["add", "b o@example.org"],
            Some("pw2"),
            2,
            "is not an address",
        ),
        (
            vec!["add", "bo@example.org", "--quota", "lots"],
            Some("pw2"),
            2,
            "--quota \"lots\" is not a size",
        ),
        (
            vec!["add", "bo@example.org"],
            None,
            2,
            "no password: set MAILWIRE_PASSWORD",
        ),
        (
            vec!["add", "bo@example.org"],
            Some(""),
            2,
            "the password is empty",
        ),
        // There is no flag for the password: it never sits on a command line.
        (
            vec!["add", "bo@example.org", "--password", "pw2"],
            None,
            2,
            "unexpected argument '--password'",
        ),
    ];
    for (args, password, expected_code, expected) in cases {
        let (code, _, err) = user(&dir.0, &args, password);
        assert_eq!(code, Some(expected_code), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(
            fs::read(&path).unwrap(),
            before,
            "{args:?} changed the file"
        );
    }
    // A missing file is only created by `add`.
    let other = TempDir::new("user-missing");
    for args in [vec!["list"], vec!["delete", "ana@example.org"]] {
        let (code, _, err) = user(&other.0, &args, Some("pw"));
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains("the users file users does not exist"), "{err}");
    }
}

#[test]
fn a_file_with_a_plain_password_names_the_line_and_the_fix() {
    let dir = TempDir::new("user-plain");
    fs::write(dir.0.join("users"), "# old style\nalice:hunter2-secret\n").unwrap();
    let (code, _, err) = user(&dir.0, &["list"], None);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("line 2 holds a password in plain text"),
        "{err}"
    );
    assert!(err.contains("mailwire user passwd"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn standard_input_gives_one_line_and_a_long_one_is_refused() {
    let dir = TempDir::new("user-stdin");
    let (code, _, err) = user_with_stdin(
        &dir.0,
        &["add", "ana@example.org"],
        b"one line\nsecond line\n",
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(accounts(&dir.0).verify("ana@example.org", "one line"));
    let long = vec![b'x'; 5000];
    let (code, _, err) = user_with_stdin(&dir.0, &["add", "bo@example.org"], &long);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("longer than 4096 bytes"), "{err}");
    let (code, _, err) = user_with_stdin(&dir.0, &["add", "bo@example.org"], b"\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no password"), "{err}");
}

/// Runs `mailwire user ARGS` on a pseudo-terminal (util-linux `script`),
/// typing `typed`.
fn on_terminal(dir: &Path, args: &str, typed: &str) -> (Option<i32>, String) {
    let binary = env!("CARGO_BIN_EXE_mailwire");
    let mut cmd = Command::new("script");
    cmd.current_dir(dir)
        .args([
            "-qec",
            &format!("{binary} user {args} --users-file users"),
            "/dev/null",
        ])
        .env_remove("MAILWIRE_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .expect("util-linux `script` runs the terminal test: install the bsdutils package");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(typed.as_bytes())
        .unwrap();
    let output = wait(child);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn on_a_terminal_the_password_is_asked_twice() {
    let dir = TempDir::new("user-tty");
    let (code, shown) = on_terminal(&dir.0, "add ana@example.org", "tty secret\ntty secret\n");
    assert_eq!(code, Some(0), "{shown}");
    assert!(
        shown.contains("New password for ana@example.org: "),
        "{shown}"
    );
    assert!(shown.contains("The same password again: "), "{shown}");
    assert!(accounts(&dir.0).verify("ana@example.org", "tty secret"));

    let before = fs::read(dir.0.join("users")).unwrap();
    let (code, shown) = on_terminal(&dir.0, "passwd ana@example.org", "new one\nnew 0ne\n");
    assert_eq!(code, Some(2), "{shown}");
    assert!(
        shown.contains("the two passwords differ; nothing was changed"),
        "{shown}"
    );
    assert_eq!(fs::read(dir.0.join("users")).unwrap(), before);
}

#[test]
fn a_kill_9_at_any_moment_leaves_the_old_file_or_the_new_one() {
    let dir = TempDir::new("user-kill");
    let path = dir.0.join("users");
    assert_eq!(
        user(&dir.0, &["add", "first@example.org"], Some("pw")).0,
        Some(0)
    );
    let mut accounts = 1;
    for i in 0..24u64 {
        let mut cmd = mailwire(&dir.0);
        cmd.args([
            "user",
            "add",
            &format!("u{i}@example.org"),
            "--users-file",
            "users",
        ])
        .env("MAILWIRE_PASSWORD", "pw");
        let mut child = cmd.spawn().unwrap();
        // Spread over the run: start-up, hashing, writing, renaming.
        std::thread::sleep(std::time::Duration::from_millis(i * 4));
        let _ = child.kill();
        let _ = child.wait();
        let file = mail_accounts::UsersFile::read(&path).expect("the file is whole");
        let now = file.entries().count();
        assert!(
            now == accounts || now == accounts + 1,
            "{accounts} then {now}"
        );
        accounts = now;
    }
    eprintln!("{accounts} accounts after 24 kills");
    // And the file still takes a new account.
    assert_eq!(
        user(&dir.0, &["add", "last@example.org"], Some("pw")).0,
        Some(0)
    );
    let file = mail_accounts::UsersFile::read(&path).unwrap();
    assert_eq!(file.entries().count(), accounts + 1);
}
