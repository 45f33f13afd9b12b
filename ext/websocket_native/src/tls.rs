//! rustls client configuration and the words for TLS failures.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use once_cell::sync::Lazy;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, Error as TlsError,
    RootCertStore, SignatureScheme,
};

use crate::tls_keys::Catcher;

/// The `tls:` options of a client, already checked for type by Ruby.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    pub verify_peer: bool,
    pub root_cert_files: Vec<PathBuf>,
    /// Trust only `root_cert_files` (`tls: { ca_file: }`), not the system roots as well.
    pub pin_roots: bool,
    pub cert_chain_file: Option<PathBuf>,
    pub private_key_file: Option<PathBuf>,
}

/// A ready client configuration and a sentence saying where its trust anchors came from.
#[derive(Clone)]
pub struct TlsSetup {
    pub config: Arc<ClientConfig>,
    pub roots: String,
}

impl TlsSetup {
    /// A copy for one connection whose TLS 1.3 traffic secrets are caught, so that the
    /// connection can be taken over from rustls after the upgrade (tls_stream.rs).
    pub fn catching(&self) -> (TlsSetup, Arc<Catcher>) {
        let catcher = Arc::new(Catcher::new(self.config.key_log.clone()));
        let mut config = (*self.config).clone();
        config.key_log = catcher.clone();
        config.enable_secret_extraction = true;
        let setup = TlsSetup {
            config: Arc::new(config),
            roots: self.roots.clone(),
        };
        (setup, catcher)
    }
}

static CACHE: Lazy<Mutex<HashMap<String, TlsSetup>>> = Lazy::new(|| Mutex::new(HashMap::new()));

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// Builds (or reuses) the configuration for these options. Errors are configuration mistakes
/// (an unreadable file, a key that does not parse) and are raised from `Client.new`.
pub fn setup(opts: &TlsOptions) -> Result<TlsSetup, String> {
    let key = cache_key(opts);
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(found) = cache.get(&key) {
        return Ok(found.clone());
    }
    let built = build(opts)?;
    if cache.len() > 64 {
        cache.clear();
    }
    cache.insert(key, built.clone());
    Ok(built)
}

fn file_stamp(path: &Path) -> String {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    format!("{}@{:?}", path.display(), modified)
}

fn cache_key(opts: &TlsOptions) -> String {
    let files: Vec<String> = opts
        .root_cert_files
        .iter()
        .chain(opts.cert_chain_file.iter())
        .chain(opts.private_key_file.iter())
        .map(|p| file_stamp(p))
        .collect();
    let env = |k| std::env::var_os(k).map(|v| v.to_string_lossy().into_owned());
    format!(
        "{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}",
        opts.verify_peer,
        opts.pin_roots,
        files,
        opts.cert_chain_file,
        opts.private_key_file,
        env("SSL_CERT_FILE"),
        env("SSL_CERT_DIR")
    )
}

fn build(opts: &TlsOptions) -> Result<TlsSetup, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let (builder, roots) = if opts.verify_peer {
        let (store, roots) = root_store(&opts.root_cert_files, opts.pin_roots)?;
        (builder.with_root_certificates(store), roots)
    } else {
        let verifier = Arc::new(AcceptAnyCertificate(provider));
        (
            builder
                .dangerous()
                .with_custom_certificate_verifier(verifier),
            insecure_words(),
        )
    };
    Ok(TlsSetup {
        config: Arc::new(client_auth(builder, opts)?),
        roots,
    })
}

fn insecure_words() -> String {
    "none: verify_peer is false".to_string()
}

/// Adds the client certificate (if any) and the ALPN offer to a configuration being built.
fn client_auth(
    builder: rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>,
    opts: &TlsOptions,
) -> Result<ClientConfig, String> {
    let mut config = match (&opts.cert_chain_file, &opts.private_key_file) {
        (Some(chain), Some(key)) => {
            let certs = read_certs(chain, "tls.cert_chain_file")?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                format!(
                    "tls.private_key_file {}: no usable private key ({e})",
                    key.display()
                )
            })?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("client certificate and key do not fit together: {e}"))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(
                "tls.cert_chain_file and tls.private_key_file must be given together".to_string(),
            )
        }
    };
    // Offer only HTTP/1.1 so an edge that speaks HTTP/2 does not pick it for the upgrade.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The certificates a server presented, leaf first, as DER.
pub type SeenChain = Arc<Mutex<Vec<Vec<u8>>>>;

