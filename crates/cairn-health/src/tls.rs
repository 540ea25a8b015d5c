//! TLS client settings for checks (`TLSSkipVerify`, `TLSServerName`), on rustls with ring.
//!
//! Like Consul's `OutgoingTLSConfigForCheck`: system roots, the certificate verified against
//! `TLSServerName` when set (else the address's host), and no verification at all with
//! `TLSSkipVerify` (handshake signatures are still checked, as Go does).

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use std::sync::{Arc, OnceLock};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The platform verifier is built once: it loads the system roots from disk. Without any
/// system roots, certificates are refused with the reason (plain HTTP checks keep working).
fn platform_verifier() -> Arc<dyn ServerCertVerifier> {
    static VERIFIER: OnceLock<Arc<dyn ServerCertVerifier>> = OnceLock::new();
    VERIFIER
        .get_or_init(
            || match rustls_platform_verifier::Verifier::new(provider()) {
                Ok(v) => Arc::new(v),
                Err(e) => {
                    tracing::warn!(error = %e, "no system CA roots for TLS health checks");
                    Arc::new(NoRoots {
                        provider: provider(),
                        reason: e.to_string(),
                    })
                }
            },
        )
        .clone()
}

/// Refuses every certificate because no roots could be loaded.
#[derive(Debug)]
struct NoRoots {
    provider: Arc<CryptoProvider>,
    reason: String,
}

impl ServerCertVerifier for NoRoots {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Err(rustls::Error::General(self.reason.clone()))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        SkipVerify(self.provider.clone()).verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        SkipVerify(self.provider.clone()).verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Accepts any certificate but still checks handshake signatures (`TLSSkipVerify`).
#[derive(Debug)]
struct SkipVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for SkipVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
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
        rustls::crypto::verify_tls12_signature(
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
        rustls::crypto::verify_tls13_signature(
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

/// Verifies against a fixed name instead of the one connected to (`TLSServerName` for HTTP
/// checks, where the SNI comes from the URL).
#[derive(Debug)]
struct FixedName {
    inner: Arc<dyn ServerCertVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for FixedName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Builds a rustls client config for a check.
///
/// `pin_name` verifies the certificate against `server_name` whatever name the connection
/// uses (for HTTP checks); `alpn` lists the protocols to offer.
pub(crate) fn client_config(
    skip_verify: bool,
    server_name: &str,
    pin_name: bool,
    alpn: &[&[u8]],
) -> Result<ClientConfig, String> {
    let verifier: Arc<dyn ServerCertVerifier> = if skip_verify {
        Arc::new(SkipVerify(provider()))
    } else {
        let platform = platform_verifier();
        if pin_name && !server_name.is_empty() {
            let name = ServerName::try_from(server_name.to_owned())
                .map_err(|e| format!("tls: invalid server name {server_name:?}: {e}"))?;
            Arc::new(FixedName {
                inner: platform,
                name,
            })
        } else {
            platform
        }
    };
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// TLS settings of a TCP, gRPC or H2PING check, built once per check.
#[derive(Clone)]
pub(crate) struct TlsSettings {
    config: Result<Arc<ClientConfig>, String>,
    server_name: String,
}

impl TlsSettings {
    /// Settings for `TLSSkipVerify`/`TLSServerName`, offering `alpn`.
    pub(crate) fn new(skip_verify: bool, server_name: &str, alpn: &[&[u8]]) -> Self {
        TlsSettings {
            config: client_config(skip_verify, server_name, false, alpn).map(Arc::new),
            server_name: server_name.to_owned(),
        }
    }

    /// Performs the TLS handshake on `stream`; the server name is `TLSServerName` or `host`.
    pub(crate) async fn connect(
        &self,
        host: &str,
        stream: TcpStream,
    ) -> Result<TlsStream<TcpStream>, String> {
        let config = self.config.clone()?;
        let name = if self.server_name.is_empty() {
            host
        } else {
            &self.server_name
        };
        let name = ServerName::try_from(name.to_owned())
            .map_err(|e| format!("tls: invalid server name {name:?}: {e}"))?;
        tokio_rustls::TlsConnector::from(config)
            .connect(name, stream)
            .await
            .map_err(|e| format!("tls: {}", tls_error_text(&e)))
    }
}

/// The text of a TLS handshake error (rustls wraps its error in an `io::Error`).
fn tls_error_text(err: &std::io::Error) -> String {
    match err.get_ref() {
        Some(inner) => match inner.downcast_ref::<rustls::Error>() {
            Some(e) => rustls_text(e),
            None => inner.to_string(),
        },
        None => crate::goerr::plain_io_text(err),
    }
}

/// Go's wording for the common certificate failures, rustls's text otherwise (without the
/// `tls: ` prefix, which callers add).
pub(crate) fn rustls_text(err: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match err {
        rustls::Error::InvalidCertificate(c) => {
            let why = match c {
                C::UnknownIssuer => "x509: certificate signed by unknown authority".to_owned(),
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    "x509: certificate is not valid for the requested name".to_owned()
                }
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. } => {
                    "x509: certificate has expired or is not yet valid".to_owned()
                }
                other => format!("x509: {other:?}"),
            };
            format!("failed to verify certificate: {why}")
        }
        other => other.to_string(),
    }
}

/// A connected byte stream, plain or TLS.
pub(crate) trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

/// Connects to `addr` over TCP and, with `tls`, performs the handshake. Errors are Go-style
/// texts. No timeout here; callers bound the whole attempt.
pub(crate) async fn dial(addr: &str, tls: Option<&TlsSettings>) -> Result<Box<dyn Io>, String> {
    let stream = crate::goerr::dial_tcp(addr).await?;
    match tls {
        None => Ok(Box::new(stream)),
        Some(tls) => {
            let host = crate::goerr::split_host_port(addr)
                .map(|(h, _)| h)
                .unwrap_or_default();
            Ok(Box::new(tls.connect(host, stream).await?))
        }
    }
}
