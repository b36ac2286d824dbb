//! A lock that is handed to its waiters in the order they came: the
//! per-user quota locks of [`MailStore`](crate::MailStore).
//!
//! `std::sync::Mutex` lets a running thread take a lock that was just
//! released ahead of the threads already asleep on it. With a thread per
//! connection and hundreds of threads on two CPUs, a waiter can lose that
//! race again and again, and a delivery then waits seconds for a lock held
//! microseconds at a time (measured: the mail server's p99 from end of DATA
//! to the 250, docs/benchmarks.md). Here `unlock` hands the lock to the
//! oldest waiter directly, so no newcomer can pass it.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Default)]
struct Waiter {
    granted: Mutex<bool>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct State {
    held: bool,
    waiting: VecDeque<Arc<Waiter>>,
}

/// A FIFO lock (no data inside: it orders critical sections on files).
#[derive(Debug, Default)]
pub(crate) struct FifoLock {
    state: Mutex<State>,
}

/// Holds a [`FifoLock`]; dropping it hands the lock to the next waiter.
#[derive(Debug)]
pub(crate) struct FifoGuard<'a> {
    lock: &'a FifoLock,
}

impl FifoLock {
    pub(crate) const fn new() -> FifoLock {
        FifoLock {
            state: Mutex::new(State {
                held: false,
                waiting: VecDeque::new(),
            }),
        }
    }

    /// Waits for the lock behind every thread that asked before.
    pub(crate) fn lock(&self) -> FifoGuard<'_> {
        let waiter = {
            let mut state = lock(&self.state);
            if !state.held {
                state.held = true;
                return FifoGuard { lock: self };
            }
            let waiter = Arc::new(Waiter::default());
            state.waiting.push_back(Arc::clone(&waiter));
            waiter
        };
        let mut granted = lock(&waiter.granted);
        while !*granted {
            granted = waiter.wake.wait(granted).unwrap_or_else(|e| e.into_inner());
        }
        FifoGuard { lock: self }
    }
}

impl Drop for FifoGuard<'_> {
    fn drop(&mut self) {
        let mut state = lock(&self.lock.state);
        match state.waiting.pop_front() {
            // Still held: it passes straight to the oldest waiter.
            Some(next) => {
                drop(state);
                *lock(&next.granted) = true;
                next.wake.notify_one();
            }
            None => state.held = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Threads that queue one after another get the lock in that order,
    /// even while the holder keeps releasing and asking again (what a
    /// `std::sync::Mutex` does not promise).
    #[test]
    fn waiters_get_the_lock_in_arrival_order() {
        static LOCK: FifoLock = FifoLock::new();
        let order = Arc::new(Mutex::new(Vec::new()));
        let queued = Arc::new(AtomicUsize::new(0));
        let first = LOCK.lock();
        let mut threads = Vec::new();
        for i in 0..8 {
            let (order, queued) = (Arc::clone(&order), Arc::clone(&queued));
            threads.push(std::thread::spawn(move || {
                queued.fetch_add(1, Ordering::SeqCst);
                let _g = LOCK.lock();
                order.lock().unwrap().push(i);
            }));
            // The next thread starts only once this one is in the queue.
            while lock(&LOCK.state).waiting.len() < i + 1 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        // A barging newcomer: it must come after all eight.
        let late = {
            let order = Arc::clone(&order);
            std::thread::spawn(move || {
                while lock(&LOCK.state).waiting.len() < 8 {
                    std::thread::yield_now();
                }
                let _g = LOCK.lock();
                order.lock().unwrap().push(99);
            })
        };
        while lock(&LOCK.state).waiting.len() < 9 {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(first);
        for t in threads {
            t.join().unwrap();
        }
        late.join().unwrap();
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4, 5, 6, 7, 99]);
        assert!(!lock(&LOCK.state).held);
    }

    /// Mutual exclusion under contention.
    #[test]
    fn one_holder_at_a_time() {
        let lock_ = Arc::new(FifoLock::new());
        let inside = Arc::new(AtomicUsize::new(0));
        let total = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (l, inside, total) =
                    (Arc::clone(&lock_), Arc::clone(&inside), Arc::clone(&total));
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        let _g = l.lock();
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        total.fetch_add(1, Ordering::SeqCst);
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(total.load(Ordering::SeqCst), 4000);
    }
}
