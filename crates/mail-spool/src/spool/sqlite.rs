//! The embedded spool: one SQLite database (WAL) in a directory, bodies as
//! blobs in their own table (see docs/spool.md for the measurement behind
//! blobs over files).
//!
//! Durability: enqueues commit with `synchronous = FULL` (the WAL is
//! fsynced before the call returns). Claims and outcomes commit with
//! `synchronous = NORMAL`: a crash of the process loses none of them (the
//! WAL is in the OS's hands), and a power cut can at worst lose recent
//! outcomes, which only causes a redelivery — never a lost message.

use super::types::*;
use super::Spool;
use crate::time::Timestamp;
use rusqlite::{
    params, Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The tables. Bodies live in their own table so that `messages` stays a
/// few dozen rows per page (counting and listing read it whole). Only dedup
/// keys that exist are indexed (a partial index: a message without a key
/// costs no index page); a spool made before that keeps its `UNIQUE`
/// column instead (see [`DEDUP_INDEX`]).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    sender TEXT NOT NULL,
    queued_at INTEGER NOT NULL,
    size INTEGER NOT NULL,
    dedup_key TEXT
);
CREATE TABLE IF NOT EXISTS bodies (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS recipients (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    domain TEXT NOT NULL,
    state INTEGER NOT NULL,
    due INTEGER,
    failures INTEGER NOT NULL DEFAULT 0,
    lease INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    last_reply TEXT,
    remote_id TEXT,
    updated INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS recipients_due ON recipients(due, message_id) WHERE due IS NOT NULL;
CREATE INDEX IF NOT EXISTS recipients_message ON recipients(message_id);
CREATE INDEX IF NOT EXISTS recipients_owner ON recipients(owner) WHERE owner IS NOT NULL;
";

/// The dedup index, made unless the spool predates it: spools made before
/// it declared `dedup_key TEXT UNIQUE`, whose index (holding every message,
/// keyed or not) already does the job. Either way `dedup_key` is unique.
const DEDUP_INDEX: &str = "
CREATE UNIQUE INDEX IF NOT EXISTS messages_dedup ON messages(dedup_key) WHERE dedup_key IS NOT NULL
";

const FORMAT: &str = "mailwire-spool-1";

/// How the embedded spool is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// How long to wait for another process holding the write lock.
    pub busy_timeout: Duration,
    /// Fsync the WAL on every enqueue (the default, and what makes an
    /// acknowledgement mean "on disk"). Off only for benchmarks of the
    /// difference.
    pub durable_enqueue: bool,
    /// Largest database in pages of 4 KiB (`None`: no limit but the disk's).
    pub max_pages: Option<u64>,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            busy_timeout: Duration::from_secs(10),
            durable_enqueue: true,
            max_pages: None,
        }
    }
}

/// The embedded spool. Safe to share between threads (one connection
/// behind a lock; SQLite has one writer at a time anyway) and between
/// processes on one machine (the file lock; `mailwire queue` reads while
/// `mailwire deliver` runs).
#[derive(Debug)]
pub struct SqliteSpool {
    conn: Mutex<Connection>,
    durable_enqueue: bool,
    busy_timeout: Duration,
    path: PathBuf,
    group: GroupCommit,
}

/// Group commit: concurrent enqueues share one transaction and one fsync.
/// The first caller to find no commit running becomes the leader and
/// commits everything queued meanwhile, repeatedly, until nothing waits;
/// the others sleep until their result is in.
#[derive(Debug, Default)]
struct GroupCommit {
    state: Mutex<GroupState>,
    done: Condvar,
}

#[derive(Debug, Default)]
struct GroupState {
    next_ticket: u64,
    waiting: Vec<(u64, Vec<NewMessage>)>,
    results: HashMap<u64, Result<Vec<Enqueued>, SpoolError>>,
    leader: bool,
}

