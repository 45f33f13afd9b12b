//! The lean stream against a rustls server on loopback: data both ways through both read paths,
//! KeyUpdate from each side (the server's asks for ours), close_notify, and TLS 1.2 left alone.

use std::sync::Arc;

use rustls::crypto::ring::default_provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{CipherSuite, ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::*;
use crate::tls::TlsSetup;

/// A self-signed certificate for app.test (P-256, valid until 2126), made for these tests only.
const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBjjCCATSgAwIBAgITGjYO5a6JlORyCcoQqLzRKOh9wDAKBggqhkjOPQQDAjAT
MREwDwYDVQQDDAhhcHAudGVzdDAgFw0yNjEyMDIwMzExMzlaGA8yMTI2MTEwODAz
MTEzOVowEzERMA8GA1UEAwwIYXBwLnRlc3QwWTATBgcqhkjOPQIBBggqhkjOPQMB
BwNCAARJtTKcqHXWh4vxn9FvKu2nH85hxW/OoKShB30xMnfsRr0eKa8Z0il8RDq8
9WU4XR7auj8X9DqMQYLM62NYhrC/o2UwYzAdBgNVHQ4EFgQUPBlEW4aOo6AxGc6g
CvZK9dUw67AwHwYDVR0jBBgwFoAUPBlEW4aOo6AxGc6gCvZK9dUw67AwEwYDVR0R
BAwwCoIIYXBwLnRlc3QwDAYDVR0TAQH/BAIwADAKBggqhkjOPQQDAgNIADBFAiEA
vAcGf5z6rJBJltbS0Um+QPwb/jssG0anZHSaNSa724UCIEeHw+j04Gtvv06Wm38w
h6CEPDEXrRMffwnuQfL29+M+
-----END CERTIFICATE-----";
const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg2jhjFwLY+L/oGNHE
WmqkKG0aIQ0tJ3UOnBQFQlt0J4ShRANCAARJtTKcqHXWh4vxn9FvKu2nH85hxW/O
oKShB30xMnfsRr0eKa8Z0il8RDq89WU4XR7auj8X9DqMQYLM62NYhrC/
-----END PRIVATE KEY-----";

const SIZE: usize = 200_000;

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

fn configs(
    suite: CipherSuite,
    version: &'static SupportedProtocolVersion,
) -> io::Result<(Arc<ServerConfig>, TlsSetup)> {
    let cert = CertificateDer::from_pem_slice(CERT.as_bytes()).map_err(other)?;
    let key = PrivateKeyDer::from_pem_slice(KEY.as_bytes()).map_err(other)?;
    let server = ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(&[version])
        .map_err(other)?
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .map_err(other)?;
    let mut provider = default_provider();
    provider.cipher_suites.retain(|s| s.suite() == suite);
    let mut roots = RootCertStore::empty();
    roots.add(cert).map_err(other)?;
    let client = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[version])
        .map_err(other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let setup = TlsSetup {
        config: Arc::new(client),
        roots: String::new(),
    };
    Ok((Arc::new(server), setup))
}

/// What the server does besides the usual.
#[derive(Clone, Copy)]
struct Script {
    /// Asks for a KeyUpdate before its "world": rustls, still driving the client, holds the
    /// reply back, and the hand-over must send it.
    early_update: bool,
    /// Ends with close_notify (or just closes the socket).
    clean_close: bool,
}

const PLAIN: Script = Script {
    early_update: false,
    clean_close: true,
};

/// The server: "hello" -> "world" while rustls drives the client; then SIZE bytes in, two
/// KeyUpdates (each asking for the client's), SIZE bytes out; then "bye"s until close_notify.
async fn serve(listener: TcpListener, config: Arc<ServerConfig>, script: Script) -> io::Result<()> {
    let (tcp, _) = listener.accept().await?;
    let mut tls = TlsAcceptor::from(config).accept(tcp).await?;
    let mut hello = [0u8; 5];
    tls.read_exact(&mut hello).await?;
    assert_eq!(&hello, b"hello");
    if script.early_update {
        tls.get_mut().1.refresh_traffic_keys().map_err(other)?;
    }
    tls.write_all(b"world").await?;
    tls.flush().await?;
    let mut got = vec![0u8; SIZE];
    tls.read_exact(&mut got).await?;
    assert!(
        got == pattern(SIZE),
        "the server got other bytes than were sent"
    );
    if tls.get_ref().1.protocol_version() == Some(ProtocolVersion::TLSv1_3) {
        tls.get_mut().1.refresh_traffic_keys().map_err(other)?;
        tls.flush().await?;
        tls.get_mut().1.refresh_traffic_keys().map_err(other)?;
    }
    tls.write_all(&pattern(SIZE)).await?;
    tls.flush().await?;
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).await?;
    assert_eq!(rest, b"bye".repeat(50));
    tls.write_all(b"last").await?;
    if script.clean_close {
        tls.shutdown().await?;
    } else {
        tls.flush().await?;
    }
    Ok(())
}

