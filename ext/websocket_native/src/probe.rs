//! The doctor's probe: walks DNS, TCP, proxy, TLS, upgrade and a short WebSocket session one
//! step at a time with dial.rs's own functions, and writes down plain facts about each step.
//! Ruby turns the facts into the report; nothing here decides what is wrong.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use crate::dial::{self, Failure, Target};
use crate::inbox::Step;
use crate::sockets::Tcp;
use crate::tls::{self, SeenChain, TlsOptions};
use crate::transport::Transport;

/// Plain data for the report; becomes Ruby objects in ruby/probe.rs.
#[derive(Debug, Clone)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Map(Vec<(&'static str, Value)>),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<Option<String>> for Value {
    fn from(s: Option<String>) -> Self {
        s.map_or(Value::Nil, Value::Str)
    }
}

/// What one step did: whether it worked, how long it took, its facts and (on failure) the words.
#[derive(Debug)]
pub struct StepReport {
    pub name: &'static str,
    pub ok: bool,
    pub ms: f64,
    pub error: Option<String>,
    pub facts: Vec<(&'static str, Value)>,
}

/// How to probe: the TLS options (for a recording verifier), whether to send SNI, and how far to go.
pub struct Settings {
    pub tls: Option<TlsOptions>,
    pub send_sni: bool,
    /// Stop after the TLS handshake (the extra "how do clients without SNI fare" attempt).
    pub tls_only: bool,
    pub pings: usize,
    pub step_timeout: Duration,
}

/// Most addresses a name's TCP step tries (each one is reported).
const MAX_ADDRESSES: usize = 8;

struct Walk<'a> {
    target: &'a Target,
    settings: &'a Settings,
    steps: Vec<StepReport>,
}

impl Walk<'_> {
    fn record(
        &mut self,
        name: &'static str,
        started: Instant,
        outcome: Result<(), String>,
        facts: Vec<(&'static str, Value)>,
    ) -> bool {
        let ok = outcome.is_ok();
        self.steps.push(StepReport {
            name,
            ok,
            ms: millis(started),
            error: outcome.err(),
            facts,
        });
        ok
    }

    /// Runs one step under the per-step deadline; a timeout is worded like the client's own.
    async fn timed<T>(
        &self,
        step: Step,
        work: impl std::future::Future<Output = Result<T, Failure>>,
    ) -> Result<T, String> {
        match tokio::time::timeout(self.settings.step_timeout, work).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(f)) => Err(f.message),
            Err(_) => Err(dial::timeout_words(self.target, step, "--timeout")),
        }
    }
}

fn millis(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 10_000.0).round() / 10.0
}

/// Walks every step until one fails; the last report is the failing one.
pub async fn run(target: Target, settings: Settings) -> Vec<StepReport> {
    let mut walk = Walk {
        target: &target,
        settings: &settings,
        steps: Vec::new(),
    };
    let Some(hop) = reach(&mut walk).await else {
        return walk.steps;
    };
    let secured = match hop {
        Hop::Tcp(tcp) => secure(&mut walk, tcp, Transport::plain, Transport::tls).await,
        Hop::Tls(tls) => secure(&mut walk, tls, Transport::tls, Transport::tls_in_tls).await,
    };
    let Some(transport) = secured else {
        return walk.steps;
    };
    if settings.tls_only {
        return walk.steps;
    }
    if let Some(ws) = upgrade(&mut walk, transport).await {
        session(&mut walk, ws).await;
    }
    walk.steps
}

/// The stream the target's TLS (or upgrade) runs over: TCP, or TLS to an https:// proxy.
#[allow(clippy::large_enum_variant)] // one per doctor run, moved once
enum Hop {
    Tcp(Tcp),
    Tls(TlsStream<Tcp>),
}

