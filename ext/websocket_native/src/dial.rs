//! URL -> DNS -> TCP -> [[TLS to the proxy] HTTP CONNECT proxy] -> TLS -> HTTP upgrade, with one
//! typed failure per step.

use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::dns;
use crate::inbox::Step;
use crate::sockets::Tcp;
use crate::tls::{self, TlsSetup};
use crate::transport::Transport;

/// An HTTP proxy to tunnel through with CONNECT.
#[derive(Clone)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
    pub headers: Vec<(String, String)>,
    /// TLS to the proxy itself (an https:// proxy origin), and the name presented to it.
    pub tls: Option<TlsSetup>,
    pub sni_hostname: Option<String>,
}

impl Proxy {
    fn authority(&self) -> String {
        authority(&self.host, self.port)
    }
}

/// Everything needed to open one connection; checked by Ruby before it gets here.
pub struct Target {
    pub host: String,
    pub port: u16,
    pub resource: String,
    pub protocols: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub tls: Option<TlsSetup>,
    pub sni_hostname: Option<String>,
    pub proxy: Option<Proxy>,
    pub open_timeout: Duration,
    pub max_head: usize,
    /// The largest message accepted from the server (`max_length`).
    pub max_length: usize,
    /// Set when the connection's logger is on: receives one line per finished step.
    pub trace: Option<Trace>,
}

/// Where a connection's step lines go (to its logger, through the inbox).
pub type Trace = Arc<dyn Fn(Step, String) + Send + Sync>;

impl Target {
    /// `host:port` as people write it (IPv6 in brackets).
    pub fn authority(&self) -> String {
        authority(&self.host, self.port)
    }

    /// The name presented to the server: the SNI name and the Host header.
    pub fn presented_name(&self) -> &str {
        self.sni_hostname.as_deref().unwrap_or(&self.host)
    }

    /// Hands a step line to the trace; the text is only made when someone listens.
    fn note(&self, step: Step, text: impl FnOnce() -> String) {
        if let Some(trace) = &self.trace {
            trace(step, text());
        }
    }

    fn default_port(&self) -> u16 {
        if self.tls.is_some() {
            443
        } else {
            80
        }
    }
}

fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A failed step, with words for the operator.
#[derive(Debug)]
pub struct Failure {
    pub step: Step,
    pub message: String,
}

fn fail<T>(step: Step, message: String) -> Result<T, Failure> {
    Err(Failure { step, message })
}

pub struct Opened {
    /// The upgraded stream; bytes read past the reply are replayed by it first.
    pub transport: Transport,
    pub protocol: String,
    pub status: u16,
    pub status_line: String,
    pub headers: Vec<(String, String)>,
}

/// Runs every step under one deadline; on timeout the message names the step that was running.
pub async fn open(target: &Target) -> Result<Opened, Failure> {
    let mut step = Step::Dns;
    let outcome = tokio::time::timeout(target.open_timeout, steps(target, &mut step)).await;
    match outcome {
        Ok(result) => result,
        Err(_) => fail(
            step,
            timeout_words(target, step, "the connect_timeout option"),
        ),
    }
}

/// Words for a deadline that passed during `step`; `limit` names the setting that sets it.
pub fn timeout_words(target: &Target, step: Step, limit: &str) -> String {
    let hint = match step {
        Step::Dns => "the DNS server did not answer; check /etc/resolv.conf and the uplink",
        Step::Tcp => "no answer to the TCP connect; the address may be unreachable or a firewall drops the packets",
        Step::Proxy => "the proxy accepted the connection but did not answer CONNECT",
        Step::Tls => "the server accepted TCP but did not finish the TLS handshake; some edges stall instead of refusing when the SNI name is missing or unknown",
        Step::Http => "the server finished TLS/TCP but did not answer the upgrade request in full; check that the URL points at a WebSocket endpoint",
        Step::WebSocket | Step::Connection => "the server did not answer",
    };
    let proxy = match (&target.proxy, step) {
        (Some(p), Step::Dns | Step::Tcp) => {
            format!(" to the proxy {}", authority(&p.host, p.port))
        }
        _ => String::new(),
    };
    let busy = match step {
        Step::Dns => dns::saturation().map(|s| format!("; {s}")),
        _ => None,
    }
    .unwrap_or_default();
    format!(
        "Opening {} timed out after {} during {}{proxy} ({hint}{busy}). The limit is {limit}.",
        target.authority(),
        seconds(target.open_timeout),
        step.describe()
    )
}

pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.3} s")
    }
}

async fn steps(target: &Target, step: &mut Step) -> Result<Opened, Failure> {
    let (dial_host, dial_port) = match &target.proxy {
        Some(p) => (p.host.as_str(), p.port),
        None => (target.host.as_str(), target.port),
    };
    let started = std::time::Instant::now();
    let took = || format!("after {} ms", started.elapsed().as_millis());
    *step = Step::Dns;
    let addrs = resolve(dial_host, dial_port)
        .await
        .map_err(|f| via_proxy(f, target))?;
    target.note(Step::Dns, || {
        let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
        format!("dns: {dial_host} -> {} ({})", list.join(", "), took())
    });
    *step = Step::Tcp;
    let mut tcp = connect(dial_host, &addrs)
        .await
        .map_err(|f| via_proxy(f, target))?;
    target.note(Step::Tcp, || {
        let peer = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
        format!("tcp: connected to {peer} ({})", took())
    });
    let tls_proxy = target
        .proxy
        .as_ref()
        .and_then(|p| p.tls.as_ref().map(|t| (p, t)));
    // Set when the connection can be taken over from rustls after the upgrade.
    let mut catcher = None;
    let transport = match tls_proxy {
        Some((proxy, proxy_tls)) => {
            *step = Step::Proxy;
            let name = proxy.sni_hostname.as_deref().unwrap_or(&proxy.host);
            let peer = format!("the proxy {}", proxy.authority());
            let mut hop = handshake_tls(tcp, proxy_tls, name, &peer, Step::Proxy).await?;
            target.note(Step::Proxy, || {
                let line = tls_line(hop.get_ref().1, sni_for(name, proxy_tls));
                format!("proxy: {line} to {peer} ({})", took())
            });
            let status = tunnel(&mut hop, proxy, target).await?;
            note_tunnel(target, &status, &took);
            match &target.tls {
                Some(setup) => {
                    *step = Step::Tls;
                    let stream = target_handshake(hop, setup, target).await?;
                    note_tls(target, setup, stream.get_ref().1, &took);
                    Transport::tls_in_tls(stream)
                }
                None => Transport::tls(hop),
            }
        }
        None => {
            if let Some(proxy) = &target.proxy {
                *step = Step::Proxy;
                let status = tunnel(&mut tcp, proxy, target).await?;
                note_tunnel(target, &status, &took);
            }
            match &target.tls {
                Some(setup) => {
                    *step = Step::Tls;
                    let (setup, caught) = setup.catching();
                    tcp.stop_at_records(true);
                    let stream = target_handshake(tcp, &setup, target).await?;
                    note_tls(target, &setup, stream.get_ref().1, &took);
                    catcher = Some(caught);
                    Transport::tls(stream)
                }
                None => Transport::plain(tcp),
            }
        }
    };
    *step = Step::Http;
    let mut opened = upgrade(transport, target).await?;
    target.note(Step::Http, || {
        format!("upgrade: \"{}\" ({})", opened.status_line, took())
    });
    if let Some(catcher) = catcher {
        opened.transport = opened.transport.lighten(&catcher).map_err(|e| Failure {
            step: Step::Tls,
            message: format!(
                "taking the TLS connection to {} over from rustls failed: {e}",
                target.authority()
            ),
        })?;
    }
    Ok(opened)
}

fn note_tunnel(target: &Target, status: &str, took: &dyn Fn() -> String) {
    target.note(Step::Proxy, || {
        format!(
            "proxy: CONNECT {}: \"{status}\" ({})",
            target.authority(),
            took()
        )
    });
}

fn note_tls(
    target: &Target,
    setup: &TlsSetup,
    conn: &rustls::ClientConnection,
    took: &dyn Fn() -> String,
) {
    target.note(Step::Tls, || {
        format!(
            "tls: {} ({})",
            tls_line(conn, sni_sent(target, setup)),
            took()
        )
    });
}

/// "SNI name, TLS version, cipher" for a finished handshake.
fn tls_line(conn: &rustls::ClientConnection, sni: Option<&str>) -> String {
    let n = tls::negotiated(conn);
    let sni = match sni {
        Some(name) => format!("SNI {name}"),
        None => "no SNI (IP literal)".to_string(),
    };
    format!("{sni}, {}, {}", n.version, n.cipher)
}

