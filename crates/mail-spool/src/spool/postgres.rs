//! The shared spool on PostgreSQL: any number of `mailwire deliver`
//! processes on any number of machines take work from one queue.
//!
//! - Claims use `FOR UPDATE SKIP LOCKED`, so workers never wait on each
//!   other's rows and never take the same recipient twice while a lease
//!   holds; an expired lease makes a recipient due again, as in SQLite.
//! - Every enqueue and every retry sends `NOTIFY mailwire_spool`; idle
//!   workers `LISTEN` and wake at once instead of polling.
//! - An enqueue returns after `COMMIT`, which with PostgreSQL's default
//!   `synchronous_commit = on` means the WAL is flushed to disk.

use super::types::*;
use super::Spool;
use crate::schedule::{Pacer, RateLimits};
use crate::time::Timestamp;
use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls, Transaction};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mailwire_messages (
    id BIGSERIAL PRIMARY KEY,
    sender TEXT NOT NULL,
    queued_at BIGINT NOT NULL,
    size BIGINT NOT NULL,
    dedup_key TEXT UNIQUE,
    body BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS mailwire_recipients (
    id BIGSERIAL PRIMARY KEY,
    message_id BIGINT NOT NULL REFERENCES mailwire_messages(id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    domain TEXT NOT NULL,
    state SMALLINT NOT NULL,
    due BIGINT,
    failures INTEGER NOT NULL DEFAULT 0,
    lease BIGINT NOT NULL DEFAULT 0,
    owner TEXT,
    last_reply TEXT,
    remote_id TEXT,
    updated BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS mailwire_recipients_due ON mailwire_recipients(due, message_id) WHERE due IS NOT NULL;
CREATE INDEX IF NOT EXISTS mailwire_recipients_message ON mailwire_recipients(message_id);
CREATE INDEX IF NOT EXISTS mailwire_recipients_owner ON mailwire_recipients(owner) WHERE owner IS NOT NULL;
CREATE TABLE IF NOT EXISTS mailwire_pacing (
    destination TEXT PRIMARY KEY,
    limits TEXT NOT NULL,
    state TEXT NOT NULL
);
";

const CHANNEL: &str = "mailwire_spool";

/// The PostgreSQL spool. One connection for work, one for `LISTEN`.
pub struct PostgresSpool {
    client: Mutex<Client>,
    listener: Mutex<Option<Client>>,
    url: String,
}

impl std::fmt::Debug for PostgresSpool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: only say which backend this is.
        f.debug_struct("PostgresSpool").finish_non_exhaustive()
    }
}

fn pg_error(e: postgres::Error) -> SpoolError {
    let text = e.to_string();
    if e.is_closed() {
        return SpoolError::Unavailable(format!("the database connection is closed: {text}"));
    }
    match e.code() {
        Some(c)
            if *c == SqlState::DISK_FULL
                || *c == SqlState::OUT_OF_MEMORY
                || *c == SqlState::INSUFFICIENT_RESOURCES =>
        {
            SpoolError::Full(text)
        }
        Some(c) if *c == SqlState::DATA_CORRUPTED || *c == SqlState::INDEX_CORRUPTED => {
            SpoolError::Corrupt(text)
        }
        Some(c)
            if *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
                || *c == SqlState::CONNECTION_FAILURE
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            SpoolError::Unavailable(text)
        }
        Some(_) => SpoolError::Database(text),
        // No SQL state: the socket, or a value that does not convert.
        None if text.contains("error deserializing") => SpoolError::Corrupt(text),
        None => SpoolError::Unavailable(text),
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl PostgresSpool {
    /// Connects to `url` (`postgres://user@host:port/db`) and creates the
    /// tables when missing.
    pub fn connect(url: &str) -> Result<PostgresSpool, SpoolError> {
        let mut client = Client::connect(url, NoTls).map_err(pg_error)?;
        client.batch_execute(SCHEMA).map_err(pg_error)?;
        Ok(PostgresSpool {
            client: Mutex::new(client),
            listener: Mutex::new(None),
            url: url.to_owned(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in a transaction. `durable` ones (enqueues, settlements
    /// that queue bounces) wait for the WAL flush at commit; the others
    /// (claims, outcomes) do not, since losing them to a crash of the
    /// server only makes a recipient due again: a duplicate, never a loss.
    fn write<T>(
        &self,
        durable: bool,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, SpoolError>,
    ) -> Result<T, SpoolError> {
        let mut client = self.lock();
        if client.is_closed() {
            // The server went away and came back: one new connection.
            *client = Client::connect(&self.url, NoTls).map_err(pg_error)?;
        }
        let result = (|| {
            let mut tx = client.transaction().map_err(pg_error)?;
            if !durable {
                tx.batch_execute("SET LOCAL synchronous_commit TO OFF")
                    .map_err(pg_error)?;
            }
            let value = f(&mut tx)?;
            tx.commit().map_err(pg_error)?;
            Ok(value)
        })();
        if let Err(SpoolError::Unavailable(_)) = &result {
            // The connection may be dead without knowing it yet: the next
            // call gets a fresh one when the server answers again.
            if let Ok(fresh) = Client::connect(&self.url, NoTls) {
                *client = fresh;
            }
        }
        result
    }
}

fn insert(
    tx: &mut Transaction<'_>,
    messages: &[NewMessage],
    now: Timestamp,
) -> Result<Vec<Enqueued>, SpoolError> {
    let mut out = Vec::with_capacity(messages.len());
    let insert_message = tx
        .prepare(
            "INSERT INTO mailwire_messages (sender, queued_at, size, dedup_key, body) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
        )
        .map_err(pg_error)?;
    let insert_rcpt = tx
        .prepare(
            "INSERT INTO mailwire_recipients (message_id, address, domain, state, due, updated) VALUES ($1, $2, $3, 0, $4, $4)",
        )
        .map_err(pg_error)?;
    for m in messages {
        let size = i64::try_from(m.body.len()).unwrap_or(i64::MAX);
        let row = tx
            .query_opt(
                &insert_message,
                &[&m.sender, &now.0, &size, &m.dedup_key, &m.body],
            )
            .map_err(pg_error)?;
        let Some(row) = row else {
            let id: i64 = tx
                .query_one(
                    "SELECT id FROM mailwire_messages WHERE dedup_key = $1",
                    &[&m.dedup_key],
                )
                .map_err(pg_error)?
                .try_get(0)
                .map_err(pg_error)?;
            out.push(Enqueued {
                id: MessageId(id),
                duplicate: true,
            });
            continue;
        };
        let id: i64 = row.try_get(0).map_err(pg_error)?;
        for address in &m.recipients {
            let domain = domain_of(address).unwrap_or_default();
            tx.execute(&insert_rcpt, &[&id, address, &domain, &now.0])
                .map_err(pg_error)?;
        }
        out.push(Enqueued {
            id: MessageId(id),
            duplicate: false,
        });
    }
    if out.iter().any(|e| !e.duplicate) {
        tx.batch_execute(&format!("NOTIFY {CHANNEL}"))
            .map_err(pg_error)?;
    }
    Ok(out)
}

fn counts_of(client: &mut impl postgres::GenericClient, id: i64) -> Result<[u64; 5], SpoolError> {
    let mut counts = [0u64; 5];
    for row in client
        .query(
            "SELECT state, count(*) FROM mailwire_recipients WHERE message_id = $1 GROUP BY state",
            &[&id],
        )
        .map_err(pg_error)?
    {
        let state: i16 = row.try_get(0).map_err(pg_error)?;
        let n: i64 = row.try_get(1).map_err(pg_error)?;
        let state = RecipientState::from_code(i64::from(state))?;
        if let Some(slot) = RecipientState::ALL.iter().position(|s| *s == state) {
            counts[slot] = count(n);
        }
    }
    Ok(counts)
}

impl Spool for PostgresSpool {
    fn enqueue_batch(
        &self,
        messages: &[NewMessage],
        now: Timestamp,
    ) -> Result<Vec<Enqueued>, SpoolError> {
        for m in messages {
            m.validate()?;
        }
        self.write(true, |tx| insert(tx, messages, now))
    }

    fn claim(
        &self,
        owner: &str,
        now: Timestamp,
        lease: Duration,
        max_recipients: usize,
    ) -> Result<Vec<Claimed>, SpoolError> {
        let until = (now + lease).0;
        let limit = i64::try_from(max_recipients).unwrap_or(i64::MAX);
        self.write(false, |tx| {
            let rows = tx
                .query(
                    "WITH due AS (SELECT id, updated FROM mailwire_recipients WHERE due IS NOT NULL AND due <= $1 \
                                  ORDER BY due, message_id LIMIT $2 FOR UPDATE SKIP LOCKED) \
                     UPDATE mailwire_recipients r SET state = 1, due = $3, lease = r.lease + 1, owner = $4, updated = $1 \
                     FROM due, mailwire_messages m WHERE r.id = due.id AND m.id = r.message_id \
                     RETURNING r.id, r.message_id, r.address, r.domain, r.failures, r.lease, m.sender, m.queued_at, due.updated",
                    &[&now.0, &limit, &until, &owner],
                )
                .map_err(pg_error)?;
            let mut by_message: BTreeMap<i64, Claimed> = BTreeMap::new();
            for row in rows {
                let id: i64 = row.try_get(0).map_err(pg_error)?;
                let message: i64 = row.try_get(1).map_err(pg_error)?;
                let failures: i32 = row.try_get(4).map_err(pg_error)?;
                let recipient = ClaimedRecipient {
                    id: RecipientId(id),
                    address: row.try_get(2).map_err(pg_error)?,
                    domain: row.try_get(3).map_err(pg_error)?,
                    failures: u32::try_from(failures).unwrap_or(0),
                    lease: row.try_get(5).map_err(pg_error)?,
                    since: Timestamp(row.try_get(8).map_err(pg_error)?),
                };
                let entry = match by_message.entry(message) {
                    std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::btree_map::Entry::Vacant(v) => v.insert(Claimed {
                        message: MessageId(message),
                        sender: row.try_get(6).map_err(pg_error)?,
                        queued_at: Timestamp(row.try_get(7).map_err(pg_error)?),
                        recipients: Vec::new(),
                    }),
                };
                entry.recipients.push(recipient);
            }
            let mut claimed: Vec<Claimed> = by_message.into_values().collect();
            for c in &mut claimed {
                c.recipients.sort_by_key(|r| r.id);
            }
            Ok(claimed)
        })
    }

    fn body(&self, message: MessageId) -> Result<Vec<u8>, SpoolError> {
        let mut client = self.lock();
        let row = client
            .query_opt(
                "SELECT body FROM mailwire_messages WHERE id = $1",
                &[&message.0],
            )
            .map_err(pg_error)?
            .ok_or(SpoolError::NotFound(message))?;
        row.try_get(0).map_err(pg_error)
    }

    fn settle(
        &self,
        settlements: &[Settlement],
        bounces: &[NewMessage],
        now: Timestamp,
    ) -> Result<(), SpoolError> {
        self.write(!bounces.is_empty(), |tx| {
            let delivered = tx
                .prepare(
                    "UPDATE mailwire_recipients SET state = 3, due = NULL, owner = NULL, last_reply = $2, remote_id = $3, updated = $4 \
                     WHERE id = $1 AND state NOT IN (3, 4)",
                )
                .map_err(pg_error)?;
            let deferred = tx
                .prepare(
                    "UPDATE mailwire_recipients SET state = 2, due = $3, owner = NULL, last_reply = $4, failures = failures + $5, updated = $6 \
                     WHERE id = $1 AND lease = $2 AND state = 1",
                )
                .map_err(pg_error)?;
            let failed = tx
                .prepare(
                    "UPDATE mailwire_recipients SET state = 4, due = NULL, owner = NULL, last_reply = $3, failures = failures + 1, updated = $4 \
                     WHERE id = $1 AND lease = $2 AND state = 1",
                )
                .map_err(pg_error)?;
            for s in settlements {
                match &s.outcome {
                    Outcome::Delivered { reply, remote_id } => tx.execute(&delivered, &[&s.recipient.0, reply, remote_id, &now.0]),
                    Outcome::Deferred { until, reply, attempted } => {
                        let add = i32::from(*attempted);
                        tx.execute(&deferred, &[&s.recipient.0, &s.lease, &until.0, reply, &add, &now.0])
                    }
                    Outcome::Failed { reply } => tx.execute(&failed, &[&s.recipient.0, &s.lease, reply, &now.0]),
                }
                .map_err(pg_error)?;
            }
            insert(tx, bounces, now)?;
            Ok(())
        })
    }

    fn release(&self, owner: &str, now: Timestamp) -> Result<u64, SpoolError> {
        self.write(false, |tx| {
            let n = tx
                .execute(
                    "UPDATE mailwire_recipients SET state = CASE WHEN failures > 0 THEN 2 ELSE 0 END, due = $2, owner = NULL, updated = $2 \
                     WHERE owner = $1 AND state = 1",
                    &[&owner, &now.0],
                )
                .map_err(pg_error)?;
            if n > 0 {
                tx.batch_execute(&format!("NOTIFY {CHANNEL}")).map_err(pg_error)?;
            }
            Ok(n)
        })
    }

    fn next_due(&self) -> Result<Option<Timestamp>, SpoolError> {
        let mut client = self.lock();
        let row = client
            .query_one(
                "SELECT min(due) FROM mailwire_recipients WHERE due IS NOT NULL",
                &[],
            )
            .map_err(pg_error)?;
        Ok(row
            .try_get::<_, Option<i64>>(0)
            .map_err(pg_error)?
            .map(Timestamp))
    }

    fn list(
        &self,
        after: Option<MessageId>,
        limit: usize,
    ) -> Result<Vec<MessageSummary>, SpoolError> {
        let mut client = self.lock();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client
            .query(
                "SELECT id, sender, queued_at, size FROM mailwire_messages WHERE id > $1 ORDER BY id LIMIT $2",
                &[&after.map_or(0, |a| a.0), &limit],
            )
            .map_err(pg_error)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get(0).map_err(pg_error)?;
            out.push(MessageSummary {
                id: MessageId(id),
                sender: row.try_get(1).map_err(pg_error)?,
                queued_at: Timestamp(row.try_get(2).map_err(pg_error)?),
                size: count(row.try_get(3).map_err(pg_error)?),
                counts: counts_of(&mut *client, id)?,
            });
        }
        Ok(out)
    }

    fn show(&self, message: MessageId) -> Result<MessageDetail, SpoolError> {
        let mut client = self.lock();
        let head = client
            .query_opt(
                "SELECT sender, queued_at, size FROM mailwire_messages WHERE id = $1",
                &[&message.0],
            )
            .map_err(pg_error)?
            .ok_or(SpoolError::NotFound(message))?;
        let rows = client
            .query(
                "SELECT address, state, failures, due, last_reply, remote_id, updated FROM mailwire_recipients \
                 WHERE message_id = $1 ORDER BY id",
                &[&message.0],
            )
            .map_err(pg_error)?;
        let mut recipients = Vec::with_capacity(rows.len());
        for row in rows {
            let state: i16 = row.try_get(1).map_err(pg_error)?;
            let failures: i32 = row.try_get(2).map_err(pg_error)?;
            recipients.push(RecipientInfo {
                address: row.try_get(0).map_err(pg_error)?,
                state: RecipientState::from_code(i64::from(state))?,
                failures: u32::try_from(failures).unwrap_or(0),
                due: row
                    .try_get::<_, Option<i64>>(3)
                    .map_err(pg_error)?
                    .map(Timestamp),
                last_reply: row.try_get(4).map_err(pg_error)?,
                remote_id: row.try_get(5).map_err(pg_error)?,
                updated: Timestamp(row.try_get(6).map_err(pg_error)?),
            });
        }
        Ok(MessageDetail {
            summary: MessageSummary {
                id: message,
                sender: head.try_get(0).map_err(pg_error)?,
                queued_at: Timestamp(head.try_get(1).map_err(pg_error)?),
                size: count(head.try_get(2).map_err(pg_error)?),
                counts: counts_of(&mut *client, message.0)?,
            },
            recipients,
        })
    }

    fn retry(&self, message: Option<MessageId>, now: Timestamp) -> Result<u64, SpoolError> {
        self.write(false, |tx| {
            let n = match message {
                Some(id) => tx.execute(
                    "UPDATE mailwire_recipients SET due = $2 WHERE message_id = $1 AND state IN (0, 2)",
                    &[&id.0, &now.0],
                ),
                None => tx.execute("UPDATE mailwire_recipients SET due = $1 WHERE state IN (0, 2) AND due > $1", &[&now.0]),
            }
            .map_err(pg_error)?;
            if let (0, Some(id)) = (n, message) {
                if tx.query_opt("SELECT id FROM mailwire_messages WHERE id = $1", &[&id.0]).map_err(pg_error)?.is_none() {
                    return Err(SpoolError::NotFound(id));
                }
            }
            tx.batch_execute(&format!("NOTIFY {CHANNEL}")).map_err(pg_error)?;
            Ok(n)
        })
    }

    fn delete(&self, message: MessageId) -> Result<(), SpoolError> {
        self.write(false, |tx| {
            match tx
                .execute("DELETE FROM mailwire_messages WHERE id = $1", &[&message.0])
                .map_err(pg_error)?
            {
                0 => Err(SpoolError::NotFound(message)),
                _ => Ok(()),
            }
        })
    }

    fn purge_finished(&self) -> Result<u64, SpoolError> {
        self.write(false, |tx| {
            tx.execute(
                "DELETE FROM mailwire_messages m WHERE NOT EXISTS \
                 (SELECT 1 FROM mailwire_recipients r WHERE r.message_id = m.id AND r.state NOT IN (3, 4))",
                &[],
            )
            .map_err(pg_error)
        })
    }

    fn stats(&self) -> Result<SpoolStats, SpoolError> {
        let mut client = self.lock();
        let messages: i64 = client
            .query_one("SELECT count(*) FROM mailwire_messages", &[])
            .map_err(pg_error)?
            .try_get(0)
            .map_err(pg_error)?;
        let mut stats = SpoolStats {
            messages: count(messages),
            ..SpoolStats::default()
        };
        for row in client
            .query(
                "SELECT state, count(*) FROM mailwire_recipients GROUP BY state",
                &[],
            )
            .map_err(pg_error)?
        {
            let state: i16 = row.try_get(0).map_err(pg_error)?;
            let n: i64 = row.try_get(1).map_err(pg_error)?;
            let state = RecipientState::from_code(i64::from(state))?;
            if let Some(slot) = RecipientState::ALL.iter().position(|s| *s == state) {
                stats.recipients[slot] = count(n);
            }
        }
        stats.oldest_waiting = client
            .query_one(
                "SELECT queued_at FROM mailwire_messages WHERE id = \
                 (SELECT min(message_id) FROM mailwire_recipients WHERE due IS NOT NULL)",
                &[],
            )
            .ok()
            .and_then(|row| row.try_get::<_, i64>(0).ok())
            .map(Timestamp);
        Ok(stats)
    }

    fn shares_pacing(&self) -> bool {
        true
    }

    /// One row per destination holds its buckets and quota; the row lock
    /// (`FOR UPDATE`) makes read, take and write one step for all workers.
    /// The pacing decision itself is the pure [`Pacer`]'s.
    fn take_shared(
        &self,
        destination: &str,
        limits: &RateLimits,
        now: Timestamp,
    ) -> Result<Result<(), Timestamp>, SpoolError> {
        if !limits.paces_messages() {
            return Ok(Ok(()));
        }
        let fingerprint = limits.fingerprint();
        // Not durable: a take lost to a crash of the server lets one
        // message more through, it never holds one back for ever.
        self.write(false, |tx| {
            tx.execute(
                "INSERT INTO mailwire_pacing (destination, limits, state) VALUES ($1, $2, '') \
                 ON CONFLICT (destination) DO NOTHING",
                &[&destination, &fingerprint],
            )
            .map_err(pg_error)?;
            let row = tx
                .query_one(
                    "SELECT limits, state FROM mailwire_pacing WHERE destination = $1 FOR UPDATE",
                    &[&destination],
                )
                .map_err(pg_error)?;
            let stored_limits: String = row.get(0);
            let state: String = row.get(1);
            let mut pacer = if stored_limits == fingerprint {
                Pacer::restore(limits, &state, now)
            } else {
                Pacer::new(limits, now)
            };
            let taken = pacer.take_message(now);
            tx.execute(
                "UPDATE mailwire_pacing SET limits = $2, state = $3 WHERE destination = $1",
                &[&destination, &fingerprint, &pacer.encode()],
            )
            .map_err(pg_error)?;
            Ok(taken)
        })
    }

    /// Sleeps until a `NOTIFY` (an enqueue, a retry, a release) or the
    /// timeout; a listener that cannot connect falls back to sleeping.
    fn wait_for_work(&self, timeout: Duration) {
        let mut listener = self.listener.lock().unwrap_or_else(|p| p.into_inner());
        if listener.as_ref().is_none_or(Client::is_closed) {
            *listener = Client::connect(&self.url, NoTls)
                .and_then(|mut c| c.batch_execute(&format!("LISTEN {CHANNEL}")).map(|()| c))
                .ok();
        }
        match listener.as_mut() {
            Some(client) => {
                let mut notifications = client.notifications();
                let woke = matches!(notifications.timeout_iter(timeout).next(), Ok(Some(_)));
                if woke {
                    // Drain the rest so they do not wake the next wait.
                    while let Ok(Some(_)) = notifications.iter().next() {}
                }
            }
            None => {
                drop(listener);
                std::thread::sleep(timeout);
            }
        }
    }
}
