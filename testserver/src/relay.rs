//! Link mode: a TCP relay on 127.0.0.1 that models a satellite link between clients and a server.
//!
//! `ws-test-server relay --to PORT [--delay MS] [--jitter MS] [--rate BYTES_PER_S] [--port PORT]`
//! prints `listening 127.0.0.1:PORT`, then forwards every accepted connection to 127.0.0.1:--to.
//! Each direction delays every chunk by `delay` ± `jitter` (order kept) and is limited to `rate`.
//! Commands on stdin, one a line, each answered with one line on stdout:
//! - `stall`: stop forwarding both ways on every link, current and new; sockets stay open and
//!   the relay keeps reading, so the kernel accepts the client's writes (a black hole)
//! - `resume`: forward again (what was read meanwhile follows, late)
//! - `stall-some PERCENT MS`: each current link stalls for MS ms with probability PERCENT
//! - `count`: `links N`, the links still relaying (neither direction ended)

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{sleep, sleep_until, Instant};

/// How often a stalled direction looks whether it may go on.
const STALL_POLL: Duration = Duration::from_millis(20);

struct Settings {
    upstream: u16,
    port: u16,
    delay: Duration,
    jitter: Duration,
    /// Bytes per second per direction; 0 for no limit.
    rate: u64,
}

impl Settings {
    fn parse(args: &[String]) -> Result<Settings, String> {
        let mut settings = Settings {
            upstream: 0,
            port: 0,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            rate: 0,
        };
        let mut rest = args.iter();
        while let Some(flag) = rest.next() {
            let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number: u64 = value
                .parse()
                .map_err(|_| format!("{flag} takes a whole number, not {value:?}"))?;
            match flag.as_str() {
                "--to" => settings.upstream = port_number(number)?,
                "--port" => settings.port = port_number(number)?,
                "--delay" => settings.delay = Duration::from_millis(number),
                "--jitter" => settings.jitter = Duration::from_millis(number),
                "--rate" => settings.rate = number,
                other => return Err(format!("unknown relay option {other}")),
            }
        }
        if settings.upstream == 0 {
            return Err("relay needs --to PORT (the server on 127.0.0.1)".to_string());
        }
        Ok(settings)
    }
}

fn port_number(n: u64) -> Result<u16, String> {
    u16::try_from(n).map_err(|_| format!("{n} is not a TCP port"))
}

/// One relayed connection.
#[derive(Default)]
struct Link {
    stalled_until: Mutex<Option<Instant>>,
}

struct Relay {
    settings: Settings,
    stalled: AtomicBool,
    links: Mutex<HashMap<u64, Arc<Link>>>,
    next_id: AtomicU64,
    random: AtomicU64,
}

impl Relay {
    /// xorshift64: good enough for jitter and for picking links to stall.
    fn random(&self) -> u64 {
        let mut x = self.random.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.random.store(x, Ordering::Relaxed);
        x
    }

    /// When a chunk read now may be written: `delay` ± `jitter`, never before the previous one.
    fn due(&self, previous: Instant) -> Instant {
        let s = &self.settings;
        let mut at = Instant::now() + s.delay;
        let span = s.jitter.as_millis() as u64;
        if span > 0 {
            let offset = Duration::from_millis(self.random() % (2 * span + 1));
            at = (at + offset).checked_sub(s.jitter).unwrap_or(at);
        }
        at.max(previous)
    }

    fn links(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Link>>> {
        self.links.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits while the whole relay or this link is stalled.
    async fn pass(&self, link: &Link) {
        loop {
            let until = *link
                .stalled_until
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(t) = until.filter(|t| *t > Instant::now()) {
                sleep_until(t).await;
            } else if self.stalled.load(Ordering::Relaxed) {
                sleep(STALL_POLL).await;
            } else {
                return;
            }
        }
    }

    fn command(&self, line: &str) -> String {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["stall"] => {
                self.stalled.store(true, Ordering::Relaxed);
                "ok stall".to_string()
            }
            ["resume"] => {
                self.stalled.store(false, Ordering::Relaxed);
                "ok resume".to_string()
            }
            ["stall-some", percent, ms] => match (percent.parse::<u64>(), ms.parse::<u64>()) {
                (Ok(percent), Ok(ms)) => {
                    let until = Instant::now() + Duration::from_millis(ms);
                    let mut n = 0;
                    for link in self.links().values() {
                        if self.random() % 100 < percent {
                            *link
                                .stalled_until
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner) = Some(until);
                            n += 1;
                        }
                    }
                    format!("ok stalled {n}")
                }
                _ => format!("error: stall-some takes PERCENT MS, not {line:?}"),
            },
            ["count"] => format!("links {}", self.links().len()),
            _ => format!(
                "error: unknown command {line:?} (stall, resume, stall-some PERCENT MS, count)"
            ),
        }
    }
}

