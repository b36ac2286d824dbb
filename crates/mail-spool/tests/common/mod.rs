//! What the spool tests share: a temporary directory and the contract every
//! [`Spool`] backend must keep, written once and run against each backend.
#![allow(dead_code, unreachable_pub)]

use mail_spool::spool::{NewMessage, Outcome, RecipientState, Settlement};
use mail_spool::{Spool, SpoolError, Timestamp};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("mail-spool-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn message(n: usize, recipients: &[&str]) -> NewMessage {
    NewMessage {
        sender: format!("app{n}@sender.example"),
        recipients: recipients.iter().map(|r| r.to_string()).collect(),
        body: format!("Subject: {n}\r\n\r\nbody {n}\r\n").into_bytes(),
        dedup_key: None,
    }
}

const T0: Timestamp = Timestamp(1_800_000_000_000);
const LEASE: Duration = Duration::from_secs(60);

fn at(secs: i64) -> Timestamp {
    Timestamp(T0.0 + secs * 1000)
}

/// The whole contract, on an empty spool.
pub fn contract(spool: &dyn Spool) {
    enqueue_claim_settle(spool);
    leases_expire_and_stale_outcomes_are_ignored(spool);
    dedup_keys_make_enqueue_idempotent(spool);
    admin_operations(spool);
    bad_messages_are_refused(spool);
}

fn state_of(spool: &dyn Spool, id: mail_spool::spool::MessageId) -> Vec<RecipientState> {
    spool
        .show(id)
        .unwrap()
        .recipients
        .iter()
        .map(|r| r.state)
        .collect()
}

fn enqueue_claim_settle(spool: &dyn Spool) {
    let a = spool
        .enqueue(
            &message(1, &["x@a.example", "y@a.example", "z@b.example"]),
            T0,
        )
        .unwrap();
    assert!(!a.duplicate);
    assert_eq!(spool.next_due().unwrap(), Some(T0));
    // Nothing is due before it was queued.
    assert!(spool.claim("w1", at(-1), LEASE, 10).unwrap().is_empty());
    let claimed = spool.claim("w1", T0, LEASE, 10).unwrap();
    assert_eq!(claimed.len(), 1, "one message, its recipients together");
    let c = &claimed[0];
    assert_eq!(c.message, a.id);
    assert_eq!(c.sender, "app1@sender.example");
    assert_eq!(c.recipients.len(), 3);
    assert_eq!(c.recipients[2].domain, "b.example");
    assert_eq!(spool.body(a.id).unwrap(), b"Subject: 1\r\n\r\nbody 1\r\n");
    // Claimed recipients are not claimed twice while the lease holds.
    assert!(spool.claim("w2", at(1), LEASE, 10).unwrap().is_empty());
    assert_eq!(state_of(spool, a.id), vec![RecipientState::InFlight; 3]);
    let r = &c.recipients;
    spool
        .settle(
            &[
                Settlement {
                    recipient: r[0].id,
                    lease: r[0].lease,
                    outcome: Outcome::Delivered {
                        reply: "250 ok".into(),
                        remote_id: Some("Q1".into()),
                    },
                },
                Settlement {
                    recipient: r[1].id,
                    lease: r[1].lease,
                    outcome: Outcome::Failed {
                        reply: "550 5.1.1 no such user".into(),
                    },
                },
                Settlement {
                    recipient: r[2].id,
                    lease: r[2].lease,
                    outcome: Outcome::Deferred {
                        until: at(300),
                        reply: "451 try later".into(),
                        attempted: true,
                    },
                },
            ],
            &[message(99, &["app1@sender.example"])],
            at(2),
        )
        .unwrap();
    let detail = spool.show(a.id).unwrap();
    let states: Vec<_> = detail.recipients.iter().map(|r| r.state).collect();
    assert_eq!(
        states,
        [
            RecipientState::Delivered,
            RecipientState::Failed,
            RecipientState::Deferred
        ]
    );
    assert_eq!(detail.recipients[0].remote_id.as_deref(), Some("Q1"));
    assert_eq!(
        detail.recipients[1].last_reply.as_deref(),
        Some("550 5.1.1 no such user")
    );
    assert_eq!(detail.recipients[2].due, Some(at(300)));
    assert_eq!(detail.recipients[2].failures, 1);
    assert_eq!(detail.summary.counts, [0, 0, 1, 1, 1]);
    // The bounce was queued in the same transaction.
    let bounce = spool.claim("w1", at(3), LEASE, 10).unwrap();
    assert_eq!(bounce.len(), 1);
    assert_eq!(bounce[0].recipients[0].address, "app1@sender.example");
    spool
        .settle(
            &[Settlement {
                recipient: bounce[0].recipients[0].id,
                lease: bounce[0].recipients[0].lease,
                outcome: Outcome::Delivered {
                    reply: "250".into(),
                    remote_id: None,
                },
            }],
            &[],
            at(4),
        )
        .unwrap();
    // The deferred one comes back at its time, with its failure count.
    assert!(spool.claim("w1", at(299), LEASE, 10).unwrap().is_empty());
    let again = spool.claim("w1", at(300), LEASE, 10).unwrap();
    assert_eq!(again[0].recipients.len(), 1);
    assert_eq!(again[0].recipients[0].failures, 1);
    let rr = &again[0].recipients[0];
    spool
        .settle(
            &[Settlement {
                recipient: rr.id,
                lease: rr.lease,
                outcome: Outcome::Delivered {
                    reply: "250".into(),
                    remote_id: None,
                },
            }],
            &[],
            at(301),
        )
        .unwrap();
    assert_eq!(spool.next_due().unwrap(), None);
    assert_eq!(spool.purge_finished().unwrap(), 2);
    assert_eq!(spool.stats().unwrap().messages, 0);
}

