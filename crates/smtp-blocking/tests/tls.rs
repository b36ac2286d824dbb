//! TLS between our client and our server on 127.0.0.1: STARTTLS, implicit
//! TLS, certificate checks and the wrong security mode for a port.
//!
//! A CA and the server certificates are generated at test time; no key is
//! stored anywhere. Every test runs under `bounded`.

use smtp_blocking::{
    AcceptAll, Client, Connection, Decision, Error, Handler, Message, Server, ServerHandle,
    ServerTls, TlsSettings,
};
use smtp_blocking::{Collect, Transaction};
use smtp_proto::sasl::{AuthRequest, ClientCredentials};
use smtp_proto::Reply;
use smtp_proto::{ClientConfig, ClientError, Host, Mechanism, Secret, ServerConfig, TlsPolicy};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod support;

use support::{bounded, client_config, envelope, limit, server_config, timeouts, user_secret, Pki};

const CONNECT: Duration = Duration::from_secs(5);
const HOST: &str = "127.0.0.1";

fn localhost() -> Pki {
    Pki::new(&["localhost", "127.0.0.1"])
}

/// A message and the user who sent it.
type Received = (Message, Option<String>);

/// Keeps every message; accepts `user` / `secret` for AUTH.
#[derive(Clone, Default)]
struct Recorder {
    messages: Arc<Mutex<Vec<Received>>>,
}

impl Handler for Recorder {
    type Sink = Collect;

    fn data_start(&self, conn: &Connection, transaction: &Transaction) -> Result<Collect, Reply> {
        let this = self.clone();
        let conn = conn.clone();
        Ok(Collect::new(transaction, move |message| {
            let message = &message;
            let mut messages = this.messages.lock().unwrap();
            messages.push((message.clone(), conn.authenticated.clone()));
            Decision::Accept
        }))
    }

    fn auth(&self, _: &Connection, request: &AuthRequest) -> Decision {
        user_secret(request)
    }
}

fn start(config: ServerConfig, tls: ServerTls) -> (ServerHandle, Recorder) {
    let recorder = Recorder::default();
    let server = Server::bind_tls("127.0.0.1:0", config, tls, recorder.clone()).unwrap();
    (server.spawn().unwrap(), recorder)
}

/// Connects to `server` on 127.0.0.1 with `config`, trusting `tls`.
fn connect(
    server: &ServerHandle,
    config: ClientConfig,
    tls: &TlsSettings,
) -> Result<Client, Error> {
    Client::connect_tls(HOST, server.local_addr().port(), config, tls, CONNECT)
}

fn deliver(client: &mut Client) {
    client
        .send(&envelope(), &b"Subject: tls\r\n\r\nsecret words\r\n"[..])
        .unwrap();
}

#[test]
fn starttls_required_delivers_over_tls() {
    bounded(limit(), || {
        let pki = localhost();
        let config = server_config().with_starttls(true).with_require_tls(true);
        let (server, recorder) = start(config, pki.server());
        let port = server.local_addr().port();
        let mut client = Client::connect_tls(
            HOST,
            port,
            client_config(TlsPolicy::Required),
            &pki.client(),
            CONNECT,
        )
        .unwrap();
        let tls = client.tls().expect("Ready reports TLS").clone();
        assert!(tls.verified);
        assert!(tls.protocol.starts_with("TLSv1."), "{}", tls.protocol);
        assert_eq!(tls.peer_name.as_deref(), Some(HOST));
        assert!(!client.capabilities().starttls());
        deliver(&mut client);
        client.quit().unwrap();
        server.shutdown(Duration::from_secs(1));
        let messages = recorder.messages.lock().unwrap();
        assert_eq!(messages.len(), 1);
        assert!(messages[0].0.bytes.ends_with(b"secret words\r\n"));
    });
}

#[test]
fn implicit_tls_delivers() {
    bounded(limit(), || {
        let pki = localhost();
        let (server, recorder) = start(server_config(), pki.server().implicit());
        let port = server.local_addr().port();
        let mut client = Client::connect_tls(
            HOST,
            port,
            client_config(TlsPolicy::Implicit),
            &pki.client(),
            CONNECT,
        )
        .unwrap();
        assert!(client.tls().is_some_and(|t| t.verified));
        deliver(&mut client);
        deliver(&mut client);
        client.quit().unwrap();
        server.shutdown(Duration::from_secs(1));
        assert_eq!(recorder.messages.lock().unwrap().len(), 2);
    });
}

#[test]
fn opportunistic_uses_tls_when_offered_and_plain_otherwise() {
    bounded(limit(), || {
        let pki = localhost();
        let (server, _) = start(server_config().with_starttls(true), pki.server());
        let mut client = connect(
            &server,
            client_config(TlsPolicy::Opportunistic),
            &pki.client(),
        )
        .unwrap();
        assert!(client.tls().is_some());
        deliver(&mut client);
        client.quit().unwrap();
        server.shutdown(Duration::from_secs(1));

        let plain = Server::bind("127.0.0.1:0", server_config(), AcceptAll)
            .unwrap()
            .spawn()
            .unwrap();
        let mut client = connect(
            &plain,
            client_config(TlsPolicy::Opportunistic),
            &pki.client(),
        )
        .unwrap();
        assert!(client.tls().is_none());
        deliver(&mut client);
        client.quit().unwrap();
        plain.shutdown(Duration::from_secs(1));
    });
}

