//! A TLS 1.3 connection after the WebSocket upgrade, without rustls: records are sealed and
//! opened with the traffic keys rustls negotiated (tls_keys.rs), and nothing is buffered while
//! the connection is idle. rustls does the handshake and the upgrade exchange (certificate
//! checks, session tickets, every error's words); `hand_over` then takes the socket and the keys.
//!
//! Reads go straight into the caller's buffer (the reader's per-thread scratch) when it can hold
//! a whole record; only a record that is still arriving is kept here. Writes are sealed into a
//! per-thread buffer; only what the socket did not take is kept here.

use std::cell::RefCell;
use std::io::{self, IoSlice, Read, Write};
use std::ops::Range;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use rustls::{AlertDescription, ConnectionTrafficSecrets, ProtocolVersion};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::client::TlsStream;

use crate::sockets::Tcp;
use crate::tls_keys::{
    body_len, header_of, whole_record, Catcher, Keys, Suite, ALERT, APPLICATION_DATA, HANDSHAKE,
    HEADER, MAX_CIPHER, MAX_PLAIN,
};

/// Plaintext sealed per write call (four full records).
const WRITE_AT_MOST: usize = 4 * MAX_PLAIN;
/// A caller's buffer at least this large takes records straight from the socket.
const DIRECT_AT_LEAST: usize = HEADER + MAX_CIPHER;
/// How much of a caller's buffer one direct read uses.
const DIRECT_AT_MOST: usize = 64 * 1024;
/// The largest post-handshake message accepted (session tickets are a few hundred bytes).
const MAX_MESSAGE: usize = 64 * 1024;
/// Records in a row without application data before the server is deemed abusive.
const MAX_IDLE_RECORDS: u32 = 64;

const NEW_SESSION_TICKET: u8 = 4;
const KEY_UPDATE: u8 = 24;
const CLOSE_NOTIFY: u8 = 0;
const USER_CANCELED: u8 = 90;

thread_local! {
    /// Records sealed by one write call, before the socket takes them.
    static SEALED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn broken(words: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, words)
}

/// Reads that end at TLS record boundaries, while rustls drives the connection: when the
/// upgrade is done, rustls then holds no part of a record that `hand_over` could not take.
#[derive(Default)]
pub struct RecordEdge {
    header: [u8; HEADER],
    seen: usize,
    body_left: usize,
}

impl RecordEdge {
    /// How many of `want` bytes the next read may take.
    pub fn allow(&self, want: usize) -> usize {
        if self.seen < HEADER {
            want.min(HEADER - self.seen)
        } else {
            want.min(self.body_left)
        }
    }

    /// Follows the bytes a read returned (at most `allow` of them).
    pub fn saw(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.seen < HEADER {
                let n = (HEADER - self.seen).min(bytes.len());
                self.header[self.seen..self.seen + n].copy_from_slice(&bytes[..n]);
                self.seen += n;
                bytes = &bytes[n..];
                if self.seen == HEADER {
                    self.body_left = body_len(&self.header);
                }
            } else {
                let n = self.body_left.min(bytes.len());
                self.body_left -= n;
                bytes = &bytes[n..];
            }
            if self.seen == HEADER && self.body_left == 0 {
                self.seen = 0;
            }
        }
    }

    pub fn at_boundary(&self) -> bool {
        self.seen == 0
    }
}

pub struct LeanTls<S> {
    io: S,
    rx: Keys,
    tx: Keys,
    /// Received bytes: opened application data not yet handed out (`plain`), then ciphertext
    /// from `cipher` on. Unallocated while nothing is pending.
    held: Vec<u8>,
    plain: Range<usize>,
    cipher: usize,
    /// A post-handshake message that spans records.
    message: Vec<u8>,
    /// Sealed bytes the socket has not taken yet, from `sent` on.
    unsent: Vec<u8>,
    sent: usize,
    /// The server sent close_notify or closed the socket: no more data.
    read_done: bool,
    /// How reading ended, when it ended other than by close_notify: every later read reports it
    /// again (a connection is never resynchronised after a bad record, RFC 8446).
    read_error: Option<(io::ErrorKind, String)>,
    /// Records in a row that carried no application data (bounded, as rustls bounds them).
    idle_records: u32,
    /// The server asked for our KeyUpdate: it goes out before our next application data
    /// (RFC 8446 4.6.3: one, however many requests arrived meanwhile).
    update_owed: bool,
    close_sent: bool,
}

/// What `hand_over` did with a stream.
pub enum Handover {
    /// The lean stream, and application data rustls had already opened (it comes first).
    Lean(Box<LeanTls<Tcp>>, Vec<u8>),
    /// Not a TLS 1.3 connection with one of our suites: rustls keeps it.
    Kept(Box<TlsStream<Tcp>>),
}