fn leases_expire_and_stale_outcomes_are_ignored(spool: &dyn Spool) {
    let m = spool.enqueue(&message(2, &["a@c.example"]), T0).unwrap();
    let first = spool.claim("dead-worker", T0, LEASE, 10).unwrap();
    assert_eq!(first.len(), 1);
    // The worker dies; after the lease another takes it.
    assert!(spool.claim("w2", at(59), LEASE, 10).unwrap().is_empty());
    let second = spool.claim("w2", at(60), LEASE, 10).unwrap();
    assert_eq!(second.len(), 1);
    let (old, new) = (&first[0].recipients[0], &second[0].recipients[0]);
    assert_ne!(old.lease, new.lease);
    // A late deferral from the dead worker's lease changes nothing...
    spool
        .settle(
            &[Settlement {
                recipient: old.id,
                lease: old.lease,
                outcome: Outcome::Deferred {
                    until: at(9999),
                    reply: "late".into(),
                    attempted: true,
                },
            }],
            &[],
            at(61),
        )
        .unwrap();
    assert_eq!(state_of(spool, m.id), [RecipientState::InFlight]);
    // ...but a delivery is a fact, whoever reports it.
    spool
        .settle(
            &[Settlement {
                recipient: old.id,
                lease: old.lease,
                outcome: Outcome::Delivered {
                    reply: "250 late".into(),
                    remote_id: None,
                },
            }],
            &[],
            at(62),
        )
        .unwrap();
    assert_eq!(state_of(spool, m.id), [RecipientState::Delivered]);
    // And the new holder cannot undo it.
    spool
        .settle(
            &[Settlement {
                recipient: new.id,
                lease: new.lease,
                outcome: Outcome::Failed {
                    reply: "550".into(),
                },
            }],
            &[],
            at(63),
        )
        .unwrap();
    assert_eq!(state_of(spool, m.id), [RecipientState::Delivered]);
    // A graceful stop gives its recipients back at once.
    let n = spool.enqueue(&message(3, &["b@c.example"]), T0).unwrap();
    assert_eq!(spool.claim("stopping", at(70), LEASE, 10).unwrap().len(), 1);
    assert_eq!(spool.release("stopping", at(71)).unwrap(), 1);
    assert_eq!(state_of(spool, n.id), [RecipientState::Queued]);
    assert_eq!(spool.claim("w3", at(71), LEASE, 10).unwrap().len(), 1);
    spool.delete(m.id).unwrap();
    spool.delete(n.id).unwrap();
}