/// For the doctor: the same trust and client certificate as `setup`, but the verifier keeps the
/// chain it was shown (also when it rejects it), and SNI can be switched off to see how clients
/// without SNI fare. Never cached: each probe gets its own record.
pub fn recording_setup(opts: &TlsOptions, send_sni: bool) -> Result<(TlsSetup, SeenChain), String> {
    let provider = provider();
    let seen = SeenChain::default();
    let (check, roots) = if opts.verify_peer {
        let (store, roots) = root_store(&opts.root_cert_files, opts.pin_roots)?;
        let check = if store.is_empty() {
            Check::NoRoots
        } else {
            WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                .build()
                .map(Check::Roots)
                .map_err(|e| format!("TLS setup failed: {e}"))?
        };
        (check, roots)
    } else {
        (Check::Any, insecure_words())
    };
    let verifier = Arc::new(Recording {
        check,
        any: AcceptAnyCertificate(provider.clone()),
        seen: seen.clone(),
    });
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = client_auth(builder, opts)?;
    config.enable_sni = send_sni;
    Ok((
        TlsSetup {
            config: Arc::new(config),
            roots,
        },
        seen,
    ))
}

#[derive(Debug)]
enum Check {
    Any,
    NoRoots,
    Roots(Arc<WebPkiServerVerifier>),
}