/// DNS, TCP to every address, and the proxy tunnel.
async fn reach(walk: &mut Walk<'_>) -> Option<Hop> {
    let target = walk.target;
    let (host, port) = match &target.proxy {
        Some(p) => (p.host.as_str(), p.port),
        None => (target.host.as_str(), target.port),
    };
    let started = Instant::now();
    let found = walk.timed(Step::Dns, dial::resolve(host, port)).await;
    let ip_literal = host.parse::<IpAddr>().is_ok();
    let mut facts = vec![
        ("host", Value::from(host)),
        ("ip_literal", Value::Bool(ip_literal)),
        ("via_proxy", Value::Bool(target.proxy.is_some())),
    ];
    if let Ok(addrs) = &found {
        let list = addrs.iter().map(|a| Value::from(a.ip().to_string()));
        facts.push(("addresses", Value::List(list.collect())));
    }
    let addrs = found.clone().unwrap_or_default();
    if !walk.record("dns", started, found.map(|_| ()), facts) {
        return None;
    }
    let started = Instant::now();
    let (tcp, attempts) = connect_each(&addrs, walk.settings.step_timeout).await;
    let outcome = match &tcp {
        Some(_) => Ok(()),
        None => Err(format!(
            "TCP connection to {} failed on every address",
            dial_name(host, port)
        )),
    };
    if !walk.record("tcp", started, outcome, vec![("attempts", attempts)]) {
        return None;
    }
    let mut tcp = tcp?;
    let Some(proxy) = &target.proxy else {
        return Some(Hop::Tcp(tcp));
    };
    let started = Instant::now();
    let mut facts = vec![
        ("proxy", Value::from(dial_name(&proxy.host, proxy.port))),
        ("target", Value::from(target.authority())),
    ];
    let Some(proxy_tls) = &proxy.tls else {
        let status = walk
            .timed(Step::Proxy, dial::tunnel(&mut tcp, proxy, target))
            .await;
        facts.push(("status_line", Value::from(status.clone().ok())));
        return walk
            .record("proxy", started, status.map(|_| ()), facts)
            .then_some(Hop::Tcp(tcp));
    };
    // An https:// proxy: TLS to the proxy, then CONNECT inside it, as the client does.
    let name = proxy.sni_hostname.as_deref().unwrap_or(&proxy.host);
    let peer = format!("the proxy {}", dial_name(&proxy.host, proxy.port));
    let handshake = dial::handshake_tls_detailed(tcp, proxy_tls, name, &peer, Step::Proxy);
    let mut hop = match walk
        .timed(Step::Proxy, async { handshake.await.map_err(|(f, _)| f) })
        .await
    {
        Ok(hop) => hop,
        Err(message) => {
            walk.record("proxy", started, Err(message), facts);
            return None;
        }
    };
    let n = tls::negotiated(hop.get_ref().1);
    facts.push((
        "proxy_tls",
        Value::from(format!("{}, {}", n.version, n.cipher)),
    ));
    let status = walk
        .timed(Step::Proxy, dial::tunnel(&mut hop, proxy, target))
        .await;
    facts.push(("status_line", Value::from(status.clone().ok())));
    walk.record("proxy", started, status.map(|_| ()), facts)
        .then_some(Hop::Tls(hop))
}

fn dial_name(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Tries every address in turn (unlike the client, which races them) so each gets a verdict.
async fn connect_each(addrs: &[SocketAddr], limit: Duration) -> (Option<Tcp>, Value) {
    let mut first = None;
    let mut attempts = Vec::new();
    for addr in addrs.iter().take(MAX_ADDRESSES) {
        let started = Instant::now();
        let (ok, result) = match tokio::time::timeout(limit, Tcp::connect(*addr)).await {
            Ok(Ok(stream)) => {
                if first.is_none() {
                    first = Some(stream);
                }
                (true, "connected".to_string())
            }
            Ok(Err(e)) => (false, dial::tcp_words(&e)),
            Err(_) => (false, format!("timed out after {}", dial::seconds(limit))),
        };
        attempts.push(Value::Map(vec![
            ("address", Value::from(addr.to_string())),
            ("ok", Value::Bool(ok)),
            ("result", Value::from(result)),
            ("ms", Value::Float(millis(started))),
        ]));
    }
    (first, Value::List(attempts))
}

/// The TLS handshake over `io` with a verifier that keeps the chain, or `io` itself for ws://.
async fn secure<S>(
    walk: &mut Walk<'_>,
    io: S,
    plain: fn(S) -> Transport,
    wrap: fn(TlsStream<S>) -> Transport,
) -> Option<Transport>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(opts) = &walk.settings.tls else {
        return Some(plain(io));
    };
    let started = Instant::now();
    let (setup, seen) = match tls::recording_setup(opts, walk.settings.send_sni) {
        Ok(v) => v,
        Err(message) => {
            walk.record("tls", started, Err(message), Vec::new());
            return None;
        }
    };
    let target = walk.target;
    let sni = dial::sni_sent(target, &setup).map(str::to_string);
    let mut facts = vec![
        ("sni", Value::from(sni)),
        ("sni_enabled", Value::Bool(walk.settings.send_sni)),
        (
            "checked_name",
            Value::from(
                target
                    .sni_hostname
                    .clone()
                    .unwrap_or_else(|| target.host.clone()),
            ),
        ),
        ("roots", Value::from(setup.roots.clone())),
        ("verify_peer", Value::Bool(opts.verify_peer)),
    ];
    let limit = walk.settings.step_timeout;
    let peer = target.authority();
    let name = target.presented_name();
    let handshake = dial::handshake_tls_detailed(io, &setup, name, &peer, Step::Tls);
    let outcome = match tokio::time::timeout(limit, handshake).await {
        Ok(Ok(stream)) => {
            let n = tls::negotiated(stream.get_ref().1);
            facts.push(("version", Value::from(n.version)));
            facts.push(("cipher", Value::from(n.cipher)));
            facts.push(("alpn", Value::from(n.alpn)));
            Ok(stream)
        }
        Ok(Err((failure, trouble))) => {
            facts.push(("trouble", Value::from(trouble.name())));
            Err(failure.message)
        }
        Err(_) => {
            facts.push(("trouble", Value::from("timeout")));
            Err(dial::timeout_words(target, Step::Tls, "--timeout"))
        }
    };
    facts.push(("chain", chain_value(&seen)));
    match outcome {
        Ok(stream) => {
            walk.record("tls", started, Ok(()), facts);
            Some(wrap(stream))
        }
        Err(message) => {
            walk.record("tls", started, Err(message), facts);
            None
        }
    }
}

