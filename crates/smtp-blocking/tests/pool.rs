//! The connection pool against our server on 127.0.0.1: bounded
//! connections, reuse, order of outcomes, and replacing a connection the
//! server closed while it sat idle.

use smtp_blocking::{Collect, Transaction};
use smtp_blocking::{Connection, Decision, Handler, Message, Pool, Server};
use smtp_proto::Reply;
use smtp_proto::{Host, ServerConfig, TlsPolicy};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod support;

use support::{bounded, client_config, envelope, limit, server_config};

/// Counts sessions (one EHLO each) and keeps messages.
#[derive(Clone, Default)]
struct Counter {
    sessions: Arc<AtomicUsize>,
    messages: Arc<Mutex<Vec<Message>>>,
}

impl Handler for Counter {
    fn helo(&self, _: &Connection, _: &Host, _: bool) -> Decision {
        self.sessions.fetch_add(1, Ordering::SeqCst);
        Decision::Accept
    }

    type Sink = Collect;

    fn data_start(&self, _conn: &Connection, transaction: &Transaction) -> Result<Collect, Reply> {
        let this = self.clone();
        Ok(Collect::new(transaction, move |message| {
            let message = &message;
            this.messages.lock().unwrap().push(message.clone());
            Decision::Accept
        }))
    }
}

fn body(i: usize) -> Vec<u8> {
    format!("Subject: number {i}\r\n\r\nbody {i}\r\n").into_bytes()
}

#[test]
fn send_all_uses_at_most_max_connections_and_keeps_the_order() {
    bounded(limit(), || {
        let counter = Counter::default();
        let server = Server::bind("127.0.0.1:0", server_config(), counter.clone())
            .unwrap()
            .spawn()
            .unwrap();
        let pool = Pool::new(
            "127.0.0.1",
            server.local_addr().port(),
            client_config(TlsPolicy::None),
            3,
        );
        let outcomes = pool.send_all((0..40).map(|i| (envelope(), body(i))));
        assert_eq!(outcomes.len(), 40);
        assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
        let sessions = counter.sessions.load(Ordering::SeqCst);
        assert!((1..=3).contains(&sessions), "{sessions} sessions");
        assert_eq!(pool.idle_connections(), sessions);
        // A second round reuses the same connections.
        let again = pool.send_all((40..50).map(|i| (envelope(), body(i))));
        assert!(again.iter().all(Result::is_ok));
        assert_eq!(counter.sessions.load(Ordering::SeqCst), sessions);
        pool.close();
        assert_eq!(pool.idle_connections(), 0);
        server.shutdown(Duration::from_secs(1));
        let mut subjects: Vec<String> = counter
            .messages
            .lock()
            .unwrap()
            .iter()
            .map(|m| {
                String::from_utf8_lossy(&m.bytes)
                    .lines()
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        subjects.sort();
        subjects.dedup();
        assert_eq!(subjects.len(), 50, "every message exactly once");
    });
}

#[test]
fn a_connection_the_server_closed_while_idle_is_replaced() {
    bounded(limit(), || {
        let counter = Counter::default();
        let config = ServerConfig::new("mx.test").with_idle_timeout(Duration::from_millis(200));
        let server = Server::bind("127.0.0.1:0", config, counter.clone())
            .unwrap()
            .spawn()
            .unwrap();
        let pool = Pool::new(
            "127.0.0.1",
            server.local_addr().port(),
            client_config(TlsPolicy::None),
            1,
        );
        pool.send(&envelope(), &body(1)[..]).unwrap();
        assert_eq!(pool.idle_connections(), 1);
        // The server says 421 and closes while the connection is idle.
        std::thread::sleep(Duration::from_millis(600));
        pool.send(&envelope(), &body(2)[..]).unwrap();
        assert_eq!(counter.sessions.load(Ordering::SeqCst), 2);
        assert_eq!(counter.messages.lock().unwrap().len(), 2);
        pool.close();
        server.shutdown(Duration::from_secs(1));
    });
}

#[test]
fn concurrent_senders_share_one_pool_by_reference() {
    bounded(limit(), || {
        let counter = Counter::default();
        let server = Server::bind("127.0.0.1:0", server_config(), counter.clone())
            .unwrap()
            .spawn()
            .unwrap();
        let pool = Pool::new(
            "127.0.0.1",
            server.local_addr().port(),
            client_config(TlsPolicy::None),
            2,
        );
        std::thread::scope(|s| {
            for t in 0..6 {
                let pool = &pool;
                s.spawn(move || {
                    for i in 0..5 {
                        pool.send(&envelope(), &body(t * 100 + i)[..]).unwrap();
                    }
                });
            }
        });
        assert!(counter.sessions.load(Ordering::SeqCst) <= 2);
        assert_eq!(counter.messages.lock().unwrap().len(), 30);
        pool.close();
        server.shutdown(Duration::from_secs(1));
    });
}