fn dedup_keys_make_enqueue_idempotent(spool: &dyn Spool) {
    let mut m = message(4, &["d@d.example"]);
    m.dedup_key = Some("campaign-1/row-7".into());
    let first = spool.enqueue(&m, T0).unwrap();
    let batch = spool
        .enqueue_batch(&[m.clone(), message(5, &["e@d.example"])], T0)
        .unwrap();
    assert_eq!(batch[0].id, first.id);
    assert!(batch[0].duplicate);
    assert!(!batch[1].duplicate);
    assert_eq!(spool.stats().unwrap().messages, 2);
    spool.delete(first.id).unwrap();
    spool.delete(batch[1].id).unwrap();
}

fn admin_operations(spool: &dyn Spool) {
    let ids: Vec<_> = (0..5)
        .map(|n| {
            spool
                .enqueue(&message(10 + n, &["f@e.example"]), T0)
                .unwrap()
                .id
        })
        .collect();
    let page = spool.list(None, 3).unwrap();
    assert_eq!(page.len(), 3);
    assert_eq!(page[0].id, ids[0]);
    let rest = spool.list(Some(page[2].id), 10).unwrap();
    assert_eq!(rest.len(), 2);
    // Defer everything far away, then retry one and then all.
    let claimed = spool.claim("w", T0, LEASE, 100).unwrap();
    let far = Outcome::Deferred {
        until: at(86_400),
        reply: "451".into(),
        attempted: true,
    };
    let settle: Vec<_> = claimed
        .iter()
        .flat_map(|c| c.recipients.iter())
        .map(|r| Settlement {
            recipient: r.id,
            lease: r.lease,
            outcome: far.clone(),
        })
        .collect();
    spool.settle(&settle, &[], at(1)).unwrap();
    assert_eq!(spool.retry(Some(ids[1]), at(2)).unwrap(), 1);
    assert_eq!(spool.claim("w", at(2), LEASE, 100).unwrap().len(), 1);
    assert_eq!(spool.retry(None, at(3)).unwrap(), 4);
    assert_eq!(spool.claim("w", at(3), LEASE, 100).unwrap().len(), 4);
    let stats = spool.stats().unwrap();
    assert_eq!(stats.messages, 5);
    assert_eq!(stats.recipients[RecipientState::InFlight as usize], 5);
    assert_eq!(stats.oldest_waiting, Some(T0));
    let missing = mail_spool::spool::MessageId(i64::MAX - 1);
    assert!(matches!(spool.show(missing), Err(SpoolError::NotFound(_))));
    assert!(matches!(
        spool.delete(missing),
        Err(SpoolError::NotFound(_))
    ));
    assert!(matches!(
        spool.retry(Some(missing), T0),
        Err(SpoolError::NotFound(_))
    ));
    for id in ids {
        spool.delete(id).unwrap();
    }
    assert_eq!(
        spool.stats().unwrap(),
        mail_spool::spool::SpoolStats::default()
    );
}

fn bad_messages_are_refused(spool: &dyn Spool) {
    for bad in [
        message(20, &[]),
        message(21, &["no-domain"]),
        message(22, &["a@b.example\r\nRCPT TO:<x@y>"]),
    ] {
        assert!(
            matches!(spool.enqueue(&bad, T0), Err(SpoolError::InvalidMessage(_))),
            "{bad:?}"
        );
    }
    // A bad message in a batch refuses the batch: nothing half-queued.
    let batch = [message(23, &["ok@f.example"]), message(24, &[])];
    assert!(spool.enqueue_batch(&batch, T0).is_err());
    assert_eq!(spool.stats().unwrap().messages, 0);
}