async fn target_handshake<S>(
    io: S,
    setup: &TlsSetup,
    target: &Target,
) -> Result<tokio_rustls::client::TlsStream<S>, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let peer = target.authority();
    handshake_tls(io, setup, target.presented_name(), &peer, Step::Tls).await
}

/// With a proxy, DNS and TCP failures are about reaching the proxy: say so.
fn via_proxy(failure: Failure, target: &Target) -> Failure {
    match &target.proxy {
        Some(p) => Failure {
            step: Step::Proxy,
            message: format!(
                "could not reach the proxy {} (the proxy: option): {}",
                authority(&p.host, p.port),
                failure.message
            ),
        },
        None => failure,
    }
}

pub async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Failure> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    match dns::lookup_host(host, port).await {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                fail(Step::Dns, format!("DNS lookup of \"{host}\" returned no addresses"))
            } else {
                Ok(addrs)
            }
        }
        Err(e) => fail(
            Step::Dns,
            format!(
                "DNS lookup of \"{host}\" failed: {}. Check the host name in the URL and this box's DNS settings (/etc/resolv.conf)",
                dns_words(&e)
            ),
        ),
    }
}

fn dns_words(e: &io::Error) -> String {
    let text = e.to_string();
    let text = text
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text);
    if text.contains("Name or service not known") || text.contains("No address associated") {
        format!("no such host ({text})")
    } else if text.contains("Temporary failure") {
        format!("the DNS server could not be reached ({text})")
    } else {
        text.to_string()
    }
}

/// How long one address gets before the next one is tried alongside it (RFC 8305 suggests 250 ms).
const NEXT_ADDRESS_DELAY: Duration = Duration::from_millis(250);

/// Connects to the first address that answers. Families alternate and a new attempt starts every
/// 250 ms while earlier ones are pending, so one black-holed address (often a broken IPv6 route)
/// does not use up the whole connect_timeout.
async fn connect(host: &str, addrs: &[SocketAddr]) -> Result<Tcp, Failure> {
    let mut queue = interleave_families(addrs).into_iter();
    let mut pending = FuturesUnordered::new();
    let mut errors = Vec::new();
    // Each pass starts the next address: first, after a failure, or when the delay has passed.
    loop {
        if let Some(addr) = queue.next() {
            pending.push(async move { (addr, Tcp::connect(addr).await) });
        }
        if pending.is_empty() {
            break;
        }
        let more = queue.len() > 0;
        tokio::select! {
            Some((addr, result)) = pending.next() => match result {
                Ok(stream) => return Ok(stream),
                Err(e) => errors.push(format!("{addr}: {}", tcp_words(&e))),
            },
            () = tokio::time::sleep(NEXT_ADDRESS_DELAY), if more => {}
            else => break,
        }
    }
    let shown = if host.parse::<IpAddr>().is_ok() {
        String::new()
    } else {
        format!(" to \"{host}\"")
    };
    fail(
        Step::Tcp,
        format!("TCP connection{shown} failed: {}", errors.join("; ")),
    )
}

/// The resolver's order, but alternating address families, starting with the first one's.
fn interleave_families(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else {
        return Vec::new();
    };
    let (mut same, mut other): (Vec<SocketAddr>, Vec<SocketAddr>) = addrs
        .iter()
        .copied()
        .partition(|a| a.is_ipv6() == first.is_ipv6());
    same.reverse();
    other.reverse();
    let mut out = Vec::with_capacity(addrs.len());
    while !same.is_empty() || !other.is_empty() {
        out.extend(same.pop());
        out.extend(other.pop());
    }
    out
}

pub fn tcp_words(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => {
            "connection refused (nothing is listening on that port, or a firewall rejected it)"
                .to_string()
        }
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            format!("{e} (check this box's network link and routes)")
        }
        _ => e.to_string(),
    }
}

