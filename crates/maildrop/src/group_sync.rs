//! Group commit of directory syncs: deliveries that linked a file into the
//! same directory while one sync of it was running share the next one.
//!
//! A delivery is durable once its directory entry is: it links its file
//! into `new/`, then needs an fsync of `new/` that STARTED after the link.
//! With a thread per connection, ten clients writing to one user at once
//! would each sync `new/` themselves; on a file system without a journal
//! (ext4 `nojournal`, as on the benchmark machine) each such sync writes
//! the directory's blocks synchronously while holding the directory's
//! lock, so links and syncs of one directory queue behind each other. Here
//! one sync runs at a time per directory; whoever arrives while it runs
//! joins the next round, which starts when it ends and covers them all.
//! Nobody returns before a sync that began after their call succeeded; a
//! failed sync fails every caller of its round (never retried on their
//! behalf: after a failed fsync the kernel may report the next one clean).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One sync of the directory and its outcome, shared by its callers.
#[derive(Debug, Default)]
struct Round {
    outcome: OnceLock<Result<(), (io::ErrorKind, String)>>,
}

#[derive(Debug, Default)]
struct State {
    /// A sync is running now.
    running: bool,
    /// The round that starts when the running one ends.
    next: Option<Arc<Round>>,
}

#[derive(Debug, Default)]
struct Dir {
    state: Mutex<State>,
    changed: Condvar,
}

/// Directories being synced now (an entry is dropped when idle).
fn registry() -> &'static Mutex<HashMap<PathBuf, Arc<Dir>>> {
    static DIRS: OnceLock<Mutex<HashMap<PathBuf, Arc<Dir>>>> = OnceLock::new();
    DIRS.get_or_init(Mutex::default)
}

/// Makes every entry added to `dir` before this call durable (an fsync of
/// `dir` that starts after the call), sharing the sync with concurrent
/// callers for the same directory.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    sync_with(dir, crate::folders::sync_dir)
}

fn sync_with(dir: &Path, sync: impl Fn(&Path) -> io::Result<()>) -> io::Result<()> {
    let entry = Arc::clone(lock(registry()).entry(dir.to_path_buf()).or_default());
    let result = run(&entry, dir, &sync);
    let mut dirs = lock(registry());
    // The map's reference and ours: nobody else is using it.
    if Arc::strong_count(&entry) == 2 {
        dirs.remove(dir);
    }
    result
}

fn run(entry: &Dir, dir: &Path, sync: &impl Fn(&Path) -> io::Result<()>) -> io::Result<()> {
    let mut state = lock(&entry.state);
    let round = if state.running {
        // Join the round after the running one (it starts after this call).
        Arc::clone(state.next.get_or_insert_with(Arc::default))
    } else {
        state.running = true;
        let round = Arc::new(Round::default());
        drop(state);
        return finish(entry, dir, sync, &round);
    };
    loop {
        if let Some(outcome) = round.outcome.get() {
            return outcome
                .clone()
                .map_err(|(kind, text)| io::Error::new(kind, text));
        }
        // The running sync ended and this round has not started: whoever
        // sees it first runs it for everyone in it.
        let ours = state.next.as_ref().is_some_and(|n| Arc::ptr_eq(n, &round));
        if !state.running && ours {
            state.next = None;
            state.running = true;
            drop(state);
            return finish(entry, dir, sync, &round);
        }
        state = entry.changed.wait(state).unwrap_or_else(|e| e.into_inner());
    }
}

/// Runs one sync for `round` (the caller set `running`), publishes its
/// outcome and wakes the waiters.
fn finish(
    entry: &Dir,
    dir: &Path,
    sync: &impl Fn(&Path) -> io::Result<()>,
    round: &Round,
) -> io::Result<()> {
    let result = sync(dir);
    let shared = result
        .as_ref()
        .map(|_| ())
        .map_err(|e| (e.kind(), e.to_string()));
    let mut state = lock(&entry.state);
    let _ = round.outcome.set(shared);
    state.running = false;
    drop(state);
    entry.changed.notify_all();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    /// Callers waiting for the next round of `dir`.
    fn waiting(dir: &Path) -> usize {
        lock(registry()).get(dir).map_or(0, |d| {
            lock(&d.state)
                .next
                .as_ref()
                .map_or(0, |n| Arc::strong_count(n) - 1)
        })
    }

    /// Ten callers arriving while a sync runs share one more sync, which
    /// starts after they arrived; each returns only after it.
    #[test]
    fn callers_during_a_sync_share_the_next_one() {
        let dir = PathBuf::from("/group-sync-test/shared");
        let syncs = Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let sync = {
            let (syncs, release_rx) = (Arc::clone(&syncs), Arc::clone(&release_rx));
            move |_: &Path| {
                // The first sync blocks until the test lets it go.
                if syncs.fetch_add(1, Ordering::SeqCst) == 0 {
                    let _ = lock(&release_rx).recv();
                }
                Ok(())
            }
        };
        let first = {
            let (dir, sync) = (dir.clone(), sync.clone());
            std::thread::spawn(move || sync_with(&dir, sync))
        };
        while syncs.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let done = Arc::new(AtomicUsize::new(0));
        let later: Vec<_> = (0..10)
            .map(|_| {
                let (dir, sync, done) = (dir.clone(), sync.clone(), Arc::clone(&done));
                std::thread::spawn(move || {
                    let r = sync_with(&dir, sync);
                    done.fetch_add(1, Ordering::SeqCst);
                    r
                })
            })
            .collect();
        while waiting(&dir) < 10 {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(50));
        // None of them returned on the strength of the sync that began
        // before they came.
        assert_eq!(done.load(Ordering::SeqCst), 0);
        release_tx.send(()).unwrap();
        first.join().unwrap().unwrap();
        for t in later {
            t.join().unwrap().unwrap();
        }
        assert_eq!(syncs.load(Ordering::SeqCst), 2);
        assert!(!lock(registry()).contains_key(&dir));
    }

    /// A failed sync fails every caller of its round.
    #[test]
    fn a_failed_sync_fails_its_whole_round() {
        let dir = PathBuf::from("/group-sync-test/failing");
        let syncs = Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let sync = {
            let (syncs, release_rx) = (Arc::clone(&syncs), Arc::clone(&release_rx));
            move |_: &Path| {
                if syncs.fetch_add(1, Ordering::SeqCst) == 0 {
                    let _ = lock(&release_rx).recv();
                    Ok(())
                } else {
                    Err(io::Error::other("disk gone"))
                }
            }
        };
        let first = {
            let (dir, sync) = (dir.clone(), sync.clone());
            std::thread::spawn(move || sync_with(&dir, sync))
        };
        while syncs.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let later: Vec<_> = (0..4)
            .map(|_| {
                let (dir, sync) = (dir.clone(), sync.clone());
                std::thread::spawn(move || sync_with(&dir, sync))
            })
            .collect();
        while waiting(&dir) < 4 {
            std::thread::sleep(Duration::from_millis(1));
        }
        release_tx.send(()).unwrap();
        first.join().unwrap().unwrap();
        for t in later {
            let e = t.join().unwrap().unwrap_err();
            assert_eq!(e.to_string(), "disk gone");
        }
        assert_eq!(syncs.load(Ordering::SeqCst), 2);
    }
}
