//! The project's own echo and fault server for specs and benchmarks. Listens on 127.0.0.1 only.
//!
//! Prints `listening 127.0.0.1:PORT` on stdout, then serves until killed. The request path picks
//! the behaviour (see `Mode`); query parameters tune it. `ws-test-server relay ...` is the link
//! mode instead (see relay.rs).

mod relay;

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

struct Request {
    path: String,
    query: HashMap<String, String>,
    headers: Vec<(String, String)>,
    rest: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn param<T: std::str::FromStr>(&self, key: &str, default: T) -> T {
        self.query
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ws-test-server: cannot start runtime: {e}");
            std::process::exit(1);
        }
    };
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("relay") {
        if let Err(e) = runtime.block_on(relay::run(&args[2..])) {
            eprintln!("ws-test-server relay: {e}");
            std::process::exit(2);
        }
        return;
    }
    runtime.block_on(serve());
}

async fn serve() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ws-test-server: cannot listen: {e}");
            std::process::exit(1);
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("listening {addr}"),
        Err(e) => {
            eprintln!("ws-test-server: {e}");
            std::process::exit(1);
        }
    }
    loop {
        if let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                if let Err(e) = handle(stream).await {
                    eprintln!("ws-test-server: {e}");
                }
            });
        }
    }
}

async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = head.split("\r\n");
    let target = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("/")
        .to_string();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    let query = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("%20", " ")))
        .collect();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Some(Request {
        path,
        query,
        headers,
        rest: buf[end..].to_vec(),
    }))
}

fn accept_head(req: &Request, protocol: Option<&str>, extra: &str) -> String {
    let key = req.header("sec-websocket-key").unwrap_or("");
    let mut head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nX-Test-Server: websocket-native\r\n",
        derive_accept_key(key.as_bytes())
    );
    if let Some(p) = protocol {
        head.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
    }
    head.push_str(extra);
    head.push_str("\r\n");
    head
}

/// The first subprotocol the client offered, unless `?protocol=` forces one.
fn chosen_protocol(req: &Request) -> Option<String> {
    if let Some(p) = req.query.get("protocol") {
        return Some(p.clone());
    }
    req.header("sec-websocket-protocol")
        .and_then(|v| v.split(',').next())
        .map(|p| p.trim().to_string())
}

/// A server frame (unmasked) with FIN set.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(len as u8);
    } else if len < 65536 {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

async fn handle(mut stream: TcpStream) -> std::io::Result<()> {
    let Some(req) = read_request(&mut stream).await? else {
        return Ok(());
    };
    let path = req.path.clone();
    match path.as_str() {
        "/status" if req.query.contains_key("chunked") => {
            let page = "<title>Site blocked</title>";
            let resp = format!(
                "HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{page}\r\n0\r\n\r\n",
                page.len()
            );
            stream.write_all(resp.as_bytes()).await?;
            return Ok(());
        }
        "/status" => {
            let code: u16 = req.param("code", 404);
            let body = "no websocket here\n";
            let extra = req
                .query
                .get("location")
                .map(|l| format!("Location: {l}\r\n"))
                .unwrap_or_default();
            let resp = format!(
                "HTTP/1.1 {code} Test Status\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(resp.as_bytes()).await?;
            return Ok(());
        }
        "/silent" => {
            tokio::time::sleep(Duration::from_secs(req.param("seconds", 60))).await;
            return Ok(());
        }
        "/hangup" => return Ok(()),
        "/trickle" => {
            let head = accept_head(&req, None, "");
            for b in head.as_bytes() {
                stream.write_all(&[*b]).await?;
                tokio::time::sleep(Duration::from_millis(req.param("ms", 200))).await;
            }
            return Ok(());
        }
        "/big-head" => {
            let filler = "x".repeat(1000);
            let mut extra = String::new();
            for i in 0..req.param("lines", 100usize) {
                extra.push_str(&format!("X-Filler-{i}: {filler}\r\n"));
            }
            stream
                .write_all(accept_head(&req, None, &extra).as_bytes())
                .await?;
            return Ok(());
        }
        "/bad-accept" => {
            let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm90IHRoZSByaWdodCBrZXk=\r\n\r\n";
            stream.write_all(head.as_bytes()).await?;
            return Ok(());
        }
        _ => {}
    }
    if path == "/stalls" {
        tokio::time::sleep(random_stall(req.param("ms", 300))).await;
    }
    let protocol = chosen_protocol(&req);
    stream
        .write_all(accept_head(&req, protocol.as_deref(), "").as_bytes())
        .await?;
    match path.as_str() {
        "/invalid-utf8" => {
            stream.write_all(&frame(0x1, &[0xc3, 0x28, 0x41])).await?;
            hold(stream).await
        }
        "/masked" => {
            let mut f = vec![0x81, 0x80 | 2, 1, 2, 3, 4];
            f.extend_from_slice(&[b'h' ^ 1, b'i' ^ 2]);
            stream.write_all(&f).await?;
            hold(stream).await
        }
        "/reserved-opcode" => {
            stream.write_all(&frame(0x3, b"?")).await?;
            hold(stream).await
        }
        "/big" => {
            let size: usize = req.param("size", 1024);
            stream.write_all(&frame(0x2, &vec![7u8; size])).await?;
            hold(stream).await
        }
        "/drop" => {
            tokio::time::sleep(Duration::from_millis(req.param("ms", 0))).await;
            Ok(())
        }
        "/close" => {
            tokio::time::sleep(Duration::from_millis(req.param("ms", 0))).await;
            let code: u16 = req.param("code", 1000);
            let reason = req.query.get("reason").cloned().unwrap_or_default();
            let mut payload = code.to_be_bytes().to_vec();
            payload.extend_from_slice(reason.as_bytes());
            stream.write_all(&frame(0x8, &payload)).await?;
            // Read the client's close reply, then hang up first, as RFC 6455 asks of servers.
            let mut reply = [0u8; 256];
            let _ = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut reply)).await;
            Ok(())
        }
        "/deaf" => hold(stream).await,
        // Reads slowly (`kib` KiB every 100 ms), never answers: a slow but live reader.
        "/slow-read" => {
            let per_tick = req.param("kib", 64usize) * 1024;
            let mut buf = vec![0u8; per_tick];
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                match tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Ok(()),
                    Ok(Ok(_)) => {}
                }
            }
        }
        // Never reads again: the client's writes pile up in the socket buffers.
        "/stall" => {
            tokio::time::sleep(Duration::from_secs(req.param("seconds", 60))).await;
            Ok(())
        }
        _ => websocket(stream, req).await,
    }
}