/// Opens the CONNECT tunnel; returns the proxy's status line.
pub async fn tunnel<S>(io: &mut S, proxy: &Proxy, target: &Target) -> Result<String, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let proxy_name = proxy.authority();
    let mut req = format!("CONNECT {0} HTTP/1.1\r\nHost: {0}\r\n", target.authority());
    for (k, v) in &proxy.headers {
        let _ = write!(req, "{k}: {v}\r\n");
    }
    req.push_str("\r\n");
    let (reply, rest) = request_reply(
        io,
        req.as_bytes(),
        target.max_head,
        Step::Proxy,
        &format!("proxy {proxy_name}"),
    )
    .await?;
    if !(200..300).contains(&reply.status) {
        let hint = match reply.status {
            407 => " (the proxy wants credentials: put them in the proxy URL or pass proxy: { headers: { \"Proxy-Authorization\" => ... } })",
            403 => " (the proxy does not allow this destination or port)",
            _ => "",
        };
        return fail(
            Step::Proxy,
            format!(
                "proxy {proxy_name} refused to CONNECT to {}: \"{}\"{hint}",
                target.authority(),
                reply.status_line
            ),
        );
    }
    if !rest.is_empty() {
        return fail(
            Step::Proxy,
            format!(
                "proxy {proxy_name} sent bytes after its CONNECT reply before the tunnel was used"
            ),
        );
    }
    Ok(reply.status_line)
}

/// How a TLS handshake failed, for the doctor's SNI checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsTrouble {
    /// Alert unrecognized_name: the edge serves no site for the name (or for no name).
    NameRejected,
    /// The server closed or reset the connection during the handshake.
    HungUp,
    /// The handshake finished far enough to see a certificate, which was rejected.
    Certificate,
    Other,
}

impl TlsTrouble {
    pub fn name(self) -> &'static str {
        match self {
            TlsTrouble::NameRejected => "name_rejected",
            TlsTrouble::HungUp => "hung_up",
            TlsTrouble::Certificate => "certificate",
            TlsTrouble::Other => "other",
        }
    }
}

/// The SNI name the target's handshake sends.
pub fn sni_sent<'a>(target: &'a Target, setup: &TlsSetup) -> Option<&'a str> {
    sni_for(target.presented_name(), setup)
}

/// The SNI name a handshake presenting `name` sends: none for an IP literal or with SNI off.
fn sni_for<'a>(name: &'a str, setup: &TlsSetup) -> Option<&'a str> {
    let is_name = matches!(
        rustls::pki_types::ServerName::try_from(name),
        Ok(rustls::pki_types::ServerName::DnsName(_))
    );
    (is_name && setup.config.enable_sni).then_some(name)
}

/// TLS over `io` to `peer` (the target, or the proxy for step Proxy), presenting `name`.
async fn handshake_tls<S>(
    io: S,
    setup: &TlsSetup,
    name: &str,
    peer: &str,
    step: Step,
) -> Result<tokio_rustls::client::TlsStream<S>, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    handshake_tls_detailed(io, setup, name, peer, step)
        .await
        .map_err(|(failure, _)| failure)
}

/// The TLS handshake; a failure also says what kind of trouble it was (for the doctor).
pub async fn handshake_tls_detailed<S>(
    io: S,
    setup: &TlsSetup,
    name: &str,
    peer: &str,
    step: Step,
) -> Result<tokio_rustls::client::TlsStream<S>, (Failure, TlsTrouble)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name_text = name.to_string();
    let server_name = match rustls::pki_types::ServerName::try_from(name_text.clone()) {
        Ok(n) => n,
        Err(_) => {
            let failure = Failure {
                step,
                message: format!("\"{name_text}\" is not a valid TLS server name"),
            };
            return Err((failure, TlsTrouble::Other));
        }
    };
    let sni = sni_for(name, setup);
    let connector = TlsConnector::from(Arc::clone(&setup.config));
    match connector.connect(server_name, io).await {
        Ok(s) => Ok(s),
        Err(e) => {
            let presented = tls::Presented {
                sni,
                checked_name: &name_text,
                roots: &setup.roots,
            };
            let (why, trouble) = match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                Some(tls_err) => (tls::explain(tls_err, &presented), trouble_of(tls_err)),
                None => {
                    let hung_up = matches!(
                        e.kind(),
                        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
                    );
                    let trouble = if hung_up {
                        TlsTrouble::HungUp
                    } else {
                        TlsTrouble::Other
                    };
                    (tls_io_words(&e, sni.is_none()), trouble)
                }
            };
            let failure = Failure {
                step,
                message: format!("TLS handshake with {peer} failed: {why}"),
            };
            Err((failure, trouble))
        }
    }
}

