//! Every client (blocking, async-std and smol) against a server we did not
//! write: Python's aiosmtpd, in plain TCP, with STARTTLS required and with
//! implicit TLS, logging in with AUTH PLAIN and AUTH LOGIN.
//!
//! aiosmtpd must be installed (`python3 -m pip install aiosmtpd`, done by
//! `tests/run-all.sh`); without it these tests fail rather than skip.

use mailwire_adapter_tests::peers::{free_port, require_aiosmtpd, Aiosmtpd, TempDir};
use mailwire_adapter_tests::{bounded, envelope, run_client, timeouts, Pki, KINDS};
use smtp_adapter::TlsSettings;
use smtp_proto::sasl::ClientCredentials;
use smtp_proto::{ClientConfig, Host, Secret, TlsPolicy};
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn config(policy: TlsPolicy) -> ClientConfig {
    ClientConfig::new(Host::parse("client.test").unwrap())
        .with_tls(policy)
        .with_timeouts(timeouts(Duration::from_secs(10)))
}

#[test]
fn every_client_delivers_to_aiosmtpd() {
    bounded(LIMIT, || {
        require_aiosmtpd();
        for kind in KINDS {
            let port = free_port();
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let listen = format!("127.0.0.1:{port}");
            let mut peer = Aiosmtpd::start(addr, ["-u", "-m", "aiosmtpd", "-n", "-l", &listen]);
            let first =
                format!("Subject: first {kind:?}\r\n\r\nHello\r\n.a line with a leading dot\r\n");
            let messages = [
                (envelope(&["rcpt@example.org"]), first.into_bytes()),
                (
                    envelope(&["rcpt@example.org"]),
                    b"Subject: second\r\n\r\nThe same connection again\r\n".to_vec(),
                ),
            ];
            let outcome = run_client(kind, addr, config(TlsPolicy::None), None, &messages)
                .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            for result in &outcome.results {
                let report = result.as_ref().unwrap_or_else(|e| panic!("{kind:?}: {e}"));
                assert_eq!(report.accepted().count(), 1);
            }
            let printed = peer.stop();
            assert!(
                printed.contains(&format!("Subject: first {kind:?}")),
                "{printed}"
            );
            assert!(printed.contains(".a line with a leading dot"), "{printed}");
            assert!(printed.contains("The same connection again"), "{printed}");
        }
    });
}

/// aiosmtpd with TLS (STARTTLS required, or implicit TLS from the first
/// byte) and AUTH for `user` / `secret` (PLAIN and LOGIN, or LOGIN only),
/// printing each message with how it came.
const TLS_SERVER: &str = r#"
import ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

class Printer:
    async def handle_DATA(self, server, session, envelope):
        encrypted = server.transport.get_extra_info("sslcontext") is not None
        tls = "tls" if encrypted else "plain"
        data = session.auth_data
        user = data.login.decode() if isinstance(data, LoginPassword) else "-"
        print(f"MESSAGE over {tls} as {user}:", envelope.content.decode("utf-8", "replace"), flush=True)
        return "250 OK"

def check(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"user" \
        and auth_data.password == b"secret"
    if ok:
        print(f"AUTH {mechanism} ok", flush=True)
    return AuthResult(success=ok, auth_data=auth_data)

port, cert, key, mode, mechanisms = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
# aiosmtpd hides AUTH on an implicit-TLS connection when auth_require_tls
# is set (it only counts STARTTLS), so that mode relies on TLS being there
# from the first byte.
options = dict(authenticator=check, auth_require_tls=(mode != "implicit"), auth_required=True)
if mechanisms == "LOGIN":
    options["auth_exclude_mechanism"] = ["PLAIN"]
if mode == "implicit":
    controller = Controller(Printer(), hostname="127.0.0.1", port=port,
                            ssl_context=context, server_kwargs=options)
else:
    controller = Controller(Printer(), hostname="127.0.0.1", port=port,
                            tls_context=context, require_starttls=True, server_kwargs=options)
controller.start()
print("READY", flush=True)
time.sleep(60)
"#;

/// Every client against aiosmtpd in `mode` (`starttls` or `implicit`)
/// offering `mechanisms` (`PLAIN LOGIN` or `LOGIN`): one message each,
/// delivered over verified TLS after logging in.
fn every_client_over_tls(mode: &str, mechanisms: &str, policy: TlsPolicy) {
    require_aiosmtpd();
    let pki = Pki::new();
    let dir = TempDir::new("adapter-tests-tls");
    let (ca, cert, key) = (
        dir.0.join("ca.pem"),
        dir.0.join("cert.pem"),
        dir.0.join("key.pem"),
    );
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    std::fs::write(&cert, &pki.cert_pem).unwrap();
    std::fs::write(&key, &pki.key_pem).unwrap();
    let expected_mechanism = if mechanisms == "LOGIN" {
        "LOGIN"
    } else {
        "PLAIN"
    };
    for kind in KINDS {
        let port = free_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let port_arg = port.to_string();
        let args: [&OsStr; 7] = [
            "-c".as_ref(),
            TLS_SERVER.as_ref(),
            port_arg.as_ref(),
            cert.as_ref(),
            key.as_ref(),
            mode.as_ref(),
            mechanisms.as_ref(),
        ];
        let mut peer = Aiosmtpd::start(addr, args);
        let tls = TlsSettings::new().with_ca_file(&ca).unwrap();
        let body = format!("Subject: tls\r\n\r\nHello from the {kind:?} client over {mode}\r\n");
        let messages = [(envelope(&["rcpt@example.org"]), body.into_bytes())];
        let credentials = ClientCredentials::Password {
            username: "user".into(),
            password: Secret::new("secret".into()),
        };
        let outcome = run_client(
            kind,
            addr,
            config(policy).with_credentials(credentials),
            Some(tls),
            &messages,
        )
        .unwrap_or_else(|e| panic!("{kind:?} {mode} {mechanisms}: {e}"));
        let info = outcome.tls.expect("TLS in use");
        assert!(info.verified);
        assert!(
            outcome.results[0].is_ok(),
            "{kind:?}: {:?}",
            outcome.results[0]
        );
        let printed = peer.stop();
        assert!(
            printed.contains(&format!("AUTH {expected_mechanism} ok")),
            "{kind:?} {mode} {mechanisms}: {printed}"
        );
        assert!(printed.contains("MESSAGE over tls as user:"), "{printed}");
        assert!(
            printed.contains(&format!("Hello from the {kind:?} client over {mode}")),
            "{printed}"
        );
    }
}

#[test]
fn every_client_logs_in_with_plain_over_starttls() {
    bounded(LIMIT, || {
        every_client_over_tls("starttls", "PLAIN LOGIN", TlsPolicy::Required)
    });
}

#[test]
fn every_client_logs_in_with_login_over_implicit_tls() {
    bounded(LIMIT, || {
        every_client_over_tls("implicit", "LOGIN", TlsPolicy::Implicit)
    });
}