fn chain_value(seen: &SeenChain) -> Value {
    let chain = seen.lock().unwrap_or_else(|p| p.into_inner());
    Value::List(chain.iter().map(|der| Value::Bytes(der.clone())).collect())
}

/// The HTTP upgrade: the request head sent and the reply's status line and headers.
async fn upgrade(walk: &mut Walk<'_>, transport: Transport) -> Option<WebSocketStream<Transport>> {
    let target = walk.target;
    let key = generate_key();
    let started = Instant::now();
    let mut facts = vec![("request", Value::from(dial::upgrade_request(target, &key)))];
    let mut head = None;
    let opened = walk
        .timed(
            Step::Http,
            dial::upgrade_keyed(transport, target, &key, Some(&mut head)),
        )
        .await;
    if let Some((status_line, headers)) = head {
        facts.push(("status_line", Value::from(status_line)));
        let pairs = headers
            .into_iter()
            .map(|(k, v)| Value::List(vec![Value::from(k), Value::from(v)]));
        facts.push(("headers", Value::List(pairs.collect())));
    }
    match opened {
        Ok(o) => {
            facts.push(("protocol", Value::from(o.protocol)));
            walk.record("http", started, Ok(()), facts);
            // The doctor's short session runs on tungstenite (bytes past the reply are replayed
            // by the transport), as a second opinion next to our own frame code.
            let ws = WebSocketStream::from_raw_socket(o.transport, Role::Client, None).await;
            Some(ws)
        }
        Err(message) => {
            walk.record("http", started, Err(message), facts);
            None
        }
    }
}

/// Open: a few pings with their round trips, then a close handshake with code 1000.
async fn session(walk: &mut Walk<'_>, mut ws: WebSocketStream<Transport>) {
    let started = Instant::now();
    let limit = walk.settings.step_timeout;
    let mut rtts = Vec::new();
    let mut outcome = Ok(());
    for i in 0..walk.settings.pings {
        let payload = format!("doctor-{i}").into_bytes();
        let sent = Instant::now();
        match tokio::time::timeout(limit, ping(&mut ws, payload)).await {
            Ok(Ok(())) => rtts.push(Value::Float(millis(sent))),
            Ok(Err(e)) => {
                outcome = Err(format!("ping {} failed: {e}", i + 1));
                break;
            }
            Err(_) => {
                outcome = Err(format!(
                    "no pong for ping {} within {}: the server (or a proxy) does not answer pings",
                    i + 1,
                    dial::seconds(limit)
                ));
                break;
            }
        }
    }
    let mut facts = vec![("ping_ms", Value::List(rtts))];
    if outcome.is_ok() {
        let closed = tokio::time::timeout(limit, close(&mut ws)).await;
        match closed {
            Ok(Ok((code, reason))) => {
                facts.push(("close_code", Value::Int(i64::from(code))));
                facts.push(("close_reason", Value::from(reason)));
            }
            Ok(Err(e)) => outcome = Err(format!("the close handshake failed: {e}")),
            Err(_) => {
                outcome = Err(format!(
                    "the server did not answer the close frame within {}",
                    dial::seconds(limit)
                ))
            }
        }
    }
    walk.record("websocket", started, outcome, facts);
}

async fn ping(ws: &mut WebSocketStream<Transport>, payload: Vec<u8>) -> Result<(), String> {
    ws.send(Message::Ping(payload.clone().into()))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Pong(p))) if p.as_ref() == payload.as_slice() => return Ok(()),
            Some(Ok(Message::Close(frame))) => {
                let words = frame.map_or("no code".to_string(), |f| {
                    format!("code {} {:?}", u16::from(f.code), f.reason.as_str())
                });
                return Err(format!("the server closed the connection ({words})"));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("the server closed the connection".to_string()),
        }
    }
}

/// Sends close 1000 and reads until the server's close frame; returns its code and reason.
async fn close(ws: &mut WebSocketStream<Transport>) -> Result<(u16, String), String> {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "websocket-native doctor".into(),
    };
    ws.close(Some(frame)).await.map_err(|e| e.to_string())?;
    let mut answer = None;
    loop {
        match ws.next().await {
            Some(Ok(Message::Close(frame))) => {
                answer = Some(frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                }));
            }
            Some(Ok(_)) => {}
            None | Some(Err(WsError::ConnectionClosed)) => break,
            Some(Err(e)) => return Err(e.to_string()),
        }
    }
    answer.ok_or_else(|| "the server hung up without a close frame".to_string())
}
