//! The directory as the server uses it: where addresses go, who may log
//! in and send as whom, loading from a users file and configuration.

use mail_accounts::{
    Accounts, AccountsError, DirectoryConfig, HashedPassword, LocalUser, Resolution, UsersFile,
};
use std::collections::BTreeMap;
use std::sync::Arc;

fn users(lines: &[(&str, &str, Option<u64>)]) -> UsersFile {
    let mut file = UsersFile::new();
    for (address, password, quota) in lines {
        file.add(address, HashedPassword::new(password).unwrap(), *quota)
            .unwrap();
    }
    file
}

fn config(toml_like: &[(&str, &[&str])], catch_all: &[(&str, &str)]) -> DirectoryConfig {
    DirectoryConfig {
        domains: vec!["example.org".into(), "Bücher.example".into()],
        aliases: toml_like
            .iter()
            .map(|(alias, targets)| {
                (
                    (*alias).to_owned(),
                    targets.iter().map(|t| (*t).to_owned()).collect(),
                )
            })
            .collect(),
        catch_all: catch_all
            .iter()
            .map(|(d, t)| ((*d).to_owned(), (*t).to_owned()))
            .collect(),
        default_quota: Some("1G".into()),
    }
}

fn user(address: &str, quota: u64) -> LocalUser {
    LocalUser {
        address: address.to_owned(),
        quota: Some(quota),
    }
}

fn directory() -> Accounts {
    let users = users(&[
        ("ana@example.org", "ana-pw", Some(2 << 30)),
        ("bo@example.org", "bo-pw", None),
        ("Cy@bücher.example", "cy-pw", None),
        ("dee@example.net", "dee-pw", None),
    ]);
    let config = config(
        &[
            (
                "team@example.org",
                &["ana@example.org", "bo@example.org", "ana@example.org"],
            ),
            (
                "all@example.org",
                &["team@example.org", "cy@xn--bcher-kva.example"],
            ),
            (
                "fwd@example.org",
                &["partner@elsewhere.example", "bo+fwd@example.org"],
            ),
            ("away@example.org", &["ana@elsewhere.example"]),
        ],
        &[("xn--bcher-kva.example", "Cy@bücher.example")],
    );
    // `cy@` is not `Cy@`: the alias above must name the account exactly.
    let config = DirectoryConfig {
        aliases: config
            .aliases
            .into_iter()
            .map(|(alias, targets)| {
                let targets = targets
                    .into_iter()
                    .map(|t| t.replace("cy@xn", "Cy@xn"))
                    .collect();
                (alias, targets)
            })
            .collect(),
        ..config
    };
    Accounts::from_users(&users, &config).unwrap()
}

#[test]
fn accounts_aliases_sub_addresses_and_catch_all_resolve() {
    let dir = directory();
    let ana = user("ana@example.org", 2 << 30);
    let bo = user("bo@example.org", 1 << 30);
    let cy = user("Cy@xn--bcher-kva.example", 1 << 30);
    // An account; the domain case-blind and in either IDNA form.
    assert_eq!(
        dir.resolve("ana@EXAMPLE.org"),
        Resolution::Local(vec![ana.clone()])
    );
    assert_eq!(
        dir.resolve("Cy@BÜCHER.example"),
        Resolution::Local(vec![cy.clone()])
    );
    assert_eq!(
        dir.resolve("Cy@xn--bcher-kva.example"),
        Resolution::Local(vec![cy.clone()])
    );
    // The local part is exact: `ANA@` is another (unknown) user.
    assert_eq!(dir.resolve("ANA@example.org"), Resolution::UnknownUser);
    // Sub-addressing reaches the base account or alias.
    assert_eq!(
        dir.resolve("ana+lists@example.org"),
        Resolution::Local(vec![ana.clone()])
    );
    assert_eq!(
        dir.resolve("team+x@example.org"),
        Resolution::Local(vec![ana.clone(), bo.clone()])
    );
    // One alias to several users, nested aliases flattened, no repeats.
    assert_eq!(
        dir.resolve("all@example.org"),
        Resolution::Local(vec![ana.clone(), bo.clone(), cy.clone()])
    );
    // An alias with targets elsewhere.
    assert_eq!(
        dir.resolve("fwd@example.org"),
        Resolution::Forward {
            local: vec![bo.clone()],
            remote: vec!["partner@elsewhere.example".into()],
        }
    );
    assert_eq!(
        dir.resolve("away@example.org"),
        Resolution::Forward {
            local: vec![],
            remote: vec!["ana@elsewhere.example".into()],
        }
    );
    // Catch-all only where nothing else matches.
    assert_eq!(
        dir.resolve("anything@bücher.example"),
        Resolution::Local(vec![cy])
    );
    assert_eq!(dir.resolve("zed@example.org"), Resolution::UnknownUser);
    assert_eq!(dir.resolve("+x@example.org"), Resolution::UnknownUser);
    // The users' domains are local too.
    assert_eq!(
        dir.resolve("dee@Example.NET"),
        Resolution::Local(vec![user("dee@example.net", 1 << 30)])
    );
    for other in [
        "ana@elsewhere.example",
        "no-domain",
        "",
        "a@b@",
        "ana@example.org.evil",
    ] {
        assert_eq!(dir.resolve(other), Resolution::NotLocal, "{other:?}");
    }
    assert!(dir.is_local_domain("EXAMPLE.ORG"));
    assert!(dir.is_local_domain("bücher.example"));
    assert!(!dir.is_local_domain("elsewhere.example"));
    assert_eq!(
        dir.domains().collect::<Vec<_>>(),
        ["example.net", "example.org", "xn--bcher-kva.example"]
    );
    assert_eq!(
        dir.users().collect::<Vec<_>>(),
        [
            "Cy@xn--bcher-kva.example",
            "ana@example.org",
            "bo@example.org",
            "dee@example.net"
        ]
    );
    assert_eq!(dir.user("ana@example.ORG"), Some(ana));
    assert_eq!(dir.user("team@example.org"), None);
}