fn trouble_of(err: &rustls::Error) -> TlsTrouble {
    match err {
        rustls::Error::AlertReceived(a) if u8::from(*a) == 112 => TlsTrouble::NameRejected,
        rustls::Error::InvalidCertificate(_) => TlsTrouble::Certificate,
        _ => TlsTrouble::Other,
    }
}

fn tls_io_words(e: &io::Error, no_sni: bool) -> String {
    let base = match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            "the server closed the connection during the handshake".to_string()
        }
        io::ErrorKind::ConnectionReset => {
            "the server reset the connection during the handshake".to_string()
        }
        _ => format!("{e}"),
    };
    if no_sni {
        format!("{base}. No SNI was sent because the URL host is an IP address; many edge proxies drop such handshakes. Connect by host name or pass tls: {{ sni_hostname: \"app.example.com\" }}")
    } else {
        format!("{base}; edge proxies do this when they serve no site for the SNI name sent, or the port does not speak TLS")
    }
}

struct Head {
    head: Vec<u8>,
    rest: Vec<u8>,
}

/// Sends an HTTP request and parses the reply's head; failures are worded as `who` ... for `step`.
/// Returns the reply and the bytes that came after its head.
async fn request_reply<S>(
    io: &mut S,
    request: &[u8],
    max: usize,
    step: Step,
    who: &str,
) -> Result<(Reply, Vec<u8>), Failure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let head = exchange(io, request, max).await.map_err(|e| Failure {
        step,
        message: format!("{who} {e}"),
    })?;
    let reply = parse_head(&head.head).map_err(|e| Failure {
        step,
        message: format!("{who} sent a malformed HTTP reply: {e}"),
    })?;
    Ok((reply, head.rest))
}