#[test]
fn auth_plain_over_starttls() {
    bounded(limit(), || {
        let pki = localhost();
        // Neither side allows PLAIN over plaintext: AUTH only works after
        // the handshake.
        let config = server_config()
            .with_starttls(true)
            .with_require_tls(true)
            .with_auth(vec![Mechanism::Plain])
            .with_require_auth(true);
        let (server, recorder) = start(config, pki.server());
        let credentials = ClientCredentials::Password {
            username: "user".into(),
            password: Secret::new("secret".into()),
        };
        let config = client_config(TlsPolicy::Required).with_credentials(credentials);
        let mut client = connect(&server, config, &pki.client()).unwrap();
        assert!(client.tls().is_some());
        deliver(&mut client);
        client.quit().unwrap();
        server.shutdown(Duration::from_secs(1));
        let messages = recorder.messages.lock().unwrap();
        assert_eq!(messages[0].1.as_deref(), Some("user"));
    });
}

fn expect_tls_error(err: &Error, words: &str) {
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains(words), "{err}");
}

/// Requires STARTTLS of a server with `pki`'s certificate, trusting `tls`,
/// and expects a TLS error naming `words`; returns the server's recorder.
fn expect_refused(pki: &Pki, tls: &TlsSettings, words: &str) -> Recorder {
    let (server, recorder) = start(server_config().with_starttls(true), pki.server());
    let err = connect(&server, client_config(TlsPolicy::Required), tls).unwrap_err();
    expect_tls_error(&err, words);
    server.shutdown(Duration::from_secs(1));
    recorder
}

#[test]
fn an_untrusted_certificate_is_refused_clearly() {
    bounded(limit(), || {
        let pki = localhost();
        // The public roots do not know the test CA.
        let recorder = expect_refused(&pki, &TlsSettings::new(), "not trusted");
        assert!(recorder.messages.lock().unwrap().is_empty());
    });
}

#[test]
fn a_certificate_for_another_name_is_refused_clearly() {
    bounded(limit(), || {
        let pki = Pki::new(&["other.test"]);
        expect_refused(&pki, &pki.client(), "name mismatch");
    });
}

#[test]
fn an_expired_certificate_is_refused_clearly() {
    bounded(limit(), || {
        let pki = Pki::expired(&["127.0.0.1"]);
        expect_refused(&pki, &pki.client(), "has expired");
    });
}

#[test]
fn the_dangerous_switch_accepts_an_untrusted_certificate() {
    bounded(limit(), || {
        let pki = Pki::new(&["other.test"]);
        let (server, recorder) = start(server_config().with_starttls(true), pki.server());
        let mut client = connect(
            &server,
            client_config(TlsPolicy::Required),
            &TlsSettings::new().dangerous_accept_invalid_certs(),
        )
        .unwrap();
        assert!(client.tls().is_some_and(|t| !t.verified));
        deliver(&mut client);
        client.quit().unwrap();
        server.shutdown(Duration::from_secs(1));
        assert_eq!(recorder.messages.lock().unwrap().len(), 1);
    });
}

