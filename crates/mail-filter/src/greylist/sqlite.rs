//! Triplets in a SQLite file, so a restart remembers them.

use super::{Entry, GreylistError, GreylistStore, Triplet};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

/// Triplets in a SQLite file (WAL, every write committed with a full sync),
/// at most `max_entries` rows: beyond that the least recently seen go.
#[derive(Debug)]
pub struct SqliteStore {
    db: Connection,
    rows: usize,
    max_entries: usize,
}

impl SqliteStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: impl AsRef<Path>, max_entries: usize) -> Result<SqliteStore, GreylistError> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS greylist (
                network TEXT NOT NULL,
                sender TEXT NOT NULL,
                recipient TEXT NOT NULL,
                first_seen INTEGER NOT NULL,
                last_seen INTEGER NOT NULL,
                passed INTEGER NOT NULL,
                PRIMARY KEY (network, sender, recipient)
            );
            CREATE INDEX IF NOT EXISTS greylist_last_seen ON greylist (last_seen);",
        )?;
        let rows: i64 = db.query_row("SELECT count(*) FROM greylist", [], |r| r.get(0))?;
        let mut store = SqliteStore {
            db,
            rows: usize::try_from(rows).unwrap_or(usize::MAX),
            max_entries: max_entries.max(1),
        };
        store.prune()?;
        Ok(store)
    }

    fn prune(&mut self) -> Result<(), GreylistError> {
        if self.rows > self.max_entries {
            let excess = i64::try_from(self.rows - self.max_entries).unwrap_or(i64::MAX);
            let removed = self.db.execute(
                "DELETE FROM greylist WHERE rowid IN
                   (SELECT rowid FROM greylist ORDER BY last_seen LIMIT ?1)",
                params![excess],
            )?;
            self.rows = self.rows.saturating_sub(removed);
        }
        Ok(())
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl GreylistStore for SqliteStore {
    fn get(&mut self, triplet: &Triplet) -> Result<Option<Entry>, GreylistError> {
        let entry = self
            .db
            .query_row(
                "SELECT first_seen, last_seen, passed FROM greylist
                 WHERE network = ?1 AND sender = ?2 AND recipient = ?3",
                params![triplet.network, triplet.sender, triplet.recipient],
                |row| {
                    let first: i64 = row.get(0)?;
                    let last: i64 = row.get(1)?;
                    let passed: bool = row.get(2)?;
                    Ok(Entry {
                        first_seen: u64::try_from(first).unwrap_or(0),
                        last_seen: u64::try_from(last).unwrap_or(0),
                        passed,
                    })
                },
            )
            .optional()?;
        Ok(entry)
    }

    fn put(&mut self, triplet: &Triplet, entry: Entry) -> Result<(), GreylistError> {
        let tx = self.db.transaction()?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO greylist
               (network, sender, recipient, first_seen, last_seen, passed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                triplet.network,
                triplet.sender,
                triplet.recipient,
                to_i64(entry.first_seen),
                to_i64(entry.last_seen),
                entry.passed
            ],
        )?;
        if inserted == 0 {
            tx.execute(
                "UPDATE greylist SET first_seen = ?4, last_seen = ?5, passed = ?6
                 WHERE network = ?1 AND sender = ?2 AND recipient = ?3",
                params![
                    triplet.network,
                    triplet.sender,
                    triplet.recipient,
                    to_i64(entry.first_seen),
                    to_i64(entry.last_seen),
                    entry.passed
                ],
            )?;
        }
        tx.commit()?;
        self.rows += inserted;
        self.prune()
    }

    fn count(&mut self) -> Result<usize, GreylistError> {
        Ok(self.rows)
    }
}