/// One connection; returns whether it was taken over from rustls.
async fn converse(
    suite: CipherSuite,
    version: &'static SupportedProtocolVersion,
    script: Script,
) -> io::Result<bool> {
    let (server_config, setup) = configs(suite, version)?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(serve(listener, server_config, script));
    let (setup, catcher) = setup.catching();
    let mut tcp = Tcp::connect(addr).await?;
    tcp.stop_at_records(true);
    let name = ServerName::try_from("app.test").map_err(other)?;
    let mut stream = TlsConnector::from(setup.config.clone())
        .connect(name, tcp)
        .await?;
    stream.write_all(b"hello").await?;
    stream.flush().await?;
    let mut world = [0u8; 5];
    stream.read_exact(&mut world).await?;
    assert_eq!(&world, b"world");
    let mut lean = match hand_over(stream, &catcher)? {
        Handover::Lean(lean, early) => {
            assert!(early.is_empty());
            lean
        }
        Handover::Kept(mut kept) => {
            kept.shutdown().await?;
            server.abort();
            return Ok(false);
        }
    };
    // Replace the sending key every 3 records: KeyUpdates of our own in the middle of the data.
    lean.set_send_limit(3);
    lean.write_all(&pattern(SIZE)).await?;
    lean.flush().await?;
    // Small reads (through `held`), then one large one (straight into the buffer).
    let mut got = Vec::with_capacity(SIZE);
    let mut small = [0u8; 7];
    while got.len() < 10_000 {
        let n = lean.read(&mut small).await?;
        assert!(n > 0, "early end of stream");
        got.extend_from_slice(&small[..n]);
    }
    let mut rest = vec![0u8; SIZE - got.len()];
    lean.read_exact(&mut rest).await?;
    got.extend_from_slice(&rest);
    assert!(
        got == pattern(SIZE),
        "the client got other bytes than were sent"
    );
    for _ in 0..50 {
        lean.write_all(b"bye").await?;
    }
    lean.shutdown().await?;
    let mut last = Vec::new();
    let ended = lean.read_to_end(&mut last).await;
    assert_eq!(last, b"last");
    match ended {
        Ok(_) => assert!(
            script.clean_close,
            "a close without close_notify read as a clean end"
        ),
        Err(e) => {
            assert!(
                !script.clean_close && e.kind() == io::ErrorKind::UnexpectedEof,
                "{e}"
            );
            // Reported on every later read too: never a clean end after a cut.
            let again = lean.read(&mut [0u8; 8]).await;
            assert!(again.is_err_and(|e| e.kind() == io::ErrorKind::UnexpectedEof));
        }
    }
    assert!(lean.held.capacity() == 0 && lean.unsent.capacity() == 0);
    server.await.map_err(other)??;
    Ok(true)
}

fn run(
    suite: CipherSuite,
    version: &'static SupportedProtocolVersion,
    script: Script,
) -> io::Result<bool> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(converse(suite, version, script))
}

/// One TLS 1.3 connection with this suite, which must be taken over.
fn tls13(suite: CipherSuite, script: Script) -> io::Result<()> {
    let taken = run(suite, &rustls::version::TLS13, script)?;
    assert!(taken, "{suite:?} was not taken over");
    Ok(())
}

#[test]
fn takes_over_every_tls13_suite() -> io::Result<()> {
    tls13(CipherSuite::TLS13_AES_128_GCM_SHA256, PLAIN)?;
    tls13(CipherSuite::TLS13_AES_256_GCM_SHA384, PLAIN)?;
    tls13(CipherSuite::TLS13_CHACHA20_POLY1305_SHA256, PLAIN)
}

#[test]
fn sends_the_key_update_reply_rustls_held_back() -> io::Result<()> {
    let script = Script {
        early_update: true,
        ..PLAIN
    };
    tls13(CipherSuite::TLS13_AES_128_GCM_SHA256, script)
}

#[test]
fn reports_a_close_without_close_notify() -> io::Result<()> {
    let script = Script {
        clean_close: false,
        ..PLAIN
    };
    tls13(CipherSuite::TLS13_AES_256_GCM_SHA384, script)
}

#[test]
fn leaves_tls12_to_rustls() -> io::Result<()> {
    let taken = run(
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        &rustls::version::TLS12,
        PLAIN,
    )?;
    assert!(!taken);
    Ok(())
}

#[test]
fn record_edge_follows_headers_and_bodies() {
    let mut edge = RecordEdge::default();
    assert_eq!(edge.allow(100), HEADER);
    edge.saw(&[23, 3, 3]);
    assert_eq!(edge.allow(100), 2);
    edge.saw(&[0, 10]);
    assert_eq!(edge.allow(100), 10);
    edge.saw(&[0; 4]);
    assert!(!edge.at_boundary());
    edge.saw(&[0; 6]);
    assert!(edge.at_boundary());
    edge.saw(&[23, 3, 3, 0, 0]);
    assert!(edge.at_boundary(), "an empty record ends with its header");
}
