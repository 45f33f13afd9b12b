//! The sockets this process's connections own, so that a forked child closes its copies at once
//! (a child that lives on would otherwise keep every parent connection's TCP flow open).
//!
//! A lock-free bitmap keyed by descriptor: a fork can happen while a tokio thread adds a socket,
//! and a lock held at that moment would stay held in the child for ever.

use std::io;
use std::net::SocketAddr;
use std::ops::Deref;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::task::{ready, Context, Poll};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::tls_stream::RecordEdge;

/// Words per chunk: 65,536 descriptors; chunks are made on first use and never freed.
const WORDS: usize = 1024;
/// 64 Mi descriptors in all, far above any RLIMIT_NOFILE.
const CHUNKS: usize = 1024;

type Chunk = [AtomicU64; WORDS];

static TABLE: [AtomicPtr<Chunk>; CHUNKS] = [const { AtomicPtr::new(ptr::null_mut()) }; CHUNKS];

/// Marks a socket as owned by a connection while it lives. Drop it before the socket closes:
/// the descriptor number may be reused at once, and a child must never close a stranger's.
pub struct Owned(Option<(&'static AtomicU64, u64)>);

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some((word, bit)) = self.0 {
            word.fetch_and(!bit, Ordering::AcqRel);
        }
    }
}

/// Records `fd` until the returned guard is dropped.
pub fn own(fd: RawFd) -> Owned {
    let Some((word, bit)) = slot(fd) else {
        return Owned(None);
    };
    word.fetch_or(bit, Ordering::AcqRel);
    Owned(Some((word, bit)))
}

/// A TCP stream recorded from the moment its socket exists (also while it connects, and through
/// the proxy, TLS and upgrade steps), so a fork in the middle of a dial is covered too.
pub struct Tcp {
    // First, so it drops before the socket closes.
    _owned: Owned,
    stream: TcpStream,
    /// Set while rustls reads through this socket and will hand the connection over later.
    edge: Option<Box<RecordEdge>>,
}

impl Tcp {
    /// Connects to `addr` (no Nagle delay); the socket is recorded before the SYN goes out.
    pub async fn connect(addr: SocketAddr) -> io::Result<Tcp> {
        let socket = Socket::new(
            Domain::for_address(addr),
            Type::STREAM.nonblocking(),
            Some(Protocol::TCP),
        )?;
        // Declared after `socket`, so on every early return it drops first.
        let owned = own(socket.as_raw_fd());
        match socket.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        let _ = socket.set_tcp_nodelay(true);
        let tcp = Tcp {
            _owned: owned,
            stream: TcpStream::from_std(std::net::TcpStream::from(socket))?,
            edge: None,
        };
        tcp.stream.writable().await?;
        match tcp.stream.take_error()? {
            Some(e) => Err(e),
            None => Ok(tcp),
        }
    }

    /// With `true`, reads end at TLS record boundaries (see `RecordEdge`); with `false` they
    /// no longer do. Returns whether the last read ended at a boundary.
    pub fn stop_at_records(&mut self, on: bool) -> bool {
        let at_boundary = self.edge.as_ref().is_none_or(|e| e.at_boundary());
        self.edge = on.then(Box::default);
        at_boundary
    }
}

impl Deref for Tcp {
    type Target = TcpStream;

    fn deref(&self) -> &TcpStream {
        &self.stream
    }
}

impl AsyncRead for Tcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(edge) = this.edge.as_mut() else {
            return Pin::new(&mut this.stream).poll_read(cx, buf);
        };
        let mut part = buf.take(edge.allow(buf.remaining()));
        ready!(Pin::new(&mut this.stream).poll_read(cx, &mut part))?;
        let n = part.filled().len();
        edge.saw(part.filled());
        // SAFETY: the read initialized the first `n` unfilled bytes of `buf` (`part` is them).
        unsafe { buf.assume_init(n) };
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Tcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

fn slot(fd: RawFd) -> Option<(&'static AtomicU64, u64)> {
    let fd = usize::try_from(fd).ok()?;
    let (chunk, rest) = (fd / (WORDS * 64), fd % (WORDS * 64));
    let cell = TABLE.get(chunk)?;
    let mut current = cell.load(Ordering::Acquire);
    if current.is_null() {
        let fresh = Box::into_raw(Box::new([const { AtomicU64::new(0) }; WORDS]));
        current = match cell.compare_exchange(
            ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => fresh,
            Err(winner) => {
                // SAFETY: `fresh` came from Box::into_raw above and was never shared.
                drop(unsafe { Box::from_raw(fresh) });
                winner
            }
        };
    }
    // SAFETY: a non-null entry points to a leaked Box that is never freed.
    let words: &'static Chunk = unsafe { &*current };
    Some((&words[rest / 64], 1u64 << (rest % 64)))
}

/// In a forked child: closes every socket the parent's connections owned at the fork. Their
/// tasks never run here, so nothing else will use or close these descriptors.
pub fn close_inherited() -> usize {
    let mut closed = 0;
    for (c, cell) in TABLE.iter().enumerate() {
        let chunk = cell.load(Ordering::Acquire);
        if chunk.is_null() {
            continue;
        }
        // SAFETY: as in `slot`.
        let words: &Chunk = unsafe { &*chunk };
        for (w, word) in words.iter().enumerate() {
            let mut bits = word.swap(0, Ordering::AcqRel);
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let fd = (c * WORDS + w) * 64 + b;
                if let Ok(fd) = RawFd::try_from(fd) {
                    // SAFETY: the parent's owner of this descriptor never runs in this process.
                    drop(unsafe { OwnedFd::from_raw_fd(fd) });
                    closed += 1;
                }
            }
        }
    }
    closed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owns_until_dropped() {
        let (word, bit) = slot(70_000).expect("a slot for a valid descriptor");
        let guard = own(70_000);
        assert_ne!(word.load(Ordering::Acquire) & bit, 0);
        drop(guard);
        assert_eq!(word.load(Ordering::Acquire) & bit, 0);
        assert!(slot(-1).is_none());
    }
}
