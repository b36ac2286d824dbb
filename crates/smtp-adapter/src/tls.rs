//! TLS with rustls (ring provider): the client's and the server's settings,
//! the rustls configurations built from them, what a finished handshake
//! tells, and a failed one's reason in words. The handshake itself is the
//! adapter's: it owns the socket.

use crate::verifier::PinnedOrWebPki;
use crate::Error;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use smtp_proto::TlsInfo;
use std::fmt;
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
/// host name given to the client's `connect_tls` as the SNI name and the name
/// the certificate must carry. [`with_ca_file`](Self::with_ca_file) adds a
/// private CA, or a server's own self-signed certificate, to that.
#[derive(Clone)]
pub struct TlsSettings {
    roots: RootCertStore,
    /// Certificates trusted as they are when the server presents exactly
    /// one of them (a self-signed server certificate, even one marked
    /// CA:TRUE, which webpki would refuse as a server's own).
    pinned: Vec<CertificateDer<'static>>,
    accept_invalid_certs: bool,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("roots", &self.roots.len())
            .field("pinned", &self.pinned.len())
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
            pinned: Vec::new(),
            accept_invalid_certs: false,
        }
    }

    /// Also trusts the certificates of a PEM file, beside the roots already
    /// trusted: each as a certificate authority (a private CA), and each as
    /// a server certificate accepted when the server presents exactly it (a
    /// self-signed certificate made by `openssl req -x509`, CA:TRUE or
    /// not). The server's name is still checked against it.
    pub fn with_ca_file(mut self, path: impl AsRef<Path>) -> Result<TlsSettings, Error> {
        let certs = read_pem_certificates(path.as_ref())?;
        for cert in certs {
            self = self.with_certificate(cert);
        }
        Ok(self)
    }

    /// Like [`with_ca_file`](Self::with_ca_file), but the file's
    /// certificates replace the public roots: only they are trusted.
    pub fn with_ca_file_only(mut self, path: impl AsRef<Path>) -> Result<TlsSettings, Error> {
        let certs = read_pem_certificates(path.as_ref())?;
        self.roots = RootCertStore::empty();
        self.pinned.clear();
        for cert in certs {
            self = self.with_certificate(cert);
        }
        Ok(self)
    }

    /// Also trusts one certificate (DER): as an authority when it can be
    /// one, and as the server's own when presented exactly.
    pub fn with_certificate(mut self, cert: CertificateDer<'static>) -> TlsSettings {
        // A certificate webpki cannot use as an anchor (a malformed
        // extension, say) is still trusted as an exact match.
        let _ = self.roots.add(cert.clone());
        if !self.pinned.contains(&cert) {
            self.pinned.push(cert);
        }
        self
    }

    /// Trusts exactly these roots instead of the public ones (and no
    /// certificate trusted as an exact match).
    pub fn with_root_store(mut self, roots: RootCertStore) -> TlsSettings {
        self.roots = roots;
        self.pinned.clear();
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
        } else if self.pinned.is_empty() {
            builder
                .with_root_certificates(self.roots.clone())
                .with_no_client_auth()
        } else {
            let verifier = PinnedOrWebPki::new(&self.roots, self.pinned.clone(), provider)
                .map_err(|e| tls_config("setting up certificate checks".into(), e))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
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

    /// From a rustls server configuration built elsewhere: one whose
    /// certificate resolver reloads its files, say.
    pub fn from_config(config: Arc<rustls::ServerConfig>) -> ServerTls {
        ServerTls {
            config,
            implicit: false,
        }
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

/// Every certificate of a PEM file; none is an error.
fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let what = || format!("reading certificates from {}", path.display());
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| tls_config(what(), e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_config(what(), e))?;
    if certs.is_empty() {
        return Err(tls_config(what(), "no certificate in the file"));
    }
    Ok(certs)
}

pub(crate) fn tls_config(what: String, why: impl fmt::Display) -> Error {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_file(name: &str) -> std::path::PathBuf {
        let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let path = std::env::temp_dir().join(format!("smtp-adapter-{}-{name}", std::process::id()));
        std::fs::write(&path, key.cert.pem()).unwrap();
        path
    }

    #[test]
    fn ca_file_adds_to_the_public_roots_and_ca_file_only_replaces_them() {
        let path = pem_file("roots.pem");
        let public = TlsSettings::new().roots.len();
        assert!(public > 100);
        let added = TlsSettings::new().with_ca_file(&path).unwrap();
        assert_eq!((added.roots.len(), added.pinned.len()), (public + 1, 1));
        let only = TlsSettings::new().with_ca_file_only(&path).unwrap();
        assert_eq!((only.roots.len(), only.pinned.len()), (1, 1));
        assert!(only.upgrade("localhost").is_ok());
        std::fs::write(&path, "no certificate here").unwrap();
        assert!(TlsSettings::new().with_ca_file(&path).is_err());
        let _ = std::fs::remove_file(&path);
    }
}
