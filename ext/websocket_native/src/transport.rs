//! The byte stream under a WebSocket: plain TCP, TLS over TCP, or TLS inside a TLS tunnel (an
//! https:// proxy), with a clock of the last write
//! that made progress (the close deadline is measured from it: a slow reader is not a dead one).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use once_cell::sync::Lazy;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::client::TlsStream;

use crate::sockets::Tcp;
use crate::tls_keys::Catcher;
use crate::tls_stream::{hand_over, Handover, LeanTls};

static CLOCK_BASE: Lazy<Instant> = Lazy::new(Instant::now);

/// Milliseconds on a process-wide monotonic clock.
pub fn now_ms() -> u64 {
    u64::try_from(CLOCK_BASE.elapsed().as_millis()).unwrap_or(u64::MAX)
}

enum Inner {
    Plain(Tcp),
    Tls(Box<TlsStream<Tcp>>),
    TlsInTls(Box<TlsStream<TlsStream<Tcp>>>),
    /// TLS 1.3 after the upgrade, without rustls (tls_stream.rs).
    Lean(Box<LeanTls<Tcp>>),
}

pub struct Transport {
    inner: Inner,
    last_write: Arc<AtomicU64>,
    /// Bytes read past the upgrade reply, handed out before the socket is read again.
    leftover: Vec<u8>,
}

impl Transport {
    pub fn plain(stream: Tcp) -> Self {
        Self::new(Inner::Plain(stream))
    }

    pub fn tls(stream: TlsStream<Tcp>) -> Self {
        Self::new(Inner::Tls(Box::new(stream)))
    }

    pub fn tls_in_tls(stream: TlsStream<TlsStream<Tcp>>) -> Self {
        Self::new(Inner::TlsInTls(Box::new(stream)))
    }

    fn new(inner: Inner) -> Self {
        Transport {
            inner,
            last_write: Arc::new(AtomicU64::new(now_ms())),
            leftover: Vec::new(),
        }
    }

    /// Makes the next reads return these bytes first.
    pub fn replay(&mut self, bytes: Vec<u8>) {
        self.leftover = bytes;
    }

    /// Once the upgrade is done: a TLS 1.3 connection is taken over from rustls (see
    /// `tls_stream::hand_over`); anything else stays as it is.
    pub fn lighten(self, catcher: &Catcher) -> io::Result<Transport> {
        let Transport {
            inner,
            last_write,
            mut leftover,
        } = self;
        let inner = match inner {
            Inner::Tls(stream) => match hand_over(*stream, catcher)? {
                Handover::Lean(lean, early) => {
                    leftover.extend_from_slice(&early);
                    Inner::Lean(lean)
                }
                Handover::Kept(stream) => Inner::Tls(stream),
            },
            other => other,
        };
        Ok(Transport {
            inner,
            last_write,
            leftover,
        })
    }

    /// When bytes were last accepted by the socket (see `now_ms`).
    pub fn write_clock(&self) -> Arc<AtomicU64> {
        self.last_write.clone()
    }
}

/// What every layer of the stream is; `Transport` hands each call to the one it holds.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

impl Transport {
    fn stream(&mut self) -> Pin<&mut dyn Stream> {
        match &mut self.inner {
            Inner::Plain(s) => Pin::new(s),
            Inner::Tls(s) => Pin::new(s.as_mut()),
            Inner::TlsInTls(s) => Pin::new(s.as_mut()),
            Inner::Lean(s) => Pin::new(s.as_mut()),
        }
    }

    /// Notes the time of a write that made progress; passes its result on.
    fn clocked(&self, result: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = &result {
            if *n > 0 {
                self.last_write.store(now_ms(), Ordering::Release);
            }
        }
        result
    }
}

impl AsyncRead for Transport {
    /// The replayed bytes first, then the socket's.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.leftover.is_empty() {
            let n = this.leftover.len().min(buf.remaining());
            buf.put_slice(&this.leftover[..n]);
            this.leftover.drain(..n);
            if this.leftover.is_empty() {
                this.leftover = Vec::new(); // give the memory back
            }
            return Poll::Ready(Ok(()));
        }
        this.stream().poll_read(cx, buf)
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = this.stream().poll_write(cx, buf);
        this.clocked(result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = this.stream().poll_write_vectored(cx, bufs);
        this.clocked(result)
    }

    fn is_write_vectored(&self) -> bool {
        match &self.inner {
            Inner::Plain(s) => s.is_write_vectored(),
            Inner::Tls(s) => s.is_write_vectored(),
            Inner::TlsInTls(s) => s.is_write_vectored(),
            Inner::Lean(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().stream().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().stream().poll_shutdown(cx)
    }
}