/// Writes `request`, then reads until the end of an HTTP head (at most `max` bytes).
async fn exchange<S>(io: &mut S, request: &[u8], max: usize) -> Result<Head, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    io.write_all(request)
        .await
        .map_err(|e| format!("could not be written to: {e}"))?;
    io.flush()
        .await
        .map_err(|e| format!("could not be written to: {e}"))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = find_head_end(&buf) {
            let rest = buf.split_off(end);
            return Ok(Head { head: buf, rest });
        }
        if buf.len() > max {
            return Err(format!(
                "sent a reply head larger than {max} bytes without finishing it"
            ));
        }
        let n = io
            .read(&mut chunk)
            .await
            .map_err(|e| format!("failed while its reply was read: {e}"))?;
        if n == 0 {
            return Err(if buf.is_empty() {
                "closed the connection without answering".to_string()
            } else {
                format!(
                    "closed the connection in the middle of its reply (got {} bytes: {:?})",
                    buf.len(),
                    String::from_utf8_lossy(&buf[..buf.len().min(200)])
                )
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

struct Reply {
    status: u16,
    status_line: String,
    headers: Vec<(String, String)>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn parse_head(head: &[u8]) -> Result<Reply, String> {
    let mut slots = [httparse::EMPTY_HEADER; 128];
    let mut resp = httparse::Response::new(&mut slots);
    match resp.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err("incomplete HTTP head".to_string()),
        Err(httparse::Error::TooManyHeaders) => {
            return Err("more than 128 header lines".to_string())
        }
        Err(e) => {
            let first = head.split(|b| *b == b'\r').next().unwrap_or_default();
            return Err(format!(
                "{e} (the reply starts with {:?}; is this an HTTP server?)",
                String::from_utf8_lossy(&first[..first.len().min(80)])
            ));
        }
    }
    let status = resp.code.unwrap_or(0);
    let status_line = format!(
        "HTTP/1.{} {} {}",
        resp.version.unwrap_or(1),
        status,
        resp.reason.unwrap_or("")
    )
    .trim_end()
    .to_string();
    let headers = resp
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect();
    Ok(Reply {
        status,
        status_line,
        headers,
    })
}

/// The upgrade request head this client sends, with this Sec-WebSocket-Key.
pub fn upgrade_request(target: &Target, key: &str) -> String {
    let mut req = format!("GET {} HTTP/1.1\r\n", target.resource);
    let has = |name: &str| {
        target
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    if !has("host") {
        let name = target.presented_name();
        let host = if target.port == target.default_port() {
            if name.contains(':') {
                format!("[{name}]")
            } else {
                name.to_string()
            }
        } else {
            authority(name, target.port)
        };
        let _ = write!(req, "Host: {host}\r\n");
    }
    let _ = write!(
        req,
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    );
    if !target.protocols.is_empty() {
        let _ = write!(
            req,
            "Sec-WebSocket-Protocol: {}\r\n",
            target.protocols.join(", ")
        );
    }
    for (k, v) in &target.headers {
        let _ = write!(req, "{k}: {v}\r\n");
    }
    req.push_str("\r\n");
    req
}

async fn upgrade(transport: Transport, target: &Target) -> Result<Opened, Failure> {
    upgrade_keyed(transport, target, &generate_key(), None).await
}

/// The status line and headers of a reply head.
pub type ReplyHead = (String, Vec<(String, String)>);

/// Sends the upgrade request with this key and checks the reply. `head`, when given, receives
/// the reply's head as soon as it is read, also when the reply is then refused (for the doctor).
pub async fn upgrade_keyed(
    mut transport: Transport,
    target: &Target,
    key: &str,
    head: Option<&mut Option<ReplyHead>>,
) -> Result<Opened, Failure> {
    let request = upgrade_request(target, key);
    let who = format!(
        "WebSocket upgrade failed: the server at {}",
        target.authority()
    );
    let (reply, rest) = request_reply(
        &mut transport,
        request.as_bytes(),
        target.max_head,
        Step::Http,
        &who,
    )
    .await?;
    if let Some(slot) = head {
        *slot = Some((reply.status_line.clone(), reply.headers.clone()));
    }
    if reply.status != 101 {
        let body = body_start(&mut transport, rest, &reply).await;
        return refused(&reply, &body, target);
    }
    check_reply(&reply, key, target)?;
    let protocol = reply
        .header("sec-websocket-protocol")
        .unwrap_or("")
        .to_string();
    transport.replay(rest);
    Ok(Opened {
        transport,
        protocol,
        status: reply.status,
        status_line: reply.status_line,
        headers: reply.headers,
    })
}

/// How much of a refusal's body is read to quote it (the page often says why).
const BODY_QUOTE: usize = 2048;

/// The start of the reply body: what came with the head, plus what arrives within a moment.
/// Reads for at most this long after a refusal's head: the status is what matters, the page is extra.
const BODY_WAIT: Duration = Duration::from_millis(300);

async fn body_start(transport: &mut Transport, mut body: Vec<u8>, reply: &Reply) -> Vec<u8> {
    let length = reply
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(BODY_QUOTE);
    let want = length.min(BODY_QUOTE);
    let until = tokio::time::Instant::now() + BODY_WAIT;
    let mut chunk = [0u8; 1024];
    while body.len() < want {
        match tokio::time::timeout_at(until, transport.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => body.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    let chunked = reply
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        dechunk(&body)
    } else {
        body
    }
}

/// The data of a chunked body, as far as it arrived (a torn last chunk is kept as it is).
fn dechunk(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_hex, 16) else {
            break;
        };
        if size == 0 {
            break;
        }
        let data = &rest[eol + 2..];
        let take = size.min(data.len());
        out.extend_from_slice(&data[..take]);
        if take < size || data.len() < size + 2 {
            break;
        }
        rest = &data[size + 2..];
    }
    out
}

/// One line that says what the refusal page says: an HTML title, or the first line of text.
fn quote_body(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let lower = text.to_ascii_lowercase();
    let line = match (lower.find("<title>"), lower.find("</title>")) {
        (Some(a), Some(b)) if b > a + 7 => text[a + 7..b].to_string(),
        _ => text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('<'))?
            .to_string(),
    };
    let line: String = line.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut end = line.len().min(200);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    (!line.is_empty()).then(|| line[..end].to_string())
}

/// A reply other than 101: the status line, what the page says, and a hint.
fn refused(reply: &Reply, body: &[u8], target: &Target) -> Result<Opened, Failure> {
    let page = quote_body(body)
        .map(|q| format!(" saying {q:?}"))
        .unwrap_or_default();
    let hint = match reply.status {
        301 | 302 | 303 | 307 | 308 => match reply.header("location") {
            Some(loc) => format!(" (a redirect to {loc}; this client does not follow redirects, so use that URL)"),
            None => " (a redirect; this client does not follow redirects)".to_string(),
        },
        400 => " (the server did not accept the upgrade request; check the Host, the path, a client certificate the server may want, and any proxy in between)".to_string(),
        401 | 403 => " (check the credentials or Origin sent in headers:)".to_string(),
        404 => " (no WebSocket endpoint at this path; check the URL)".to_string(),
        426 => " (the server wants another protocol version)".to_string(),
        502..=504 => " (a proxy in front of the app could not reach it)".to_string(),
        200 => " (the server treated it as a plain HTTP request; is WebSocket enabled at this path and on every proxy in between?)".to_string(),
        _ => String::new(),
    };
    fail(
        Step::Http,
        format!(
            "WebSocket upgrade of {}{} failed: the server answered \"{}\"{page} instead of \"101 Switching Protocols\"{hint}",
            target.authority(),
            target.resource,
            reply.status_line
        ),
    )
}

fn check_reply(reply: &Reply, key: &str, target: &Target) -> Result<(), Failure> {
    let bad = |why: String| {
        fail(
            Step::Http,
            format!(
                "WebSocket upgrade of {}{} failed: {why}",
                target.authority(),
                target.resource
            ),
        )
    };
    let upgrade = reply.header("upgrade").unwrap_or("");
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return bad(format!(
            "the 101 reply has \"Upgrade: {upgrade}\" instead of \"Upgrade: websocket\""
        ));
    }
    let connection = reply.header("connection").unwrap_or("");
    if !connection
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
    {
        return bad(format!(
            "the 101 reply has \"Connection: {connection}\" without \"Upgrade\""
        ));
    }
    let expected = derive_accept_key(key.as_bytes());
    match reply.header("sec-websocket-accept") {
        Some(got) if got == expected => {}
        Some(got) => {
            return bad(format!(
                "the 101 reply's Sec-WebSocket-Accept is {got:?} but should be {expected:?} (a proxy or server answered for another request)"
            ))
        }
        None => return bad("the 101 reply has no Sec-WebSocket-Accept header".to_string()),
    }
    if let Some(proto) = reply.header("sec-websocket-protocol") {
        if !proto.is_empty() && !target.protocols.iter().any(|p| p == proto) {
            let offered = if target.protocols.is_empty() {
                "none".to_string()
            } else {
                target.protocols.join(", ")
            };
            return bad(format!(
                "the server chose subprotocol {proto:?}, which the client did not offer (offered: {offered})"
            ));
        }
    }
    if let Some(ext) = reply.header("sec-websocket-extensions") {
        if !ext.is_empty() {
            return bad(format!(
                "the server enabled extension {ext:?}, which the client did not offer"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{interleave_families, quote_body};
    use std::net::SocketAddr;

    #[test]
    fn alternates_address_families() {
        let parse = |s: &str| {
            s.parse::<SocketAddr>()
                .unwrap_or_else(|e| panic!("{s}: {e}"))
        };
        let given = [
            "[::1]:80",
            "[::2]:80",
            "10.0.0.1:80",
            "10.0.0.2:80",
            "10.0.0.3:80",
        ]
        .map(parse);
        let want = [
            "[::1]:80",
            "10.0.0.1:80",
            "[::2]:80",
            "10.0.0.2:80",
            "10.0.0.3:80",
        ]
        .map(parse);
        assert_eq!(interleave_families(&given), want.to_vec());
        assert!(interleave_families(&[]).is_empty());
    }

    #[test]
    fn quotes_an_html_title() {
        let page =
            b"<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>";
        assert_eq!(
            quote_body(page).as_deref(),
            Some("400 No required SSL certificate was sent")
        );
    }

    #[test]
    fn reads_chunked_bodies() {
        assert_eq!(
            super::dechunk(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            b"hello world"
        );
        assert_eq!(super::dechunk(b"a;ext=1\r\n0123"), b"0123");
        assert!(super::dechunk(b"zz\r\n").is_empty());
    }

    #[test]
    fn quotes_the_first_text_line() {
        assert_eq!(
            quote_body(b"\n  no websocket here \nmore").as_deref(),
            Some("no websocket here")
        );
        assert_eq!(quote_body(b"   "), None);
    }
}
