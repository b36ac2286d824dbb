//! Harness shared by the tests of this directory: a time-bounded runner,
//! client and server settings, and a test CA. (The real-peer tests of every
//! adapter, this one included, are in `tests/adapters`.)

#![allow(dead_code)]

use rcgen::{BasicConstraints, Certificate, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::PrivatePkcs8KeyDer;
use smtp_blocking::{
    CertificateDer, Connection, Decision, Handler, Message, RootCertStore, ServerTls, TlsSettings,
};
use smtp_blocking::{Collect, Transaction};
use smtp_proto::sasl::AuthRequest;
use smtp_proto::{
    ClientConfig, ClientTimeouts, EnhancedStatus, Envelope, Host, Mailbox, Recipient, Reply,
    ReplyCode, ServerConfig, TlsPolicy,
};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The time a test may take under `bounded`.
pub(crate) fn limit() -> Duration {
    Duration::from_secs(30)
}

/// Runs `test` on its own thread and fails if it takes longer than `limit`.
pub(crate) fn bounded(limit: Duration, test: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        test();
        let _ = tx.send(());
    });
    match rx.recv_timeout(limit) {
        Ok(()) => thread.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The test panicked: re-raise its panic here.
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test did not finish within {limit:?}"),
    }
}

/// The same timeout for every step of a client session.
pub(crate) fn timeouts(each: Duration) -> ClientTimeouts {
    ClientTimeouts {
        greeting: each,
        ehlo: each,
        starttls: each,
        auth: each,
        mail: each,
        rcpt: each,
        data_init: each,
        data_block: each,
        data_end: each,
        quit: each,
    }
}

/// A client as `client.test` with `policy` and 10 s per step.
pub(crate) fn client_config(policy: TlsPolicy) -> ClientConfig {
    ClientConfig::new(Host::parse("client.test").unwrap())
        .with_tls(policy)
        .with_timeouts(timeouts(Duration::from_secs(10)))
}

/// A server as `mx.test` that drops idle sessions after 10 s.
pub(crate) fn server_config() -> ServerConfig {
    ServerConfig::new("mx.test").with_idle_timeout(Duration::from_secs(10))
}

/// From sender@example.com to rcpt@example.org.
pub(crate) fn envelope() -> Envelope {
    Envelope::new(Mailbox::parse("sender@example.com").unwrap().into())
        .with_recipient(Recipient::new(Mailbox::parse("rcpt@example.org").unwrap()))
}

/// Keeps every message and accepts it.
#[derive(Clone, Default)]
pub(crate) struct Recorder(pub(crate) Arc<Mutex<Vec<Message>>>);

impl Handler for Recorder {
    type Sink = Collect;

    fn data_start(&self, _conn: &Connection, transaction: &Transaction) -> Result<Collect, Reply> {
        let this = self.clone();
        Ok(Collect::new(transaction, move |message| {
            let message = &message;
            this.0.lock().unwrap().push(message.clone());
            Decision::Accept
        }))
    }
}

/// The AUTH decision of a server with one account: `user` / `secret`.
pub(crate) fn user_secret(request: &AuthRequest) -> Decision {
    if request.username() == "user" && request.verify_password("secret") {
        Decision::Accept
    } else {
        let reply = Reply::new(
            ReplyCode::AUTH_INVALID,
            EnhancedStatus::new(5, 7, 8),
            ["Bad credentials"],
        )
        .unwrap();
        Decision::Reject(reply)
    }
}

/// A test CA and a certificate for `names` it issued.
pub(crate) struct TestCa {
    pub(crate) ca: Certificate,
    pub(crate) leaf: Certificate,
    pub(crate) key: KeyPair,
}

/// Generates a CA and a certificate for `names` signed by it; if `expired`,
/// the certificate expired in 2001.
pub(crate) fn test_ca(names: &[&str], expired: bool) -> TestCa {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mailwire test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    if expired {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    let leaf = params.signed_by(&key, &issuer).unwrap();
    TestCa { ca, leaf, key }
}

/// A test CA and a server certificate it issued.
pub(crate) struct Pki {
    pub(crate) ca: CertificateDer<'static>,
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: Vec<u8>,
}

impl Pki {
    /// A CA, and a certificate for `names` signed by it.
    pub(crate) fn new(names: &[&str]) -> Pki {
        Pki::build(names, false)
    }

    /// As [`Pki::new`], with a server certificate that expired in 2001.
    pub(crate) fn expired(names: &[&str]) -> Pki {
        Pki::build(names, true)
    }

    fn build(names: &[&str], expired: bool) -> Pki {
        let pki = test_ca(names, expired);
        Pki {
            ca: pki.ca.der().clone(),
            chain: vec![pki.leaf.der().clone()],
            key: pki.key.serialize_der(),
        }
    }

    pub(crate) fn server(&self) -> ServerTls {
        let key = PrivatePkcs8KeyDer::from(self.key.clone()).into();
        ServerTls::from_der(self.chain.clone(), key).unwrap()
    }

    pub(crate) fn client(&self) -> TlsSettings {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).unwrap();
        TlsSettings::new().with_root_store(roots)
    }
}