#[test]
fn users_may_send_as_themselves_and_their_aliases_only() {
    let dir = directory();
    assert!(dir.may_send_as("ana@example.org", "ana@Example.org"));
    assert!(dir.may_send_as("ana@example.org", "ana+news@example.org"));
    assert!(dir.may_send_as("ana@example.org", "team@example.org"));
    assert!(
        dir.may_send_as("ana@example.org", "all+x@example.org"),
        "nested alias"
    );
    assert!(
        dir.may_send_as("bo@example.org", "fwd@example.org"),
        "through bo+fwd"
    );
    assert!(!dir.may_send_as("ana@example.org", "bo@example.org"));
    assert!(!dir.may_send_as("ana@example.org", "fwd@example.org"));
    assert!(
        !dir.may_send_as("ana@example.org", "away@example.org"),
        "leads elsewhere only"
    );
    assert!(
        !dir.may_send_as("ana@example.org", "anything@bücher.example"),
        "catch-all"
    );
    assert!(!dir.may_send_as("ana@example.org", ""));
    assert!(!dir.may_send_as("nobody@example.org", "nobody@example.org"));
}

#[test]
fn verify_checks_argon2_and_unknown_users_cost_a_verification_too() {
    let dir = directory();
    assert!(dir.verify("ana@example.org", "ana-pw"));
    assert!(dir.verify("ana@EXAMPLE.ORG", "ana-pw"));
    assert!(dir.verify("Cy@bücher.example", "cy-pw"));
    assert!(!dir.verify("ana@example.org", "bo-pw"));
    assert!(!dir.verify("ana@example.org", ""));
    assert!(!dir.verify("ANA@example.org", "ana-pw"));
    assert!(
        !dir.verify("team@example.org", "ana-pw"),
        "an alias cannot log in"
    );
    let before = dir.verifications();
    assert!(!dir.verify("nobody@example.org", "ana-pw"));
    assert!(!dir.verify("not an address", "x"));
    assert_eq!(
        dir.verifications(),
        before + 2,
        "argon2 ran for unknown users"
    );
    // The Debug output names accounts, never hashes.
    let shown = format!("{dir:?}");
    assert!(
        shown.contains("ana@example.org") && !shown.contains("argon2"),
        "{shown}"
    );
}

#[test]
fn a_flood_of_verifications_runs_at_most_the_bound_at_once() {
    let dir = Arc::new(directory().with_max_concurrent_verifications(2));
    assert_eq!(dir.max_concurrent_verifications(), 2);
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let dir = Arc::clone(&dir);
            std::thread::spawn(move || {
                let user = if i % 2 == 0 {
                    "ana@example.org"
                } else {
                    "ghost@example.org"
                };
                dir.verify(user, "guess")
            })
        })
        .collect();
    for thread in threads {
        assert!(!thread.join().unwrap());
    }
    assert_eq!(dir.verifications(), 16);
    assert_eq!(dir.peak_concurrent_verifications(), 2);
    let default = directory();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    assert_eq!(default.max_concurrent_verifications(), 2 * cores);
}

