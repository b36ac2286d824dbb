//! TLS with rustls (ring provider): the client's and the server's settings,
//! the rustls configurations built from them, what a finished handshake
//! tells, and a failed one's reason in words. The handshake itself is the
//! adapter's: it owns the socket.

use crate::Error;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use smtp_proto::TlsInfo;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How long a handshake may take when the session set no deadline.
pub const DEFAULT_HANDSHAKE: Duration = Duration::from_secs(60);

/// The longest a server waits for a TLS handshake, whatever the session's
/// deadline: a connection thread stuck in a handshake would hold up a
/// shutdown.
pub const SERVER_HANDSHAKE_LIMIT: Duration = Duration::from_secs(30);

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// How the client checks the server's certificate.
///
/// By default: the Mozilla root store (`webpki-roots`), TLS 1.2 or 1.3, the
/// host name given to the client's `connect_tls` as the SNI name and the name the certificate must carry.
#[derive(Clone)]
pub struct TlsSettings {
    roots: RootCertStore,
    accept_invalid_certs: bool,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("roots", &self.roots.len())
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .finish()
    }
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings::new()
    }
}

impl TlsSettings {
    /// The public web's roots (`webpki-roots`), certificates verified.
    pub fn new() -> TlsSettings {
        TlsSettings {
            roots: RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
            accept_invalid_certs: false,
        }
    }

    /// Trusts only the CA certificates of a PEM file (a private CA, a test
    /// CA) instead of the public roots.
    pub fn with_ca_file(self, path: impl AsRef<Path>) -> Result<TlsSettings, Error> {
        let path = path.as_ref();
        let what = || format!("reading CA certificates from {}", path.display());
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| tls_config(what(), e))? {
            let cert = cert.map_err(|e| tls_config(what(), e))?;
            roots.add(cert).map_err(|e| tls_config(what(), e))?;
        }
        if roots.is_empty() {
            return Err(tls_config(what(), "no certificate in the file"));
        }
        Ok(self.with_root_store(roots))
    }

    /// Trusts exactly these roots instead of the public ones.
    pub fn with_root_store(mut self, roots: RootCertStore) -> TlsSettings {
        self.roots = roots;
        self
    }

    /// **Dangerous**: accepts any certificate, expired, self-signed or for
    /// another name. The connection is encrypted but the server is not
    /// authenticated, so anyone on the path can read and change the mail.
    /// Only for tests and for servers reached over a trusted network; never
    /// the default. [`TlsInfo::verified`] is then `false`.
    pub fn dangerous_accept_invalid_certs(mut self) -> TlsSettings {
        self.accept_invalid_certs = true;
        self
    }

    /// The rustls client configuration for a server called `host` (a DNS
    /// name or an IP address): the SNI name and the name its certificate
    /// must carry.
    pub fn upgrade(&self, host: &str) -> Result<Upgrade, Error> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| tls_config(format!("using {host:?} as the server's name"), e))?;
        let provider = provider();
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_config("setting up TLS".into(), e))?;
        let config = if self.accept_invalid_certs {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(self.roots.clone())
                .with_no_client_auth()
        };
        Ok(Upgrade::Client {
            config: Arc::new(config),
            name,
            verified: !self.accept_invalid_certs,
        })
    }
}

/// The server's certificate chain and private key.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
    implicit: bool,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("implicit", &self.implicit)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// From PEM files: the certificate chain (leaf first) and the private
    /// key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        private_key: impl AsRef<Path>,
    ) -> Result<ServerTls, Error> {
        let (cert_path, key_path) = (cert_chain.as_ref(), private_key.as_ref());
        let what = || format!("reading certificates from {}", cert_path.display());
        let chain = CertificateDer::pem_file_iter(cert_path)
            .map_err(|e| tls_config(what(), e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| tls_config(what(), e))?;
        let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| {
            tls_config(
                format!("reading a private key from {}", key_path.display()),
                e,
            )
        })?;
        ServerTls::new(chain, key)
    }

    /// From DER in memory: the certificate chain (leaf first) and the
    /// private key.
    pub fn from_der(
        cert_chain: Vec<CertificateDer<'static>>,
        private_key: PrivateKeyDer<'static>,
    ) -> Result<ServerTls, Error> {
        ServerTls::new(cert_chain, private_key)
    }

    fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<ServerTls, Error> {
        if chain.is_empty() {
            return Err(tls_config(
                "setting up the server's TLS".into(),
                "the certificate chain is empty",
            ));
        }
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
            .map_err(|e| tls_config("setting up the server's TLS".into(), e))?;
        Ok(ServerTls {
            config: Arc::new(config),
            implicit: false,
        })
    }

    /// Implicit TLS (port 465 style): every connection handshakes on accept,
    /// before the greeting. Without it, TLS starts with STARTTLS.
    pub fn implicit(mut self) -> ServerTls {
        self.implicit = true;
        self
    }

    /// TLS starts on accept, before the greeting.
    pub fn is_implicit(&self) -> bool {
        self.implicit
    }

    /// The rustls server configuration.
    pub fn upgrade(&self) -> Upgrade {
        Upgrade::Server(Arc::clone(&self.config))
    }
}

fn tls_config(what: String, why: impl fmt::Display) -> Error {
    Error::TlsConfig {
        what,
        reason: why.to_string(),
    }
}