#[test]
fn starttls_against_an_implicit_tls_port_says_so() {
    bounded(limit(), || {
        let pki = localhost();
        let (server, _) = start(server_config(), pki.server().implicit());
        let config = ClientConfig::new(Host::parse("client.test").unwrap())
            .with_tls(TlsPolicy::Required)
            .with_timeouts(timeouts(Duration::from_secs(1)));
        let err = connect(&server, config, &pki.client()).unwrap_err();
        assert!(matches!(err, Error::NoGreeting { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("did not send an SMTP greeting"), "{text}");
        assert!(text.contains("implicit-TLS port (465)"), "{text}");
        server.shutdown(Duration::from_secs(1));
    });
}

#[test]
fn implicit_tls_against_a_plaintext_port_says_so() {
    bounded(limit(), || {
        let pki = localhost();
        let server = Server::bind("127.0.0.1:0", server_config(), AcceptAll)
            .unwrap()
            .spawn()
            .unwrap();
        let config = ClientConfig::new(Host::parse("client.test").unwrap())
            .with_tls(TlsPolicy::Implicit)
            .with_timeouts(timeouts(Duration::from_secs(1)));
        let err = connect(&server, config, &pki.client()).unwrap_err();
        expect_tls_error(&err, "the server answered in plaintext");
        assert!(
            err.to_string()
                .contains("is this a STARTTLS port (587/25)? try `starttls`"),
            "{err}"
        );
        server.shutdown(Duration::from_secs(1));
    });
}

#[test]
fn tls_misconfiguration_is_refused() {
    let pki = localhost();
    // A certificate with neither STARTTLS nor implicit TLS enabled.
    let err =
        Server::bind_tls("127.0.0.1:0", server_config(), pki.server(), AcceptAll).unwrap_err();
    assert!(err.to_string().contains("neither STARTTLS"), "{err}");
    // A client asked for TLS without TLS settings.
    let server = Server::bind("127.0.0.1:0", server_config(), AcceptAll)
        .unwrap()
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    let err = Client::connect(addr, client_config(TlsPolicy::Implicit), CONNECT).unwrap_err();
    assert!(matches!(err, Error::TlsNotConfigured { .. }), "{err:?}");
    let err = Client::connect(addr, client_config(TlsPolicy::Required), CONNECT).unwrap_err();
    assert!(
        matches!(err.client_error(), Some(ClientError::StartTlsUnavailable)),
        "{err:?}"
    );
    server.shutdown(Duration::from_secs(1));
    // A missing certificate file.
    let err = ServerTls::from_pem_files("no-such-cert.pem", "no-such-key.pem").unwrap_err();
    assert!(err.to_string().contains("no-such-cert.pem"), "{err}");
}

#[test]
fn builder_observer_sees_a_redacted_dialogue_and_the_certificate_chain() {
    use smtp_proto::transcript::Transcript;
    bounded(limit(), || {
        let pki = localhost();
        let config = server_config()
            .with_starttls(true)
            .with_require_tls(true)
            .with_auth(vec![Mechanism::Plain])
            .with_require_auth(true);
        let (server, recorder) = start(config, pki.server());
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&lines);
        let credentials = ClientCredentials::Password {
            username: "user".into(),
            password: Secret::new("secret".into()),
        };
        let mut client =
            Client::builder(client_config(TlsPolicy::Required).with_credentials(credentials))
                .tls(pki.client())
                .connect_timeout(CONNECT)
                .observer(Transcript::client(move |line| {
                    sink.lock().unwrap().push(line.to_string())
                }))
                .connect(HOST, server.local_addr().port())
                .unwrap();
        let tls = client.tls().unwrap().clone();
        assert_eq!(tls.peer_certificates, vec![pki.chain[0].to_vec()]);
        deliver(&mut client);
        client.quit().unwrap();
        server.shutdown(Duration::from_secs(1));
        assert_eq!(recorder.messages.lock().unwrap().len(), 1);
        let lines = lines.lock().unwrap().clone();
        let position = |wanted: &str| {
            lines
                .iter()
                .position(|l| l.starts_with(wanted))
                .unwrap_or_else(|| panic!("no line starting {wanted:?} in {lines:#?}"))
        };
        // In order: plaintext greeting and STARTTLS, then TLS, AUTH
        // redacted, the BDAT chunk summarised, QUIT.
        let order = [
            position("<-  220 "),
            position(" -> STARTTLS"),
            position("=== TLS started"),
            position(" ~> AUTH "),
            position("<~  235 "),
            position("=== BDAT chunk of 30 bytes"),
            position(" ~> QUIT"),
        ];
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{lines:#?}");
        assert!(
            lines[order[3]].ends_with("[credentials redacted]"),
            "{lines:#?}"
        );
        // Neither the password nor the PLAIN blob (which holds it) shows.
        let plain = smtp_proto::sasl::encode_base64(b"\0user\0secret");
        assert!(!lines
            .iter()
            .any(|l| l.contains("secret") || l.contains(&plain)));
    });
}

/// `ClientBuilder::addresses`: a name no resolver knows is reached at the address given,
/// and the certificate is still checked against that name (and refused for another).
#[test]
fn given_addresses_connect_while_the_certificate_is_checked_by_name() {
    bounded(limit(), || {
        let pki = Pki::new(&["mx.made-up.test"]);
        let config = server_config().with_starttls(true).with_require_tls(true);
        let (server, recorder) = start(config, pki.server());
        let port = server.local_addr().port();
        let loopback = [std::net::IpAddr::from([127, 0, 0, 1])];
        let mut client = Client::builder(client_config(TlsPolicy::Required))
            .tls(pki.client())
            .connect_timeout(CONNECT)
            .addresses(loopback)
            .connect("mx.made-up.test", port)
            .unwrap();
        let tls = client.tls().expect("Ready reports TLS").clone();
        assert!(tls.verified);
        assert_eq!(tls.peer_name.as_deref(), Some("mx.made-up.test"));
        deliver(&mut client);
        client.quit().unwrap();
        let err = Client::builder(client_config(TlsPolicy::Required))
            .tls(pki.client())
            .connect_timeout(CONNECT)
            .addresses(loopback)
            .connect("other.made-up.test", port)
            .unwrap_err();
        expect_tls_error(&err, "name mismatch");
        server.shutdown(Duration::from_secs(1));
        assert_eq!(recorder.messages.lock().unwrap().len(), 1);
    });
}
