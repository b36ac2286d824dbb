//! TLS with rustls (ring provider): the client's and the server's settings,
//! the stream the driver reads (plain TCP or TLS over it) and the handshake.

use crate::Error;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConnection, DigitallySignedStruct, RootCertStore, ServerConnection,
    SignatureScheme, StreamOwned,
};
use smtp_proto::TlsInfo;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest a server waits for a TLS handshake, whatever the session's
/// deadline: a connection thread stuck in a handshake would hold up a
/// shutdown.
const SERVER_HANDSHAKE_LIMIT: Duration = Duration::from_secs(30);

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// How the client checks the server's certificate.
///
/// By default: the Mozilla root store (`webpki-roots`), TLS 1.2 or 1.3, the
/// host name given to [`Client::connect_tls`](crate::Client::connect_tls) as
/// the SNI name and the name the certificate must carry.
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

    pub(crate) fn upgrade(&self, host: &str) -> Result<Upgrade, Error> {
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

    pub(crate) fn is_implicit(&self) -> bool {
        self.implicit
    }

    pub(crate) fn upgrade(&self) -> Upgrade {
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

/// How a plain connection becomes a TLS one.
#[derive(Clone)]
pub(crate) enum Upgrade {
    Client {
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
        verified: bool,
    },
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

/// Drives a handshake with explicit reads and writes, so that each read
/// waits only for what is left of the deadline.
macro_rules! handshake {
    ($conn:expr, $socket:expr, $deadline:expr) => {{
        let mut result: io::Result<()> = Ok(());
        while $conn.is_handshaking() || $conn.wants_write() {
            if $conn.wants_write() {
                if let Err(e) = $conn.write_tls(&mut $socket) {
                    result = Err(e);
                    break;
                }
                continue;
            }
            let left = $deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                result = Err(io::ErrorKind::TimedOut.into());
                break;
            }
            if let Err(e) = $socket.set_read_timeout(Some(left)) {
                result = Err(e);
                break;
            }
            match $conn.read_tls(&mut $socket) {
                Ok(0) => {
                    result = Err(io::ErrorKind::UnexpectedEof.into());
                    break;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            if let Err(e) = $conn.process_new_packets() {
                // Tell the peer why (the alert rustls queued), if it listens.
                while $conn.wants_write() {
                    if $conn.write_tls(&mut $socket).is_err() {
                        break;
                    }
                }
                result = Err(io::Error::new(io::ErrorKind::InvalidData, e));
                break;
            }
        }
        result
    }};
}

/// The socket, plain or under TLS.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(TcpStream),
    Client(Box<StreamOwned<ClientConnection, TcpStream>>),
    Server(Box<StreamOwned<ServerConnection, TcpStream>>),
    /// A handshake failed and took the socket with it.
    Gone,
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the connection is closed")
}

impl Stream {
    /// Bytes on this stream travel inside TLS.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Stream::Client(_) | Stream::Server(_))
    }

    fn socket(&self) -> Option<&TcpStream> {
        match self {
            Stream::Plain(s) => Some(s),
            Stream::Client(s) => Some(&s.sock),
            Stream::Server(s) => Some(&s.sock),
            Stream::Gone => None,
        }
    }

    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket().ok_or_else(gone)?.set_read_timeout(timeout)
    }

    pub(crate) fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.socket().ok_or_else(gone)?.set_nonblocking(nonblocking)
    }

    /// Ends the connection after what was written (with a TLS
    /// close_notify).
    pub(crate) fn close(&mut self) {
        // The peer may be gone already; there is nothing left to tell it.
        match self {
            Stream::Client(s) => {
                s.conn.send_close_notify();
                let _ = s.flush();
            }
            Stream::Server(s) => {
                s.conn.send_close_notify();
                let _ = s.flush();
            }
            Stream::Plain(s) => {
                let _ = s.flush();
            }
            Stream::Gone => {}
        }
        if let Some(socket) = self.socket() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Turns the plain stream into a TLS one and completes the handshake by
    /// `deadline`. On failure the stream is [`Stream::Gone`] and the
    /// reason is in words.
    pub(crate) fn start_tls(
        &mut self,
        upgrade: &Upgrade,
        deadline: Instant,
        implicit: bool,
    ) -> Result<TlsInfo, String> {
        let Stream::Plain(mut socket) = std::mem::replace(self, Stream::Gone) else {
            return Err("TLS is already in use on this connection".into());
        };
        match upgrade {
            Upgrade::Client {
                config,
                name,
                verified,
            } => {
                let mut conn = ClientConnection::new(Arc::clone(config), name.clone())
                    .map_err(|e| e.to_string())?;
                if let Err(e) = handshake!(conn, socket, deadline) {
                    let _ = socket.shutdown(Shutdown::Both);
                    return Err(describe_client_failure(&e, name, implicit));
                }
                let info = info(&conn)
                    .with_peer_name(name.to_str())
                    .with_verified(*verified);
                *self = Stream::Client(Box::new(StreamOwned::new(conn, socket)));
                Ok(info)
            }
            Upgrade::Server(config) => {
                let mut conn =
                    ServerConnection::new(Arc::clone(config)).map_err(|e| e.to_string())?;
                let deadline = deadline.min(Instant::now() + SERVER_HANDSHAKE_LIMIT);
                if let Err(e) = handshake!(conn, socket, deadline) {
                    let _ = socket.shutdown(Shutdown::Both);
                    return Err(describe_server_failure(&e));
                }
                let mut info = info(&conn);
                if let Some(sni) = conn.server_name() {
                    info = info.with_peer_name(sni);
                }
                *self = Stream::Server(Box::new(StreamOwned::new(conn, socket)));
                Ok(info)
            }
        }
    }
}

fn info(conn: &rustls::CommonState) -> TlsInfo {
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

fn describe_client_failure(e: &io::Error, name: &ServerName<'_>, implicit: bool) -> String {
    let name = name.to_str();
    match rustls_error(e) {
        Some(rustls::Error::InvalidCertificate(cert)) => match cert {
            CertificateError::UnknownIssuer => {
                "the server's certificate is not trusted: it was not \
                 issued by a known certificate authority (give its CA with \
                 TlsSettings::with_ca_file)"
                    .into()
            }
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
        },
        Some(rustls::Error::InvalidMessage(_)) if implicit => {
            "the server answered in plaintext: is this a STARTTLS port (587/25)? try `starttls`"
                .into()
        }
        Some(rustls::Error::AlertReceived(alert)) => {
            format!("the server refused the handshake (alert {alert:?})")
        }
        Some(other) => format!("TLS error: {other}"),
        None => describe_io(e).unwrap_or_else(|| e.to_string()),
    }
}

fn describe_server_failure(e: &io::Error) -> String {
    match rustls_error(e) {
        Some(rustls::Error::AlertReceived(alert)) => {
            format!("the client refused the handshake (alert {alert:?}); does it trust our certificate?")
        }
        Some(rustls::Error::InvalidMessage(_)) => {
            "the client did not speak TLS (plaintext on an implicit-TLS port?)".into()
        }
        Some(other) => format!("TLS error: {other}"),
        None => describe_io(e).unwrap_or_else(|| e.to_string()),
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Client(s) => s.read(buf),
            Stream::Server(s) => s.read(buf),
            Stream::Gone => Err(gone()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Client(s) => s.write(buf),
            Stream::Server(s) => s.write(buf),
            Stream::Gone => Err(gone()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Client(s) => s.flush(),
            Stream::Server(s) => s.flush(),
            Stream::Gone => Err(gone()),
        }
    }
}