/// Takes a TLS 1.3 connection over from rustls once its handshake and the upgrade are done.
pub fn hand_over(mut stream: TlsStream<Tcp>, catcher: &Catcher) -> io::Result<Handover> {
    // Taken in every case: the secrets must not stay in memory with a connection rustls keeps.
    let secrets = catcher.take();
    let (tcp, conn) = stream.get_mut();
    let at_boundary = tcp.stop_at_records(false);
    let suite = conn
        .negotiated_cipher_suite()
        .and_then(|s| Suite::of(s.suite()));
    // A KeyUpdate reply rustls sealed but still holds back (it goes out before the next data)
    // joins the records waiting to be written; an error rustls has seen stays with rustls.
    let eligible = at_boundary
        && conn.protocol_version() == Some(ProtocolVersion::TLSv1_3)
        && conn.writer().write(&[]).is_ok();
    let (true, Some(suite), Some(secrets)) = (eligible, suite, secrets) else {
        return Ok(Handover::Kept(Box::new(stream)));
    };
    let (tcp, mut conn) = stream.into_inner();
    let mut unsent = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut unsent)?;
    }
    let mut early = Vec::new();
    let mut ending = None;
    let mut chunk = [0u8; 4096];
    loop {
        match conn.reader().read(&mut chunk) {
            Ok(0) => {
                ending = Some(Ok(()));
                break;
            }
            Ok(n) => early.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => {
                ending = Some(Err(e));
                break;
            }
        }
    }
    let extracted = conn
        .dangerous_extract_secrets()
        .map_err(|e| io::Error::other(format!("rustls did not hand over its keys: {e}")))?;
    let tx = keys_matching(suite, &secrets.client, extracted.tx)?;
    let rx = keys_matching(suite, &secrets.server, extracted.rx)?;
    let mut lean = LeanTls::new(tcp, rx, tx);
    lean.unsent = unsent;
    if let Some(ending) = ending {
        lean.end_reading(ending);
    }
    Ok(Handover::Lean(Box::new(lean), early))
}

/// Keys from the logged first secret, updated as often as the server already did (at most a
/// few times), that match what rustls was using.
fn keys_matching(
    suite: Suite,
    secret: &[u8],
    given: (u64, ConnectionTrafficSecrets),
) -> io::Result<Keys> {
    let (seq, secrets) = given;
    let (key, iv) = match &secrets {
        ConnectionTrafficSecrets::Aes128Gcm { key, iv }
        | ConnectionTrafficSecrets::Aes256Gcm { key, iv }
        | ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => (key.as_ref(), iv.as_ref()),
        _ => {
            return Err(io::Error::other(
                "rustls handed over keys of an unknown kind",
            ))
        }
    };
    let mut keys = Keys::new(suite, secret, 0)?;
    for _ in 0..8 {
        if keys.matches(key, iv) {
            keys.at(seq);
            return Ok(keys);
        }
        keys.update()?;
    }
    Err(io::Error::other(
        "the TLS keys rustls handed over do not follow from the handshake's secrets",
    ))
}

impl<S: AsyncRead + AsyncWrite + Unpin> LeanTls<S> {
    pub fn new(io: S, rx: Keys, tx: Keys) -> Self {
        LeanTls {
            io,
            rx,
            tx,
            held: Vec::new(),
            plain: 0..0,
            cipher: 0,
            message: Vec::new(),
            unsent: Vec::new(),
            sent: 0,
            read_done: false,
            read_error: None,
            idle_records: 0,
            update_owed: false,
            close_sent: false,
        }
    }

    /// No more data will come: cleanly (close_notify), or with an error every later read reports.
    fn end_reading(&mut self, how: io::Result<()>) {
        self.read_done = true;
        self.read_error = how.err().map(|e| (e.kind(), e.to_string()));
    }

    /// What a read reports once reading has ended.
    fn ending(&self) -> io::Result<()> {
        match &self.read_error {
            Some((kind, words)) => Err(io::Error::new(*kind, words.clone())),
            None => Ok(()),
        }
    }

    /// The socket reached its end: without close_notify it is an unexpected end, as rustls has it.
    fn socket_ended(&mut self) {
        let words = if self.held.len() > self.cipher {
            "the server closed the connection in the middle of a TLS record"
        } else {
            "peer closed connection without sending TLS close_notify"
        };
        self.end_reading(Err(io::Error::new(io::ErrorKind::UnexpectedEof, words)));
        // Only read when no opened data waits: what is left is a torn record.
        self.held = Vec::new();
        self.cipher = 0;
        self.plain = 0..0;
    }

    /// Gives back what `held` no longer needs.
    fn tidy(&mut self) {
        if !self.plain.is_empty() || self.cipher == 0 {
            return;
        }
        if self.cipher == self.held.len() {
            self.held = Vec::new();
        } else {
            self.held.drain(..self.cipher);
        }
        self.cipher = 0;
        self.plain = 0..0;
    }