/// The verifier behind [`TlsSettings::dangerous_accept_invalid_certs`]:
/// signatures are still checked (the handshake stays sound), the certificate
/// is not.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// How a plain connection becomes a TLS one: what an adapter needs to run
/// the handshake on its own socket.
#[derive(Clone)]
pub enum Upgrade {
    /// The client's side.
    Client {
        /// The rustls configuration (roots, verifier, protocol versions).
        config: Arc<rustls::ClientConfig>,
        /// The SNI name, and the name the certificate must carry.
        name: ServerName<'static>,
        /// The certificate is verified (false only with
        /// [`TlsSettings::dangerous_accept_invalid_certs`]).
        verified: bool,
    },
    /// The server's side.
    Server(Arc<rustls::ServerConfig>),
}

impl fmt::Debug for Upgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Upgrade::Client { name, .. } => write!(f, "Upgrade::Client({name:?})"),
            Upgrade::Server(_) => f.write_str("Upgrade::Server"),
        }
    }
}

/// What a finished handshake tells: protocol version and cipher suite. The
/// caller adds the peer name and whether the certificate verified.
pub fn tls_info(conn: &rustls::CommonState) -> TlsInfo {
    let protocol = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
        Some(other) => format!("{other:?}"),
        None => "unknown".to_owned(),
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .map_or_else(|| "unknown".to_owned(), |s| format!("{:?}", s.suite()));
    let chain = conn
        .peer_certificates()
        .map(|certs| certs.iter().map(|c| c.as_ref().to_vec()).collect())
        .unwrap_or_default();
    TlsInfo::new(protocol, cipher).with_peer_certificates(chain)
}

fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

fn describe_io(e: &io::Error) -> Option<String> {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            Some("the handshake did not finish in time".into())
        }
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => {
            Some("the other end closed the connection during the handshake".into())
        }
        _ => None,
    }
}

/// Why the client's handshake failed, in words: an untrusted, expired or
/// mismatched certificate, a plaintext server on an implicit-TLS
/// connection, a timeout. `implicit`: TLS before any SMTP (port 465 style).
pub fn describe_client_failure(
    e: &io::Error,
    name: &ServerName<'_>,
    implicit: bool,
) -> (TlsFailure, String) {
    let name = name.to_str();
    let reason = match rustls_error(e) {
        Some(rustls::Error::InvalidCertificate(cert)) => {
            return (TlsFailure::Certificate, certificate_words(cert, &name))
        }
        Some(rustls::Error::InvalidMessage(_)) if implicit => {
            return (
                TlsFailure::NotTls,
                "the server answered in plaintext: is this a STARTTLS port (587/25)? try \
                 `starttls`"
                    .into(),
            )
        }
        Some(rustls::Error::AlertReceived(alert)) => {
            format!("the server refused the handshake (alert {alert:?})")
        }
        Some(other) => format!("TLS error: {other}"),
        None => describe_io(e).unwrap_or_else(|| e.to_string()),
    };
    (TlsFailure::Other, reason)
}

/// Why the server's certificate was refused, in words.
fn certificate_words(cert: &CertificateError, name: &str) -> String {
    match cert {
        CertificateError::UnknownIssuer => "the server's certificate is not trusted: it was not \
                 issued by a known certificate authority (give its CA with \
                 TlsSettings::with_ca_file)"
            .into(),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("the server's certificate is not valid for the name {name} (name mismatch)")
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "the server's certificate has expired".into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "the server's certificate is not valid yet (check the clock)".into()
        }
        CertificateError::Revoked => "the server's certificate was revoked".into(),
        other => format!("the server's certificate was refused: {other:?}"),
    }
}

/// Why the server's handshake failed: its kind, and in words.
pub fn describe_server_failure(e: &io::Error) -> (TlsFailure, String) {
    match rustls_error(e) {
        Some(rustls::Error::AlertReceived(alert)) => (
            TlsFailure::Other,
            format!("the client refused the handshake (alert {alert:?}); does it trust our certificate?"),
        ),
        Some(rustls::Error::InvalidMessage(_)) => (
            TlsFailure::NotTls,
            "the client did not speak TLS (plaintext on an implicit-TLS port?)".into(),
        ),
        Some(other) => (TlsFailure::Other, format!("TLS error: {other}")),
        None => (
            TlsFailure::Other,
            describe_io(e).unwrap_or_else(|| e.to_string()),
        ),
    }
}

/// What kind of handshake failure, for a program choosing what to suggest
/// (the words are in [`Error::Tls`](crate::Error::Tls)'s `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The peer's certificate was refused: untrusted, expired, not yet
    /// valid, revoked, or not valid for the name.
    Certificate,
    /// The peer did not speak TLS: it answered in plaintext, most likely
    /// the wrong security mode for the port.
    NotTls,
    /// Anything else: an alert, a timeout, the connection lost.
    Other,
}

/// What the client's finished handshake tells, with the name checked and
/// whether the certificate was verified.
pub fn client_tls_info(
    conn: &rustls::ClientConnection,
    name: &ServerName<'_>,
    verified: bool,
) -> TlsInfo {
    tls_info(conn)
        .with_peer_name(name.to_str())
        .with_verified(verified)
}

/// What the server's finished handshake tells, with the SNI name the client
/// asked for.
pub fn server_tls_info(conn: &rustls::ServerConnection) -> TlsInfo {
    let info = tls_info(conn);
    match conn.server_name() {
        Some(sni) => info.with_peer_name(sni),
        None => info,
    }
}
