//! A plain tokio-tungstenite client for `rake bench`: the "pure Rust" reference the gem is
//! compared with in the same run. Loopback only.
//!
//! `ws-bench-client pipelined URL SIZE WINDOW SECONDS` keeps WINDOW binary messages of SIZE bytes
//! in flight for SECONDS and prints `messages=N seconds=S cpu=C`.
//! `ws-bench-client rtt URL SIZE COUNT` sends one message at a time and prints
//! `p50_us=A p99_us=B cpu=C`.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => fail(&format!("cannot start runtime: {e}")),
    };
    let result = runtime.block_on(async {
        match args.get(1).map(String::as_str) {
            Some("pipelined") => pipelined(&args).await,
            Some("rtt") => rtt(&args).await,
            _ => Err(
                "usage: ws-bench-client pipelined URL SIZE WINDOW SECONDS | rtt URL SIZE COUNT"
                    .to_string(),
            ),
        }
    });
    match result {
        Ok(line) => println!("{line} cpu={:.6}", cpu_seconds()),
        Err(e) => fail(&e),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("ws-bench-client: {message}");
    std::process::exit(1)
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, name: &str) -> Result<T, String> {
    args.get(i)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("argument {i} ({name}) is missing or not a number"))
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn connect(url: &str) -> Result<Ws, String> {
    let authority = url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .ok_or_else(|| format!("{url} is not a ws:// URL"))?;
    let tcp = TcpStream::connect(authority)
        .await
        .map_err(|e| format!("TCP connect to {authority} failed: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let (ws, _) = tokio_tungstenite::client_async(url, tcp)
        .await
        .map_err(|e| format!("WebSocket upgrade failed: {e}"))?;
    Ok(ws)
}

async fn pipelined(args: &[String]) -> Result<String, String> {
    let url: String = arg(args, 2, "URL")?;
    let size: usize = arg(args, 3, "SIZE")?;
    let window: u64 = arg(args, 4, "WINDOW")?;
    let seconds: f64 = arg(args, 5, "SECONDS")?;
    let (mut tx, mut rx) = connect(&url).await?.split();
    let payload = vec![b'x'; size];
    let (credit_tx, mut credit_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let sender = tokio::spawn(async move {
        for _ in 0..window {
            tx.feed(Message::binary(payload.clone())).await?;
        }
        tx.flush().await?;
        // One new message per echo received, flushed when no more credit is ready.
        while credit_rx.recv().await.is_some() {
            tx.feed(Message::binary(payload.clone())).await?;
            while credit_rx.try_recv().is_ok() {
                tx.feed(Message::binary(payload.clone())).await?;
            }
            tx.flush().await?;
        }
        Ok::<_, tokio_tungstenite::tungstenite::Error>(())
    });
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(seconds);
    let mut received = 0u64;
    while let Some(msg) = rx.next().await {
        match msg {
            Ok(Message::Binary(_)) => {
                received += 1;
                if Instant::now() >= until {
                    break;
                }
                let _ = credit_tx.send(());
            }
            Ok(_) => {}
            Err(e) => return Err(format!("read failed: {e}")),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    sender.abort();
    Ok(format!("messages={received} seconds={elapsed:.6}"))
}

async fn rtt(args: &[String]) -> Result<String, String> {
    let url: String = arg(args, 2, "URL")?;
    let size: usize = arg(args, 3, "SIZE")?;
    let count: usize = arg(args, 4, "COUNT")?;
    let mut ws = connect(&url).await?;
    let payload = vec![b'x'; size];
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        ws.send(Message::binary(payload.clone()))
            .await
            .map_err(|e| format!("send failed: {e}"))?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Binary(_))) => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("read failed: {e}")),
                None => return Err("the server hung up".to_string()),
            }
        }
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    if times.is_empty() {
        return Err("COUNT must be at least 1".to_string());
    }
    times.sort_by(f64::total_cmp);
    let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Ok(format!("p50_us={:.1} p99_us={:.1}", pick(0.5), pick(0.99)))
}

/// CPU seconds (user + system) this process used so far, from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields after the command name start at field 3 (state); utime is 14, stime 15.
    (ticks(11) + ticks(12)) / 100.0
}