/// An SQLite error in the spool's words.
pub(crate) fn sql_error(e: rusqlite::Error) -> SpoolError {
    let text = e.to_string();
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => SpoolError::Full(text),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => SpoolError::Corrupt(text),
        Some(
            ErrorCode::CannotOpen
            | ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::ReadOnly
            | ErrorCode::PermissionDenied
            | ErrorCode::SystemIoFailure,
        ) => SpoolError::Unavailable(text),
        _ => match e {
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::IntegralValueOutOfRange(..) => SpoolError::Corrupt(text),
            _ => SpoolError::Database(text),
        },
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl SqliteSpool {
    /// Opens (creating when missing) the spool in directory `dir`
    /// (`dir/spool.db`).
    pub fn open(dir: impl AsRef<Path>, options: SqliteOptions) -> Result<SqliteSpool, SpoolError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| {
            SpoolError::Unavailable(format!(
                "cannot create the spool directory {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join("spool.db");
        let conn = Connection::open(&path).map_err(sql_error)?;
        conn.busy_timeout(options.busy_timeout).map_err(sql_error)?;
        let setup = |conn: &Connection| -> rusqlite::Result<()> {
            // Changing the journal mode takes an exclusive lock that the busy
            // handler does not wait for: only when it is not WAL already.
            let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                conn.pragma_update(None, "journal_mode", "WAL")?;
            }
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            if let Some(pages) = options.max_pages {
                conn.pragma_update(
                    None,
                    "max_page_count",
                    i64::try_from(pages).unwrap_or(i64::MAX),
                )?;
            }
            conn.execute_batch(SCHEMA)?;
            let old_unique: bool = conn.query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_autoindex_messages_1'",
                [],
                |r| r.get::<_, i64>(0).map(|n| n > 0),
            )?;
            if !old_unique {
                conn.execute_batch(DEDUP_INDEX)?;
            }
            Ok(())
        };
        // Several processes opening one new spool at once (a deliver
        // starting while scripts queue) race for that lock: try again
        // until the busy timeout.
        let deadline = std::time::Instant::now() + options.busy_timeout;
        loop {
            match setup(&conn) {
                Ok(()) => break,
                Err(e)
                    if matches!(
                        e.sqlite_error_code(),
                        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                    ) && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(sql_error(e)),
            }
        }
        let format: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql_error)?;
        match format.as_deref() {
            Some(FORMAT) => {}
            None => {
                conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('format', ?1)",
                    [FORMAT],
                )
                .map_err(sql_error)?;
            }
            Some(other) => {
                return Err(SpoolError::Corrupt(format!(
                    "{} has format {other:?}, this build reads {FORMAT:?}",
                    path.display()
                )))
            }
        }
        Ok(SqliteSpool {
            conn: Mutex::new(conn),
            durable_enqueue: options.durable_enqueue,
            busy_timeout: options.busy_timeout,
            path,
            group: GroupCommit::default(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn group_state(&self) -> MutexGuard<'_, GroupState> {
        self.group.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Enqueues through the group commit (see [`GroupCommit`]).
    fn enqueue_grouped(
        &self,
        messages: &[NewMessage],
        now: Timestamp,
    ) -> Result<Vec<Enqueued>, SpoolError> {
        let mut state = self.group_state();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.waiting.push((ticket, messages.to_vec()));
        if state.leader {
            loop {
                if let Some(result) = state.results.remove(&ticket) {
                    return result;
                }
                state = self
                    .group
                    .done
                    .wait(state)
                    .unwrap_or_else(|p| p.into_inner());
                if !state.leader && !state.results.contains_key(&ticket) {
                    // The leader left before taking this batch: lead.
                    break;
                }
            }
        }
        state.leader = true;
        loop {
            let batch = std::mem::take(&mut state.waiting);
            if batch.is_empty() {
                break;
            }
            drop(state);
            let outcome = self.write(self.durable_enqueue, |tx| {
                let mut each = Vec::with_capacity(batch.len());
                for (ticket, messages) in &batch {
                    each.push((*ticket, insert_messages(tx, messages, now)?));
                }
                Ok(each)
            });
            state = self.group_state();
            match outcome {
                Ok(each) => {
                    for (ticket, ids) in each {
                        state.results.insert(ticket, Ok(ids));
                    }
                }
                Err(e) => {
                    // One failure fails the whole transaction: each caller
                    // hears why; none of their messages is half queued.
                    for (ticket, _) in &batch {
                        state.results.insert(*ticket, Err(e.same()));
                    }
                }
            }
            self.group.done.notify_all();
        }
        state.leader = false;
        self.group.done.notify_all();
        match state.results.remove(&ticket) {
            Some(result) => result,
            None => Err(SpoolError::Database(
                "the group commit lost a result".into(),
            )),
        }
    }

    /// Whether any recipient is due at `now` (a read: no write lock).
    fn anything_due(&self, now: Timestamp) -> Result<bool, SpoolError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT 1 FROM recipients WHERE due IS NOT NULL AND due <= ?1 LIMIT 1")
            .map_err(sql_error)?;
        stmt.exists([now.0]).map_err(sql_error)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` in an immediate (write-locked) transaction; a `durable`
    /// one commits with `synchronous = FULL` (the WAL fsynced before this
    /// returns).
    ///
    /// Checkpoints stay where SQLite puts them, in the commit that takes
    /// the WAL past 1,000 pages, acknowledging or not. Leaving them to the
    /// worker's commits was measured and is worse: a checkpoint that runs
    /// while another connection keeps appending never lets the WAL start
    /// over, so the WAL file grows and every fsync then also has to commit
    /// the file's new size (see docs/benchmarks.md).
    fn write<T>(
        &self,
        durable: bool,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, SpoolError>,
    ) -> Result<T, SpoolError> {
        let conn = self.lock();
        if durable {
            conn.pragma_update(None, "synchronous", "FULL")
                .map_err(sql_error)?;
        }
        let result = (|| {
            let tx = begin_immediate(&conn, self.busy_timeout)?;
            let value = f(&tx)?;
            tx.commit().map_err(sql_error)?;
            Ok(value)
        })();
        if durable {
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(sql_error)?;
        }
        result
    }
}

/// `BEGIN IMMEDIATE`, waiting for another writer (another process, or a
/// second handle) in steps of tens of microseconds up to 1 ms rather than
/// SQLite's busy handler's 1, 2, 5, 10… ms: a commit holds the lock for
/// about one fsync, and a wait of a few milliseconds would cost an
/// injecting connection more than the fsync itself.
fn begin_immediate(conn: &Connection, timeout: Duration) -> Result<Transaction<'_>, SpoolError> {
    conn.busy_timeout(Duration::ZERO).map_err(sql_error)?;
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(20);
    let begun = loop {
        match Transaction::new_unchecked(conn, TransactionBehavior::Immediate) {
            Ok(tx) => break Ok(tx),
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                ) && Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(1));
            }
            Err(e) => break Err(sql_error(e)),
        }
    };
    conn.busy_timeout(timeout).map_err(sql_error)?;
    begun
}

fn insert_messages(
    tx: &Transaction<'_>,
    messages: &[NewMessage],
    now: Timestamp,
) -> Result<Vec<Enqueued>, SpoolError> {
    let mut out = Vec::with_capacity(messages.len());
    let mut find = tx
        .prepare_cached("SELECT id FROM messages WHERE dedup_key = ?1")
        .map_err(sql_error)?;
    let mut message = tx
        .prepare_cached(
            "INSERT INTO messages (sender, queued_at, size, dedup_key) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(sql_error)?;
    let mut body = tx
        .prepare_cached("INSERT INTO bodies (message_id, body) VALUES (?1, ?2)")
        .map_err(sql_error)?;
    let mut rcpt = tx
        .prepare_cached(
            "INSERT INTO recipients (message_id, address, domain, state, due, updated) \
             VALUES (?1, ?2, ?3, 0, ?4, ?4)",
        )
        .map_err(sql_error)?;
    for m in messages {
        m.validate()?;
        if let Some(key) = &m.dedup_key {
            let existing: Option<i64> = find
                .query_row([key], |r| r.get(0))
                .optional()
                .map_err(sql_error)?;
            if let Some(id) = existing {
                out.push(Enqueued {
                    id: MessageId(id),
                    duplicate: true,
                });
                continue;
            }
        }
        let size = i64::try_from(m.body.len()).unwrap_or(i64::MAX);
        message
            .execute(params![m.sender, now.0, size, m.dedup_key])
            .map_err(sql_error)?;
        let id = tx.last_insert_rowid();
        body.execute(params![id, m.body]).map_err(sql_error)?;
        for address in &m.recipients {
            let domain = domain_of(address).unwrap_or_default();
            rcpt.execute(params![id, address, domain, now.0])
                .map_err(sql_error)?;
        }
        out.push(Enqueued {
            id: MessageId(id),
            duplicate: false,
        });
    }
    Ok(out)
}

fn counts_of(tx: &Connection, id: i64) -> Result<[u64; 5], SpoolError> {
    let mut counts = [0u64; 5];
    let mut stmt = tx
        .prepare_cached(
            "SELECT state, count(*) FROM recipients WHERE message_id = ?1 GROUP BY state",
        )
        .map_err(sql_error)?;
    let rows = stmt
        .query_map([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
        .map_err(sql_error)?;
    for row in rows {
        let (state, n) = row.map_err(sql_error)?;
        let state = RecipientState::from_code(state)?;
        if let Some(slot) = RecipientState::ALL.iter().position(|s| *s == state) {
            counts[slot] = count(n);
        }
    }
    Ok(counts)
}

impl Spool for SqliteSpool {
    fn enqueue_batch(
        &self,
        messages: &[NewMessage],
        now: Timestamp,
    ) -> Result<Vec<Enqueued>, SpoolError> {
        for m in messages {
            m.validate()?;
        }
        self.enqueue_grouped(messages, now)
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
        // Look before taking the write lock: a worker polling an idle (or
        // not yet due) queue then never holds up an enqueue.
        if !self.anything_due(now)? {
            return Ok(Vec::new());
        }
        self.write(false, |tx| {
            let mut select = tx
                .prepare_cached(
                    "SELECT r.id, r.message_id, r.address, r.domain, r.failures, r.updated, m.sender, m.queued_at \
                     FROM recipients r JOIN messages m ON m.id = r.message_id \
                     WHERE r.due IS NOT NULL AND r.due <= ?1 ORDER BY r.due, r.message_id LIMIT ?2",
                )
                .map_err(sql_error)?;
            type Row = (i64, i64, String, String, i64, i64, String, i64);
            let rows: Vec<Row> = select
                .query_map(params![now.0, limit], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
                })
                .map_err(sql_error)?
                .collect::<Result<_, _>>()
                .map_err(sql_error)?;
            let mut take = tx
                .prepare_cached(
                    "UPDATE recipients SET state = 1, due = ?2, lease = lease + 1, owner = ?3, updated = ?4 \
                     WHERE id = ?1 RETURNING lease",
                )
                .map_err(sql_error)?;
            let mut claimed: Vec<Claimed> = Vec::new();
            for (id, message, address, domain, failures, since, sender, queued_at) in rows {
                let lease: i64 = take
                    .query_row(params![id, until, owner, now.0], |r| r.get(0))
                    .map_err(sql_error)?;
                let recipient = ClaimedRecipient {
                    id: RecipientId(id),
                    address,
                    domain,
                    failures: u32::try_from(failures).unwrap_or(u32::MAX),
                    lease,
                    since: Timestamp(since),
                };
                match claimed.last_mut() {
                    Some(last) if last.message.0 == message => last.recipients.push(recipient),
                    _ => claimed.push(Claimed {
                        message: MessageId(message),
                        sender,
                        queued_at: Timestamp(queued_at),
                        recipients: vec![recipient],
                    }),
                }
            }
            Ok(claimed)
        })
    }

    fn body(&self, message: MessageId) -> Result<Vec<u8>, SpoolError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT body FROM bodies WHERE message_id = ?1")
            .map_err(sql_error)?;
        let body: Option<Vec<u8>> = stmt
            .query_row([message.0], |r| r.get(0))
            .optional()
            .map_err(sql_error)?;
        body.ok_or(SpoolError::NotFound(message))
    }

    fn settle(
        &self,
        settlements: &[Settlement],
        bounces: &[NewMessage],
        now: Timestamp,
    ) -> Result<(), SpoolError> {
        self.write(!bounces.is_empty() && self.durable_enqueue, |tx| {
            let mut delivered = tx
                .prepare_cached(
                    "UPDATE recipients SET state = 3, due = NULL, owner = NULL, last_reply = ?2, remote_id = ?3, updated = ?4 \
                     WHERE id = ?1 AND state NOT IN (3, 4)",
                )
                .map_err(sql_error)?;
            let mut deferred = tx
                .prepare_cached(
                    "UPDATE recipients SET state = 2, due = ?3, owner = NULL, last_reply = ?4, failures = failures + ?5, updated = ?6 \
                     WHERE id = ?1 AND lease = ?2 AND state = 1",
                )
                .map_err(sql_error)?;
            let mut failed = tx
                .prepare_cached(
                    "UPDATE recipients SET state = 4, due = NULL, owner = NULL, last_reply = ?3, failures = failures + 1, updated = ?4 \
                     WHERE id = ?1 AND lease = ?2 AND state = 1",
                )
                .map_err(sql_error)?;
            for s in settlements {
                match &s.outcome {
                    Outcome::Delivered { reply, remote_id } => {
                        delivered.execute(params![s.recipient.0, reply, remote_id, now.0])
                    }
                    Outcome::Deferred { until, reply, attempted } => deferred.execute(params![
                        s.recipient.0,
                        s.lease,
                        until.0,
                        reply,
                        i64::from(*attempted),
                        now.0
                    ]),
                    Outcome::Failed { reply } => failed.execute(params![s.recipient.0, s.lease, reply, now.0]),
                }
                .map_err(sql_error)?;
            }
            insert_messages(tx, bounces, now)?;
            Ok(())
        })
    }

    fn release(&self, owner: &str, now: Timestamp) -> Result<u64, SpoolError> {
        self.write(false, |tx| {
            tx.execute(
                "UPDATE recipients SET state = CASE WHEN failures > 0 THEN 2 ELSE 0 END, due = ?2, owner = NULL, updated = ?2 \
                 WHERE owner = ?1 AND state = 1",
                params![owner, now.0],
            )
            .map(|n| n as u64)
            .map_err(sql_error)
        })
    }

    fn next_due(&self) -> Result<Option<Timestamp>, SpoolError> {
        let conn = self.lock();
        conn.query_row(
            "SELECT min(due) FROM recipients WHERE due IS NOT NULL",
            [],
            |r| r.get::<_, Option<i64>>(0),
        )
        .map(|t| t.map(Timestamp))
        .map_err(sql_error)
    }

    fn list(
        &self,
        after: Option<MessageId>,
        limit: usize,
    ) -> Result<Vec<MessageSummary>, SpoolError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT id, sender, queued_at, size FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2")
            .map_err(sql_error)?;
        let rows: Vec<(i64, String, i64, i64)> = stmt
            .query_map(
                params![
                    after.map_or(0, |a| a.0),
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(sql_error)?
            .collect::<Result<_, _>>()
            .map_err(sql_error)?;
        rows.into_iter()
            .map(|(id, sender, queued_at, size)| {
                Ok(MessageSummary {
                    id: MessageId(id),
                    sender,
                    queued_at: Timestamp(queued_at),
                    size: count(size),
                    counts: counts_of(&conn, id)?,
                })
            })
            .collect()
    }

    fn show(&self, message: MessageId) -> Result<MessageDetail, SpoolError> {
        let conn = self.lock();
        let head: Option<(String, i64, i64)> = conn
            .query_row(
                "SELECT sender, queued_at, size FROM messages WHERE id = ?1",
                [message.0],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(sql_error)?;
        let (sender, queued_at, size) = head.ok_or(SpoolError::NotFound(message))?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT address, state, failures, due, last_reply, remote_id, updated FROM recipients \
                 WHERE message_id = ?1 ORDER BY id",
            )
            .map_err(sql_error)?;
        type Row = (
            String,
            i64,
            i64,
            Option<i64>,
            Option<String>,
            Option<String>,
            i64,
        );
        let rows: Vec<Row> = stmt
            .query_map([message.0], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .map_err(sql_error)?
            .collect::<Result<_, _>>()
            .map_err(sql_error)?;
        let recipients = rows
            .into_iter()
            .map(
                |(address, state, failures, due, last_reply, remote_id, updated)| {
                    Ok(RecipientInfo {
                        address,
                        state: RecipientState::from_code(state)?,
                        failures: u32::try_from(failures).unwrap_or(0),
                        due: due.map(Timestamp),
                        last_reply,
                        remote_id,
                        updated: Timestamp(updated),
                    })
                },
            )
            .collect::<Result<Vec<_>, SpoolError>>()?;
        Ok(MessageDetail {
            summary: MessageSummary {
                id: message,
                sender,
                queued_at: Timestamp(queued_at),
                size: count(size),
                counts: counts_of(&conn, message.0)?,
            },
            recipients,
        })
    }

    fn retry(&self, message: Option<MessageId>, now: Timestamp) -> Result<u64, SpoolError> {
        self.write(false, |tx| {
            let n = match message {
                Some(id) => tx.execute(
                    "UPDATE recipients SET due = ?2 WHERE message_id = ?1 AND state IN (0, 2)",
                    params![id.0, now.0],
                ),
                None => tx.execute(
                    "UPDATE recipients SET due = ?1 WHERE state IN (0, 2) AND due > ?1",
                    [now.0],
                ),
            }
            .map_err(sql_error)?;
            if n == 0 {
                if let Some(id) = message {
                    let exists: Option<i64> = tx
                        .query_row("SELECT id FROM messages WHERE id = ?1", [id.0], |r| {
                            r.get(0)
                        })
                        .optional()
                        .map_err(sql_error)?;
                    if exists.is_none() {
                        return Err(SpoolError::NotFound(id));
                    }
                }
            }
            Ok(n as u64)
        })
    }

    fn delete(&self, message: MessageId) -> Result<(), SpoolError> {
        self.write(false, |tx| {
            tx.execute("DELETE FROM recipients WHERE message_id = ?1", [message.0])
                .map_err(sql_error)?;
            tx.execute("DELETE FROM bodies WHERE message_id = ?1", [message.0])
                .map_err(sql_error)?;
            match tx
                .execute("DELETE FROM messages WHERE id = ?1", [message.0])
                .map_err(sql_error)?
            {
                0 => Err(SpoolError::NotFound(message)),
                _ => Ok(()),
            }
        })
    }

    fn purge_finished(&self) -> Result<u64, SpoolError> {
        self.write(false, |tx| {
            tx.execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS finished (id INTEGER PRIMARY KEY); DELETE FROM finished;
                 INSERT INTO finished SELECT id FROM messages m WHERE NOT EXISTS
                   (SELECT 1 FROM recipients r WHERE r.message_id = m.id AND r.state NOT IN (3, 4));
                 DELETE FROM recipients WHERE message_id IN (SELECT id FROM finished);
                 DELETE FROM bodies WHERE message_id IN (SELECT id FROM finished);",
            )
            .map_err(sql_error)?;
            let n = tx
                .execute("DELETE FROM messages WHERE id IN (SELECT id FROM finished)", [])
                .map_err(sql_error)?;
            Ok(n as u64)
        })
    }

    fn stats(&self) -> Result<SpoolStats, SpoolError> {
        let conn = self.lock();
        let mut stats = SpoolStats {
            messages: count(
                conn.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
                    .map_err(sql_error)?,
            ),
            ..SpoolStats::default()
        };
        let mut stmt = conn
            .prepare_cached("SELECT state, count(*) FROM recipients GROUP BY state")
            .map_err(sql_error)?;
        let rows: Vec<(i64, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql_error)?
            .collect::<Result<_, _>>()
            .map_err(sql_error)?;
        for (state, n) in rows {
            let state = RecipientState::from_code(state)?;
            if let Some(slot) = RecipientState::ALL.iter().position(|s| *s == state) {
                stats.recipients[slot] = count(n);
            }
        }
        stats.oldest_waiting = conn
            .query_row(
                "SELECT queued_at FROM messages WHERE id = \
                 (SELECT min(message_id) FROM recipients WHERE due IS NOT NULL)",
                [],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map_err(sql_error)?
            .map(Timestamp);
        Ok(stats)
    }
}