/// A transport whose every attempt gets `451 4.3.0 Try again later`.
pub struct AlwaysLater;
/// Its worker.
pub struct AlwaysLaterWorker;

impl mail_spool::engine::Transport for AlwaysLater {
    type Worker = AlwaysLaterWorker;
    fn destination(&self, domain: &str) -> String {
        domain.to_owned()
    }
    fn retry_policy(&self) -> mail_spool::schedule::RetryPolicy {
        mail_spool::schedule::RetryPolicy::MX
    }
    fn worker(&self) -> AlwaysLaterWorker {
        AlwaysLaterWorker
    }
}

impl mail_spool::engine::TransportWorker for AlwaysLaterWorker {
    fn attempt(
        &mut self,
        _: &str,
        _: &str,
        recipients: &[String],
        _: &[u8],
    ) -> mail_spool::engine::Attempt {
        mail_spool::engine::Attempt::reply(recipients.len(), 451, "4.3.0 Try again later")
    }
    fn close_idle(&mut self) {}
}

/// A message queued 10 minutes ago that the destination keeps deferring,
/// with warnings after 5 minutes: the first attempt warns its sender once
/// (an RFC 3464 `Action: delayed` report from `<>`); a later attempt does
/// not warn again; a message queued just now is not warned about.
pub fn delay_warning_scenario(open: impl Fn() -> std::sync::Arc<dyn Spool>) {
    use mail_spool::engine::{Engine, EngineConfig};
    use std::sync::Arc;
    let run = || {
        let mut config = EngineConfig::new("warner");
        config.workers = 1;
        config.exit_when_idle = true;
        config.idle_poll = Duration::from_millis(20);
        config.reporting_mta = "mx.sender.example".into();
        config.delay_warning = Some(Duration::from_secs(300));
        Engine::new(open(), config)
            .run(Arc::new(AlwaysLater))
            .unwrap();
    };
    let spool = open();
    let now = Timestamp::now();
    spool
        .enqueue(
            &message(1, &["slow@dest.example", "slower@dest.example"]),
            Timestamp(now.0 - 600_000),
        )
        .unwrap();
    spool
        .enqueue(&message(2, &["new@dest.example"]), now)
        .unwrap();
    run();
    let warnings = |spool: &Arc<dyn Spool>| {
        spool
            .list(None, 100)
            .unwrap()
            .into_iter()
            .filter(|m| m.sender.is_empty())
            .collect::<Vec<_>>()
    };
    let first = warnings(&spool);
    assert_eq!(first.len(), 1, "one warning, for the old message only");
    let body = String::from_utf8(spool.body(first[0].id).unwrap()).unwrap();
    assert!(body.contains("Subject: Delayed Mail (still being retried)\r\n"));
    assert!(body.contains(
        "Final-Recipient: rfc822; slow@dest.example\r\nAction: delayed\r\nStatus: 4.3.0\r\n"
    ));
    assert!(body.contains("Final-Recipient: rfc822; slower@dest.example\r\n"));
    assert!(!body.contains("new@dest.example"));
    assert!(
        body.contains("Subject: 1\r\n"),
        "the original's headers ride along"
    );
    let detail = spool.show(first[0].id).unwrap();
    assert_eq!(detail.recipients.len(), 1);
    assert_eq!(detail.recipients[0].address, "app1@sender.example");
    // Everything comes due again and is deferred again: no second warning
    // (and the warning itself, from <>, is never warned about).
    spool.retry(None, Timestamp::now()).unwrap();
    run();
    assert_eq!(warnings(&spool).len(), 1);
}