/// Reads and discards until the client hangs up (or a minute passes); never answers.
async fn hold(mut stream: TcpStream) -> std::io::Result<()> {
    let mut sink = [0u8; 4096];
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match tokio::time::timeout_at(until, stream.read(&mut sink)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Ok(()),
            Ok(Ok(_)) => {}
        }
    }
}

async fn websocket(stream: TcpStream, req: Request) -> std::io::Result<()> {
    let config = WebSocketConfig::default()
        .max_message_size(None)
        .max_frame_size(None);
    let ws =
        WebSocketStream::from_partially_read(stream, req.rest.clone(), Role::Server, Some(config))
            .await;
    let (mut tx, mut rx) = ws.split();
    let to_io = |e: tokio_tungstenite::tungstenite::Error| std::io::Error::other(e.to_string());
    match req.path.as_str() {
        "/headers" => {
            let lines: Vec<String> = req
                .headers
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            tx.send(Message::text(lines.join("\n")))
                .await
                .map_err(to_io)?;
        }
        "/send" => {
            for i in 0..req.param("count", 10usize) {
                tx.send(Message::text(format!("message {i}")))
                    .await
                    .map_err(to_io)?;
            }
        }
        "/hello" => {
            tx.send(Message::text("hello")).await.map_err(to_io)?;
        }
        // Sends `count` messages of `size` bytes as fast as the client reads them.
        "/flood" => {
            let payload = vec![b'f'; req.param("size", 1024usize)];
            for _ in 0..req.param("count", 10usize) {
                tx.send(Message::binary(payload.clone()))
                    .await
                    .map_err(to_io)?;
            }
        }
        _ => {}
    }
    if req.path == "/bench" {
        return bench_echo(tx, rx).await;
    }
    let ignore_close = req.path == "/no-close-reply";
    // /stalls: an echo that stalls a random 0..`ms` ms before its upgrade reply and each echo.
    let stall_ms: u64 = if req.path == "/stalls" {
        req.param("ms", 300)
    } else {
        0
    };
    while let Some(msg) = rx.next().await {
        if stall_ms > 0 {
            tokio::time::sleep(random_stall(stall_ms)).await;
        }
        match msg {
            Ok(Message::Text(t)) => tx.send(Message::Text(t)).await.map_err(to_io)?,
            Ok(Message::Binary(b)) => tx.send(Message::Binary(b)).await.map_err(to_io)?,
            // /pings reports each ping it gets (tungstenite answers the pong itself).
            Ok(Message::Ping(p)) if req.path == "/pings" => {
                let text = format!("ping {}", String::from_utf8_lossy(&p));
                tx.send(Message::text(text)).await.map_err(to_io)?
            }
            // tungstenite queues the close echo and flushes it as we keep polling.
            Ok(Message::Close(_)) if ignore_close => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                return Ok(());
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

/// A random duration below `max_ms` ms (RandomState is seeded afresh for each call).
fn random_stall(max_ms: u64) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    Duration::from_millis(random % max_ms)
}

/// The benchmark peer: echoes data messages, flushing only when no more input is ready, so it is
/// not the bottleneck of a pipelined run (`rake bench` shows its CPU).
async fn bench_echo<S, R>(tx: S, rx: R) -> std::io::Result<()>
where
    S: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
    R: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let data = rx.filter(|m| {
        std::future::ready(matches!(m, Ok(Message::Text(_)) | Ok(Message::Binary(_))) || m.is_err())
    });
    let _ = data.forward(tx).await;
    Ok(())
}
