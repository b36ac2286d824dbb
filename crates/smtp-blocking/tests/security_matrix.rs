//! Our client against our server across every security mode and every AUTH
//! mechanism both sides speak, with a CA generated at test time: each pair
//! delivers and the server sees the right user, or (secrets over plaintext)
//! the client refuses before sending anything.

use smtp_blocking::{Client, Connection, Decision, Error, Handler, Message, Server, ServerTls};
use smtp_blocking::{Collect, Transaction};
use smtp_proto::sasl::{AuthRequest, ClientCredentials};
use smtp_proto::Reply;
use smtp_proto::{ClientError, Mechanism, Secret, TlsPolicy};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod support;

use support::{bounded, client_config, envelope, limit, server_config, user_secret, Pki};

const CONNECT: Duration = Duration::from_secs(5);

/// A message and the user who sent it.
type Received = (Message, Option<String>);

/// Keeps each message with the user who sent it.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Received>>>);

impl Handler for Recorder {
    type Sink = Collect;

    fn data_start(&self, conn: &Connection, transaction: &Transaction) -> Result<Collect, Reply> {
        let this = self.clone();
        let conn = conn.clone();
        Ok(Collect::new(transaction, move |message| {
            let message = &message;
            let user = conn.authenticated.clone();
            this.0.lock().unwrap().push((message.clone(), user));
            Decision::Accept
        }))
    }

    fn auth(&self, _: &Connection, request: &AuthRequest) -> Decision {
        user_secret(request)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Starttls,
    Opportunistic,
    Implicit,
    Plain,
}

/// Starts a server for `mode` offering only `mechanism`, connects with
/// `user` / `secret`, and sends one message.
fn run(pki: &Pki, mode: Mode, mechanism: Mechanism) -> Result<Option<String>, Error> {
    let mut config = server_config()
        .with_auth(vec![mechanism.clone()])
        .with_require_auth(true);
    let tls: Option<ServerTls> = match mode {
        Mode::Starttls | Mode::Opportunistic => {
            config = config.with_starttls(true).with_require_tls(true);
            Some(pki.server())
        }
        Mode::Implicit => Some(pki.server().implicit()),
        Mode::Plain => None,
    };
    let recorder = Recorder::default();
    let server = match tls {
        Some(tls) => Server::bind_tls("127.0.0.1:0", config, tls, recorder.clone()),
        None => Server::bind("127.0.0.1:0", config, recorder.clone()),
    }
    .unwrap()
    .spawn()
    .unwrap();
    let policy = match mode {
        Mode::Starttls => TlsPolicy::Required,
        Mode::Opportunistic => TlsPolicy::Opportunistic,
        Mode::Implicit => TlsPolicy::Implicit,
        Mode::Plain => TlsPolicy::None,
    };
    let credentials = ClientCredentials::Password {
        username: "user".into(),
        password: Secret::new("secret".into()),
    };
    let result = Client::builder(client_config(policy).with_credentials(credentials))
        .tls(pki.client())
        .connect_timeout(CONNECT)
        .connect("127.0.0.1", server.local_addr().port())
        .and_then(|mut client| {
            assert_eq!(client.tls().is_some(), mode != Mode::Plain);
            client.send(&envelope(), &b"Subject: matrix\r\n\r\nhello\r\n"[..])?;
            client.quit()
        });
    server.shutdown(Duration::from_secs(1));
    let stored = recorder.0.lock().unwrap().clone();
    result.map(|()| {
        assert_eq!(stored.len(), 1, "{mode:?} {mechanism:?}");
        stored[0].1.clone()
    })
}

#[test]
fn every_security_mode_with_every_mechanism() {
    bounded(limit() * 2, || {
        let pki = Pki::new(&["localhost", "127.0.0.1"]);
        for mode in [
            Mode::Starttls,
            Mode::Opportunistic,
            Mode::Implicit,
            Mode::Plain,
        ] {
            for mechanism in [Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5] {
                let outcome = run(&pki, mode, mechanism.clone());
                let secret_in_clear = mode == Mode::Plain && mechanism != Mechanism::CramMd5;
                if secret_in_clear {
                    // Neither side shows a password over plaintext: the
                    // server does not offer PLAIN or LOGIN there, and the
                    // client would not use them.
                    let error = outcome.expect_err("PLAIN/LOGIN over plaintext");
                    assert!(
                        matches!(
                            error.client_error(),
                            Some(ClientError::AuthNeedsTls | ClientError::AuthUnavailable { .. })
                        ),
                        "{mode:?} {mechanism:?}: {error}"
                    );
                } else {
                    let user = outcome.unwrap_or_else(|e| panic!("{mode:?} {mechanism:?}: {e}"));
                    assert_eq!(user.as_deref(), Some("user"), "{mode:?} {mechanism:?}");
                }
            }
        }
    });
}
