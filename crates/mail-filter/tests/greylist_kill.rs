//! The SQLite greylist store under `kill -9`: every decision the writer
//! reported (after `check` returned) is still there when the store is
//! opened again.

use mail_filter::greylist::{Decision, Greylist, GreylistConfig};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

const CHILD: &str = "MAILWIRE_GREYLIST_KILL_CHILD";

fn config(path: &std::path::Path) -> GreylistConfig {
    GreylistConfig {
        enabled: true,
        database: Some(path.to_owned()),
        ..GreylistConfig::default()
    }
}

fn t0() -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

#[test]
fn first_attempts_survive_kill_9() {
    if let Ok(path) = std::env::var(CHILD) {
        // The writer: defers new triplets as fast as it can, reporting each
        // one after the store returned.
        let greylist = Greylist::new(config(path.as_ref())).unwrap();
        for i in 0u32.. {
            let decision = greylist
                .check(
                    [192, 0, 2, 1].into(),
                    &format!("s{i}@example.com"),
                    "r@example.org",
                    t0(),
                )
                .unwrap();
            assert!(matches!(decision, Decision::Defer { .. }));
            println!("{i}");
        }
        return;
    }
    let dir = std::env::temp_dir().join(format!("mf-grey-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("greylist.sqlite");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "first_attempts_survive_kill_9",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reported = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Ok(i) = line.trim().parse::<u32>() {
            reported.push(i);
            if reported.len() == 200 {
                break;
            }
        }
    }
    // SIGKILL mid-work: the writer is still writing.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(reported.len(), 200, "the writer stopped early");
    let greylist = Greylist::new(config(&db)).unwrap();
    assert!(greylist.len().unwrap() >= 200);
    for i in reported {
        let decision = greylist
            .check(
                [192, 0, 2, 1].into(),
                &format!("s{i}@example.com"),
                "r@example.org",
                t0() + Duration::from_secs(301),
            )
            .unwrap();
        assert_eq!(decision, Decision::Pass, "triplet {i} was lost");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