/// Verifies like the client would, and writes down the chain first.
#[derive(Debug)]
struct Recording {
    check: Check,
    any: AcceptAnyCertificate,
    seen: SeenChain,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.as_ref().to_vec())
            .collect();
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = chain;
        match &self.check {
            Check::Any => Ok(ServerCertVerified::assertion()),
            Check::NoRoots => Err(TlsError::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
            Check::Roots(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.any.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.any.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.any.supported_verify_schemes()
    }
}

/// What a finished handshake agreed on, in the words of the RFCs and server logs.
pub struct Negotiated {
    pub version: String,
    pub cipher: String,
    pub alpn: Option<String>,
}

pub fn negotiated(conn: &rustls::ClientConnection) -> Negotiated {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
        Some(other) => format!("{other:?}"),
        None => "unknown".to_string(),
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_else(|| "unknown".to_string());
    let alpn = conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    Negotiated {
        version,
        cipher,
        alpn,
    }
}

fn read_certs(path: &Path, option: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    if let Err(e) = std::fs::metadata(path) {
        return Err(format!("{option} {} cannot be read: {e}", path.display()));
    }
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{option} {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{option} {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

fn root_store(files: &[PathBuf], pinned: bool) -> Result<(RootCertStore, String), String> {
    let mut store = RootCertStore::empty();
    if pinned {
        let mut words = Vec::new();
        for path in files {
            let certs = read_certs(path, "tls.ca_file")?;
            let (n, _) = store.add_parsable_certificates(certs);
            words.push(format!("{n} from {}", path.display()));
        }
        return Ok((store, format!("only {}", words.join(", "))));
    }
    let native = rustls_native_certs::load_native_certs();
    let (added, _ignored) = store.add_parsable_certificates(native.certs);
    let source = match std::env::var_os("SSL_CERT_FILE") {
        Some(f) => format!("SSL_CERT_FILE={}", f.to_string_lossy()),
        None => match std::env::var_os("SSL_CERT_DIR") {
            Some(d) => format!("SSL_CERT_DIR={}", d.to_string_lossy()),
            None => "the system store".to_string(),
        },
    };
    let mut words = format!("{added} from {source}");
    if let Some(e) = native.errors.first() {
        words.push_str(&format!(" (could not read all of it: {e})"));
    }
    for path in files {
        let certs = read_certs(path, "tls.extra_ca_file")?;
        let (n, _) = store.add_parsable_certificates(certs);
        words.push_str(&format!(", {n} from {}", path.display()));
    }
    Ok((store, words))
}

/// `verify_peer: false`: any certificate is accepted, but handshake signatures are still checked.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
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
    ) -> Result<HandshakeSignatureValid, TlsError> {
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

/// The RFC 8446 name of an alert, as operators find it in server logs and search engines.
pub fn alert_name(alert: AlertDescription) -> String {
    let name = match u8::from(alert) {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return format!("{alert:?}"),
    };
    name.to_string()
}

/// What the client presented during the handshake, for the explanation of a failure.
pub struct Presented<'a> {
    /// The SNI name sent, or None when the URL host is an IP address and no sni_hostname was given.
    pub sni: Option<&'a str>,
    /// The name (or address) the certificate was checked against.
    pub checked_name: &'a str,
    pub roots: &'a str,
}

impl Presented<'_> {
    fn sni_words(&self) -> String {
        match self.sni {
            Some(name) => format!("The SNI name sent was \"{name}\"; check that the server is configured for it."),
            None => format!(
                "No SNI was sent because the URL host {} is an IP address; connect by host name or pass tls: {{ sni_hostname: \"app.example.com\" }}.",
                self.checked_name
            ),
        }
    }
}

/// Explains a rustls error raised during the handshake.
pub fn explain(err: &TlsError, presented: &Presented<'_>) -> String {
    match err {
        TlsError::AlertReceived(alert) if u8::from(*alert) == 112 => format!(
            "the server rejected the name (alert unrecognized_name). {}",
            presented.sni_words()
        ),
        TlsError::AlertReceived(alert) => {
            let mut s = format!("the server sent TLS alert {}", alert_name(*alert));
            if u8::from(*alert) == 116 {
                s.push_str(" (it wants a client certificate: pass tls: { cert_chain_file:, private_key_file: })");
            } else if u8::from(*alert) == 70 {
                s.push_str(" (it supports neither TLS 1.2 nor TLS 1.3)");
            }
            if presented.sni.is_none() {
                s.push_str(". ");
                s.push_str(&presented.sni_words());
            }
            s
        }
        TlsError::InvalidCertificate(cert) => explain_certificate(cert, presented),
        TlsError::InvalidMessage(_) | TlsError::InappropriateMessage { .. } => {
            "the server did not answer with TLS (is this port plain HTTP? then use a ws:// URL)"
                .to_string()
        }
        TlsError::PeerIncompatible(p) => {
            format!("the server and this client share no TLS version or cipher suite ({p:?}); this client speaks TLS 1.2 and 1.3")
        }
        other => format!("{other}"),
    }
}

fn explain_certificate(err: &CertificateError, presented: &Presented<'_>) -> String {
    match err {
        CertificateError::UnknownIssuer => format!(
            "the server certificate is not trusted: its issuer is not among the trusted roots ({}). Trust the CA that signed it with tls: {{ ca_file: \"ca.pem\" }} (only it) or {{ extra_ca_file: \"ca.pem\" }} (it and the system roots; faye drop-in: root_cert_file), or fix the server's certificate chain.",
            presented.roots
        ),
        CertificateError::Expired => "the server certificate has expired".to_string(),
        CertificateError::ExpiredContext { time, not_after } => format!(
            "the server certificate expired on {} (this box's clock says {}); renew it on the server, or fix the clock here",
            utc_date(*not_after),
            utc_date(*time)
        ),
        CertificateError::NotValidYet => "the server certificate is not valid yet".to_string(),
        CertificateError::NotValidYetContext { time, not_before } => format!(
            "the server certificate is not valid before {} (this box's clock says {}); check the clock here",
            utc_date(*not_before),
            utc_date(*time)
        ),
        CertificateError::NotValidForName => format!(
            "the server certificate is not valid for the name \"{}\"",
            presented.checked_name
        ),
        CertificateError::NotValidForNameContext { presented: names, .. } => format!(
            "the server certificate is not valid for the name \"{}\"; it covers {}",
            presented.checked_name,
            if names.is_empty() {
                "no names".to_string()
            } else {
                names.iter().map(|n| plain_name(n)).collect::<Vec<_>>().join(", ")
            }
        ),
        CertificateError::Revoked => "the server certificate has been revoked".to_string(),
        CertificateError::BadSignature => "the server certificate has a bad signature".to_string(),
        other => format!("the server certificate was rejected: {other}"),
    }
}

/// rustls lists presented names as `DnsName("a.example")`; operators want `a.example`.
fn plain_name(name: &str) -> &str {
    for prefix in ["DnsName(\"", "IpAddress("] {
        if let Some(inner) = name.strip_prefix(prefix) {
            return inner.trim_end_matches(')').trim_end_matches('"');
        }
    }
    name
}

/// `YYYY-MM-DD HH:MM:SS UTC` without a date crate.
fn utc_date(t: UnixTime) -> String {
    let secs = t.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates() {
        assert_eq!(
            utc_date(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                0
            ))),
            "1970-01-01 00:00:00 UTC"
        );
        assert_eq!(
            utc_date(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                1_709_251_199
            ))),
            "2024-02-29 23:59:59 UTC"
        );
    }

    #[test]
    fn strips_name_wrappers() {
        assert_eq!(plain_name("DnsName(\"other.test\")"), "other.test");
        assert_eq!(plain_name("IpAddress(10.0.0.1)"), "10.0.0.1");
        assert_eq!(plain_name("plain"), "plain");
    }

    #[test]
    fn names_alerts() {
        assert_eq!(
            alert_name(AlertDescription::UnrecognisedName),
            "unrecognized_name"
        );
        assert_eq!(
            alert_name(AlertDescription::HandshakeFailure),
            "handshake_failure"
        );
    }
}