    /// Opens the whole record at `range` in `buf`; application data is returned (as a range of
    /// `buf`), anything else is handled here.
    fn open(&mut self, buf: &mut [u8], range: Range<usize>) -> io::Result<Option<Range<usize>>> {
        let (typ, inner) = self.rx.open(&mut buf[range.clone()])?;
        let inner = range.start + inner.start..range.start + inner.end;
        if typ != HANDSHAKE && !self.message.is_empty() {
            return Err(broken(
                "the server interrupted a TLS handshake message with another record".to_string(),
            ));
        }
        if typ == APPLICATION_DATA && !inner.is_empty() {
            self.idle_records = 0;
            return Ok(Some(inner));
        }
        if typ != APPLICATION_DATA {
            let bytes = buf[inner].to_vec();
            self.control(typ, &bytes)?;
        }
        // Counted after it was handled: a close_notify ends reading whatever came before it.
        self.idle_records += 1;
        if self.idle_records > MAX_IDLE_RECORDS && !self.read_done {
            return Err(broken(format!(
                "the server sent {MAX_IDLE_RECORDS} TLS records in a row without data"
            )));
        }
        Ok(None)
    }

    /// An alert or post-handshake message from the server.
    fn control(&mut self, typ: u8, bytes: &[u8]) -> io::Result<()> {
        match typ {
            ALERT => match bytes {
                [_, CLOSE_NOTIFY] => {
                    self.read_done = true;
                    Ok(())
                }
                [_, USER_CANCELED] => Ok(()),
                [_, code] => Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    format!(
                        "the server sent the TLS alert {:?}",
                        AlertDescription::from(*code)
                    ),
                )),
                _ => Err(broken(format!(
                    "the server sent a malformed TLS alert ({} bytes)",
                    bytes.len()
                ))),
            },
            HANDSHAKE => self.handshake(bytes),
            other => Err(broken(format!(
                "the server sent a TLS record of type {other} after the handshake"
            ))),
        }
    }

    /// Post-handshake messages: session tickets (not kept: they arrive before the upgrade reply,
    /// while rustls still stores them) and KeyUpdate.
    fn handshake(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Err(broken(
                "the server sent an empty TLS handshake record".to_string(),
            ));
        }
        self.message.extend_from_slice(bytes);
        if self.message.len() > MAX_MESSAGE {
            return Err(broken(
                "the server sent a TLS handshake message over 64 KiB after the handshake"
                    .to_string(),
            ));
        }
        while let [typ, a, b, c, rest @ ..] = self.message.as_slice() {
            let len = usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c);
            if rest.len() < len {
                break;
            }
            match (*typ, &rest[..len]) {
                (NEW_SESSION_TICKET, _) => {}
                (KEY_UPDATE, [request @ (0 | 1)]) => {
                    // RFC 8446 5.1: nothing may follow a key change in its record.
                    if rest.len() > len {
                        return Err(broken(
                            "the server's TLS KeyUpdate did not end its record".to_string(),
                        ));
                    }
                    self.rx.update()?;
                    self.update_owed |= *request == 1;
                }
                (KEY_UPDATE, _) => {
                    return Err(broken(
                        "the server sent a malformed TLS KeyUpdate".to_string(),
                    ))
                }
                (other, _) => {
                    return Err(broken(format!(
                        "the server sent TLS handshake message {other} after the handshake \
                         (or one that began before rustls handed the connection over)"
                    )))
                }
            }
            self.message.drain(..4 + len);
        }
        if self.message.is_empty() {
            self.message = Vec::new();
        }
        Ok(())
    }

    /// Reads more ciphertext into `held` (the caller's buffer is too small for a record).
    fn read_held(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let pending = &self.held[self.cipher..];
        let want = match header_of(pending) {
            Some(header) => HEADER + body_len(header),
            None => HEADER + MAX_CIPHER,
        }
        .saturating_sub(pending.len())
        .max(1);
        self.held.reserve(want);
        let spare = &mut self.held.spare_capacity_mut()[..want];
        let mut buf = ReadBuf::uninit(spare);
        ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf))?;
        let n = buf.filled().len();
        // SAFETY: `poll_read` initialized the first `n` bytes of the spare capacity.
        unsafe { self.held.set_len(self.held.len() + n) };
        if n == 0 {
            self.socket_ended();
        }
        Poll::Ready(Ok(()))
    }

    /// Reads straight into the caller's buffer and opens every whole record there, moving the
    /// application data to the front. Returns whether any was delivered.
    fn read_direct(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<bool>> {
        let partial = self.held.len() - self.cipher;
        let room = buf.remaining().min(DIRECT_AT_MOST);
        let region = buf.initialize_unfilled_to(room);
        let mut read = ReadBuf::new(&mut region[partial..]);
        ready!(Pin::new(&mut self.io).poll_read(cx, &mut read))?;
        let n = read.filled().len();
        if n == 0 {
            self.socket_ended();
            return Poll::Ready(Ok(false));
        }
        region[..partial].copy_from_slice(&self.held[self.cipher..]);
        self.held = Vec::new();
        self.cipher = 0;
        let total = partial + n;
        let (mut at, mut delivered) = (0, 0);
        while let Some(len) = whole_record(&region[at..total])? {
            if let Some(inner) = self.open(region, at..at + len)? {
                region.copy_within(inner.clone(), delivered);
                delivered += inner.len();
            }
            at += len;
            if self.read_done {
                break;
            }
        }
        if !self.read_done && at < total {
            self.held = region[at..total].to_vec();
        }
        buf.advance(delivered);
        Poll::Ready(Ok(delivered > 0))
    }

    /// Writes what the socket has not taken yet.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.unsent.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.unsent[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        if !self.unsent.is_empty() {
            self.unsent = Vec::new();
            self.sent = 0;
        }
        Poll::Ready(Ok(()))
    }

    /// Seals up to WRITE_AT_MOST bytes of `bufs` into `out`; returns how many were taken.
    fn seal_into(&mut self, bufs: &[IoSlice<'_>], out: &mut Vec<u8>) -> io::Result<usize> {
        let mut parts: Vec<&[u8]> = Vec::new();
        let (mut room, mut taken) = (MAX_PLAIN, 0);
        for slice in bufs {
            let mut rest: &[u8] = slice;
            while !rest.is_empty() && taken < WRITE_AT_MOST {
                let n = rest.len().min(room).min(WRITE_AT_MOST - taken);
                parts.push(&rest[..n]);
                rest = &rest[n..];
                room -= n;
                taken += n;
                if room == 0 {
                    self.seal_record(&parts, out)?;
                    parts.clear();
                    room = MAX_PLAIN;
                }
            }
        }
        if !parts.is_empty() {
            self.seal_record(&parts, out)?;
        }
        Ok(taken)
    }

    fn seal_record(&mut self, parts: &[&[u8]], out: &mut Vec<u8>) -> io::Result<()> {
        if self.update_owed || self.tx.worn_out() {
            // Under the old key; everything after it under the new one.
            self.tx.seal(HANDSHAKE, &[&[KEY_UPDATE, 0, 0, 1, 0]], out)?;
            self.tx.update()?;
            self.update_owed = false;
        }
        self.tx.seal(APPLICATION_DATA, parts, out)
    }

    #[cfg(test)]
    pub fn set_send_limit(&mut self, limit: u64) {
        self.tx.set_limit(limit);
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for LeanTls<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = this.read_records(cx, buf);
        if let Poll::Ready(Err(e)) = &result {
            if !this.read_done {
                this.end_reading(Err(io::Error::new(e.kind(), e.to_string())));
            }
        }
        result
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> LeanTls<S> {
    /// Hands out opened data, opening records and reading the socket as needed.
    fn read_records(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self;
        loop {
            if !this.plain.is_empty() {
                let n = this.plain.len().min(buf.remaining());
                buf.put_slice(&this.held[this.plain.start..this.plain.start + n]);
                this.plain.start += n;
                this.tidy();
                return Poll::Ready(Ok(()));
            }
            if this.read_done {
                return Poll::Ready(this.ending());
            }
            if let Some(len) = whole_record(&this.held[this.cipher..])? {
                let range = this.cipher..this.cipher + len;
                this.cipher += len;
                let mut held = std::mem::take(&mut this.held);
                let opened = this.open(&mut held, range);
                this.held = held;
                if let Some(inner) = opened? {
                    this.plain = inner;
                }
                this.tidy();
                continue;
            }
            if buf.remaining() >= DIRECT_AT_LEAST {
                if ready!(this.read_direct(cx, buf))? {
                    return Poll::Ready(Ok(()));
                }
            } else {
                ready!(this.read_held(cx))?;
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for LeanTls<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if this.close_sent {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after the TLS close_notify",
            )));
        }
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        SEALED.with_borrow_mut(|out| {
            out.clear();
            let taken = this.seal_into(bufs, out)?;
            let written = match Pin::new(&mut this.io).poll_write(cx, out) {
                Poll::Ready(result) => result?,
                Poll::Pending => 0,
            };
            if written < out.len() {
                this.unsent = out[written..].to_vec();
                this.sent = 0;
            }
            Poll::Ready(Ok(taken))
        })
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    /// Sends close_notify once, then shuts the socket's sending side.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.close_sent {
            this.close_sent = true;
            this.tx
                .seal(ALERT, &[&[1, CLOSE_NOTIFY]], &mut this.unsent)?;
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[path = "tls_stream_tests.rs"]
mod tests;