/// Runs the relay until killed (or until stdin closes, so a crashed spec leaves nothing behind).
pub async fn run(args: &[String]) -> Result<(), String> {
    let settings = Settings::parse(args)?;
    let listener = TcpListener::bind(("127.0.0.1", settings.port))
        .await
        .map_err(|e| format!("cannot listen: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    let relay = Arc::new(Relay {
        settings,
        stalled: AtomicBool::new(false),
        links: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(0),
        random: AtomicU64::new(seed),
    });
    println!("listening {addr}");
    let commands = Arc::clone(&relay);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            println!("{}", commands.command(&line));
        }
        std::process::exit(0);
    });
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let relay = Arc::clone(&relay);
        tokio::spawn(async move {
            let upstream = relay.settings.upstream;
            match TcpStream::connect(("127.0.0.1", upstream)).await {
                Ok(server) => relay_link(relay, client, server).await,
                // The client sees the server's refusal as a connection closed at once.
                Err(e) => eprintln!("relay: cannot reach 127.0.0.1:{upstream}: {e}"),
            }
        });
    }
}

async fn relay_link(relay: Arc<Relay>, client: TcpStream, server: TcpStream) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let id = relay.next_id.fetch_add(1, Ordering::Relaxed);
    let link = Arc::new(Link::default());
    relay.links().insert(id, Arc::clone(&link));
    let (client_in, client_out) = client.into_split();
    let (server_in, server_out) = server.into_split();
    let up = forward(&relay, &link, client_in, server_out);
    let down = forward(&relay, &link, server_in, client_out);
    tokio::join!(up, down);
    relay.links().remove(&id);
}

/// One direction: a reader that stamps each chunk with its due time, and a writer that waits for
/// it (and for stalls and the rate). The reader never waits, as a kernel would keep accepting.
async fn forward(relay: &Relay, link: &Link, mut from: OwnedReadHalf, mut to: OwnedWriteHalf) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut last = Instant::now();
        loop {
            match from.read(&mut buf).await {
                Ok(n) if n > 0 => {
                    last = relay.due(last);
                    if tx.send((last, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                _ => return, // EOF or error: the writer passes the end on after the data
            }
        }
    };
    let writer = async {
        while let Some((due, chunk)) = rx.recv().await {
            sleep_until(due).await;
            relay.pass(link).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
            let pace = (chunk.len() as u64 * 1_000_000_000).checked_div(relay.settings.rate);
            if let Some(nanos) = pace {
                sleep(Duration::from_nanos(nanos)).await;
            }
        }
        relay.pass(link).await;
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(args: &[&str]) -> Relay {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let settings = Settings::parse(&args).unwrap_or_else(|e| panic!("{e}"));
        Relay {
            settings,
            stalled: AtomicBool::new(false),
            links: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            random: AtomicU64::new(12345),
        }
    }

    #[test]
    fn parses_options_and_refuses_bad_ones() {
        let r = relay(&[
            "--to", "9000", "--delay", "300", "--jitter", "50", "--rate", "1000",
        ]);
        assert_eq!(r.settings.upstream, 9000);
        assert_eq!(r.settings.delay, Duration::from_millis(300));
        assert_eq!(r.settings.jitter, Duration::from_millis(50));
        assert_eq!(r.settings.rate, 1000);
        let parse = |a: &[&str]| {
            Settings::parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>()).err()
        };
        assert_eq!(
            parse(&["--delay", "1"]).as_deref(),
            Some("relay needs --to PORT (the server on 127.0.0.1)")
        );
        assert_eq!(
            parse(&["--to", "70000"]).as_deref(),
            Some("70000 is not a TCP port")
        );
        assert_eq!(parse(&["--to"]).as_deref(), Some("--to needs a value"));
        assert_eq!(
            parse(&["--to", "1", "--fast", "1"]).as_deref(),
            Some("unknown relay option --fast")
        );
    }

    #[tokio::test]
    async fn jitter_never_reorders_and_stays_in_range() {
        let r = relay(&["--to", "1", "--delay", "300", "--jitter", "100"]);
        let start = Instant::now();
        let mut last = start;
        for _ in 0..1000 {
            let due = r.due(last);
            assert!(due >= last);
            assert!(due <= Instant::now() + Duration::from_millis(400));
            assert!(due >= start + Duration::from_millis(200));
            last = due;
        }
    }

    #[test]
    fn answers_commands() {
        let r = relay(&["--to", "1"]);
        assert_eq!(r.command("stall"), "ok stall");
        assert!(r.stalled.load(Ordering::Relaxed));
        assert_eq!(r.command("resume"), "ok resume");
        assert!(!r.stalled.load(Ordering::Relaxed));
        r.links().insert(1, Arc::new(Link::default()));
        assert_eq!(r.command("stall-some 100 50"), "ok stalled 1");
        assert_eq!(r.command("stall-some 0 50"), "ok stalled 0");
        assert_eq!(r.command("count"), "links 1");
        assert!(r
            .command("stall-some x")
            .starts_with("error: unknown command"));
        assert!(r
            .command("stall-some x 5")
            .starts_with("error: stall-some takes"));
    }
}