#[test]
fn bad_configurations_are_typed_errors() {
    let file = users(&[("ana@example.org", "pw", None)]);
    type Expected = fn(&AccountsError) -> bool;
    let cases: Vec<(DirectoryConfig, Expected)> = vec![
        (
            DirectoryConfig {
                domains: vec!["bad domain".into()],
                ..Default::default()
            },
            |e| matches!(e, AccountsError::BadDomain(_)),
        ),
        (
            DirectoryConfig {
                default_quota: Some("lots".into()),
                ..Default::default()
            },
            |e| matches!(e, AccountsError::BadQuota(_)),
        ),
        (
            config(&[("ana@example.org", &["ana@example.org"])], &[]),
            |e| matches!(e, AccountsError::AliasShadowsUser(_)),
        ),
        (
            config(
                &[
                    ("a@example.org", &["b@example.org"]),
                    ("b@example.org", &["a@example.org"]),
                ],
                &[],
            ),
            |e| matches!(e, AccountsError::AliasLoop(_)),
        ),
        (
            config(&[("a@example.org", &["typo@example.org"])], &[]),
            |e| matches!(e, AccountsError::UnknownTarget { .. }),
        ),
        (config(&[("a@example.org", &[])], &[]), |e| {
            matches!(e, AccountsError::EmptyAlias(_))
        }),
        (
            config(&[("a@example.org", &["not an address"])], &[]),
            |e| matches!(e, AccountsError::BadAddress(_)),
        ),
        (config(&[], &[("example.org", "typo@example.org")]), |e| {
            matches!(e, AccountsError::UnknownTarget { .. })
        }),
    ];
    for (config, expected) in cases {
        let error = Accounts::from_users(&file, &config).unwrap_err();
        assert!(expected(&error), "{config:?}: {error}");
    }
    // Nine nested aliases are too deep; eight are fine.
    let chain = |n: usize| {
        let mut aliases = BTreeMap::new();
        for i in 0..n {
            let next = if i + 1 == n {
                "ana@example.org".to_owned()
            } else {
                format!("a{}@example.org", i + 1)
            };
            aliases.insert(format!("a{i}@example.org"), vec![next]);
        }
        DirectoryConfig {
            aliases,
            ..Default::default()
        }
    };
    assert!(Accounts::from_users(&file, &chain(8)).is_ok());
    assert!(matches!(
        Accounts::from_users(&file, &chain(9)),
        Err(AccountsError::AliasLoop(_))
    ));
}

#[test]
fn load_and_reload_read_the_users_file() {
    let dir = std::env::temp_dir().join(format!("mail-accounts-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("users");
    users(&[("ana@example.org", "one", None)])
        .write(&path)
        .unwrap();
    let config = DirectoryConfig {
        domains: vec!["example.org".into()],
        ..Default::default()
    };
    let first = Accounts::load(Some(&path), &config).unwrap();
    assert!(first.verify("ana@example.org", "one"));

    let mut file = UsersFile::read(&path).unwrap();
    file.set_password("ana@example.org", HashedPassword::new("two").unwrap())
        .unwrap();
    file.add(
        "bo@example.org",
        HashedPassword::new("three").unwrap(),
        None,
    )
    .unwrap();
    file.write(&path).unwrap();
    let second = first.reload().unwrap();
    assert!(!second.verify("ana@example.org", "one"));
    assert!(second.verify("ana@example.org", "two"));
    assert!(second.verify("bo@example.org", "three"));
    assert!(
        first.verify("ana@example.org", "one"),
        "the old directory is unchanged"
    );

    // No users file: no accounts, domains from the configuration.
    let empty = Accounts::load(None, &config).unwrap();
    assert_eq!(empty.users().count(), 0);
    assert!(!empty.verify("ana@example.org", "one"));
    assert_eq!(empty.resolve("ana@example.org"), Resolution::UnknownUser);

    // A plain password in the file is a typed error naming the line.
    std::fs::write(&path, "# old format\nana@example.org:hunter2\n").unwrap();
    let error = Accounts::load(Some(&path), &config).unwrap_err();
    assert!(error.to_string().contains("line 2"), "{error}");
    assert!(
        error.to_string().contains("mailwire user passwd"),
        "{error}"
    );
    assert!(!format!("{error} {error:?}").contains("hunter2"));
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(
        Accounts::load(Some(&path), &config),
        Err(AccountsError::UsersFile(_))
    ));
}
