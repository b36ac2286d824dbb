//! The reloading certificate: replaced files are served on the next
//! handshake once the check interval has passed, broken files keep the old
//! pair in service, and a later good pair is taken up.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use session_server::test_support::TempDir;
use session_server::{CertError, ReloadingCert};
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A new self-signed certificate and key, PEM.
fn generate(name: &str) -> (String, String, Vec<u8>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem(), cert.der().to_vec())
}

fn write(dir: &Path, cert: &str, key: &str) {
    // Written beside, then renamed: what a careful renewal tool does.
    fs::write(dir.join("cert.tmp"), cert).unwrap();
    fs::write(dir.join("key.tmp"), key).unwrap();
    fs::rename(dir.join("cert.tmp"), dir.join("cert.pem")).unwrap();
    fs::rename(dir.join("key.tmp"), dir.join("key.pem")).unwrap();
}

/// Records the certificate the server presented; checks signatures only.
#[derive(Debug)]
struct Record(Mutex<Option<Vec<u8>>>, Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Record {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.0.lock().unwrap() = Some(end_entity.to_vec());
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.1.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.1.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.1.signature_verification_algorithms.supported_schemes()
    }
}

/// Runs a full handshake in memory against `server` and returns the
/// certificate presented (the handshake also proves the key signs for it).
fn presented(server: &Arc<rustls::ServerConfig>) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let record = Arc::new(Record(Mutex::new(None), Arc::clone(&provider)));
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&record) as _)
        .with_no_client_auth();
    let mut client = rustls::ClientConnection::new(
        Arc::new(client_config),
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut srv = rustls::ServerConnection::new(Arc::clone(server)).unwrap();
    for _ in 0..10 {
        let mut buf = Vec::new();
        client.write_tls(&mut buf).unwrap();
        srv.read_tls(&mut buf.as_slice()).unwrap();
        srv.process_new_packets().unwrap();
        let mut buf = Vec::new();
        srv.write_tls(&mut buf).unwrap();
        client.read_tls(&mut buf.as_slice()).unwrap();
        client.process_new_packets().unwrap();
        if !client.is_handshaking() && !srv.is_handshaking() {
            break;
        }
    }
    assert!(!client.is_handshaking(), "handshake did not finish");
    let cert = record.0.lock().unwrap().clone();
    cert.unwrap()
}

/// What a broken pair's error must be.
type Expect = fn(&CertError) -> bool;

#[test]
fn replaced_files_are_served_and_broken_ones_keep_the_old_pair() {
    let dir = TempDir::new("reload");
    let (cert_a, key_a, der_a) = generate("localhost");
    write(&dir.0, &cert_a, &key_a);
    let reloading = ReloadingCert::load(
        dir.0.join("cert.pem"),
        dir.0.join("key.pem"),
        Duration::ZERO,
    )
    .unwrap();
    let server = reloading.server_config().unwrap();
    assert_eq!(presented(&server), der_a);

    // A new pair: the next handshake presents it.
    let (cert_b, key_b, der_b) = generate("localhost");
    write(&dir.0, &cert_b, &key_b);
    assert_eq!(presented(&server), der_b);
    assert_eq!(reloading.last_error(), None);

    // Garbage, a truncated certificate, a key of another certificate, a
    // missing file: each keeps B in service, with the reason kept.
    let (_, key_c, _) = generate("localhost");
    let truncated = &cert_a[..cert_a.len() / 2];
    let cases: [(&str, &str, Expect); 5] = [
        (
            "-----BEGIN CERTIFICATE-----\nMIIBAAAAAAAA\n-----END CERTIFICATE-----\n",
            &key_b,
            |e| matches!(e, CertError::Certificate { .. }),
        ),
        ("not a certificate at all\n", &key_b, |e| {
            matches!(e, CertError::Certificate { .. })
        }),
        (truncated, &key_b, |e| {
            matches!(e, CertError::Certificate { .. })
        }),
        (&cert_b, &key_c, |e| matches!(e, CertError::Mismatch { .. })),
        (
            &cert_b,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            |e| matches!(e, CertError::Key { .. }),
        ),
    ];
    for (cert, key, expected) in cases {
        write(&dir.0, cert, key);
        assert_eq!(presented(&server), der_b, "{cert:.40} / {key:.40}");
        let error = reloading.last_error().expect("the failure is kept");
        assert!(expected(&error), "{error}");
        // A forced reload says why too, and changes nothing.
        assert!(reloading.reload().is_err());
        assert_eq!(presented(&server), der_b);
    }
    fs::remove_file(dir.0.join("key.pem")).unwrap();
    assert_eq!(presented(&server), der_b);
    assert!(matches!(
        reloading.last_error(),
        Some(CertError::Read { .. })
    ));

    // Good files again: taken up.
    write(&dir.0, &cert_a, &key_a);
    assert_eq!(presented(&server), der_a);
    assert_eq!(reloading.last_error(), None);
}

#[test]
fn within_the_interval_the_files_are_not_looked_at_until_reload_is_called() {
    let dir = TempDir::new("reload-interval");
    let (cert_a, key_a, der_a) = generate("localhost");
    write(&dir.0, &cert_a, &key_a);
    let reloading = ReloadingCert::load(
        dir.0.join("cert.pem"),
        dir.0.join("key.pem"),
        Duration::from_secs(3600),
    )
    .unwrap();
    let server = reloading.server_config().unwrap();
    let (cert_b, key_b, der_b) = generate("localhost");
    write(&dir.0, &cert_b, &key_b);
    assert_eq!(presented(&server), der_a);
    assert_eq!(reloading.reload(), Ok(true));
    assert_eq!(presented(&server), der_b);
    assert_eq!(reloading.reload(), Ok(false));
}

#[test]
fn a_server_does_not_start_on_broken_files() {
    let dir = TempDir::new("reload-broken");
    fs::write(dir.0.join("cert.pem"), "junk").unwrap();
    fs::write(dir.0.join("key.pem"), "junk").unwrap();
    let error = ReloadingCert::load(
        dir.0.join("cert.pem"),
        dir.0.join("key.pem"),
        Duration::ZERO,
    )
    .unwrap_err();
    assert!(matches!(error, CertError::Certificate { .. }), "{error}");
    let missing = ReloadingCert::load(
        dir.0.join("none.pem"),
        dir.0.join("key.pem"),
        Duration::ZERO,
    )
    .unwrap_err();
    assert!(matches!(missing, CertError::Read { .. }), "{missing}");
}
