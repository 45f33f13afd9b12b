//! TLS 1.3 traffic keys once rustls has finished the handshake: the secrets it logs, one
//! direction's key schedule (RFC 8446 7.1-7.3, including KeyUpdate), and sealing and opening
//! one record (RFC 8446 5.2-5.3) with ring's AEAD, the primitives rustls itself uses here.
//!
//! Why: rustls keeps about 7.7 KiB per connection for its whole life (a 4 KiB record buffer, the
//! peer's certificates, its state machine); an idle connection needs only its keys. See
//! doc/DESIGN.md, "TLS after the handshake".

use std::fmt;
use std::io;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;
use rustls::{CipherSuite, KeyLog};

/// The largest plaintext in one record (2^14).
pub const MAX_PLAIN: usize = 16_384;
/// A record header: type, legacy version, length.
pub const HEADER: usize = 5;
/// The largest ciphertext a record may carry (2^14 + 256).
pub const MAX_CIPHER: usize = MAX_PLAIN + 256;
/// The AEAD tag of every TLS 1.3 suite.
const TAG: usize = 16;

pub const APPLICATION_DATA: u8 = 23;
pub const HANDSHAKE: u8 = 22;
pub const ALERT: u8 = 21;

/// The TLS 1.3 suites this layer takes over; any other stays with rustls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    Aes128Gcm,
    Aes256Gcm,
    Chacha20Poly1305,
}

impl Suite {
    pub fn of(suite: CipherSuite) -> Option<Suite> {
        match suite {
            CipherSuite::TLS13_AES_128_GCM_SHA256 => Some(Suite::Aes128Gcm),
            CipherSuite::TLS13_AES_256_GCM_SHA384 => Some(Suite::Aes256Gcm),
            CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => Some(Suite::Chacha20Poly1305),
            _ => None,
        }
    }

    fn aead(self) -> &'static aead::Algorithm {
        match self {
            Suite::Aes128Gcm => &aead::AES_128_GCM,
            Suite::Aes256Gcm => &aead::AES_256_GCM,
            Suite::Chacha20Poly1305 => &aead::CHACHA20_POLY1305,
        }
    }

    fn hkdf(self) -> hkdf::Algorithm {
        match self {
            Suite::Aes256Gcm => hkdf::HKDF_SHA384,
            Suite::Aes128Gcm | Suite::Chacha20Poly1305 => hkdf::HKDF_SHA256,
        }
    }

    fn hash_len(self) -> usize {
        match self {
            Suite::Aes256Gcm => 48,
            Suite::Aes128Gcm | Suite::Chacha20Poly1305 => 32,
        }
    }

    /// Records one key may seal before it is replaced (RFC 8446 5.5: about 2^24.5 for AES-GCM;
    /// ChaCha20-Poly1305 has no practical limit).
    fn record_limit(self) -> u64 {
        match self {
            Suite::Aes128Gcm | Suite::Aes256Gcm => 1 << 23,
            Suite::Chacha20Poly1305 => u64::MAX - 1,
        }
    }
}

fn failed(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// One direction's traffic secret, the key and IV made from it, and the record sequence number.
pub struct Keys {
    suite: Suite,
    secret: [u8; 48],
    key: [u8; 32],
    iv: [u8; 12],
    seq: u64,
    /// When to replace the key (sending side only).
    limit: u64,
}

impl Keys {
    /// Keys from a traffic secret, starting at sequence number `seq`.
    pub fn new(suite: Suite, secret: &[u8], seq: u64) -> io::Result<Keys> {
        if secret.len() != suite.hash_len() {
            return Err(failed("a TLS traffic secret of the wrong length"));
        }
        let mut keys = Keys {
            suite,
            secret: [0; 48],
            key: [0; 32],
            iv: [0; 12],
            seq,
            limit: suite.record_limit(),
        };
        keys.secret[..secret.len()].copy_from_slice(secret);
        keys.derive()?;
        Ok(keys)
    }

    fn derive(&mut self) -> io::Result<()> {
        let alg = self.suite.hkdf();
        let secret = &self.secret[..self.suite.hash_len()];
        let key_len = self.suite.aead().key_len();
        expand_label(alg, secret, b"key", &mut self.key[..key_len])?;
        expand_label(alg, secret, b"iv", &mut self.iv)
    }

    /// The next generation of keys (a KeyUpdate): sequence numbers start again at 0.
    pub fn update(&mut self) -> io::Result<()> {
        let len = self.suite.hash_len();
        let mut next = [0u8; 48];
        expand_label(
            self.suite.hkdf(),
            &self.secret[..len],
            b"traffic upd",
            &mut next[..len],
        )?;
        self.secret = next;
        wipe(&mut next);
        self.seq = 0;
        self.derive()
    }

    /// The same keys, at sequence number `seq`.
    pub fn at(&mut self, seq: u64) {
        self.seq = seq;
    }

    /// Whether these are the key and IV rustls handed over.
    pub fn matches(&self, key: &[u8], iv: &[u8]) -> bool {
        let key_len = self.suite.aead().key_len();
        key == &self.key[..key_len] && iv == self.iv
    }

    /// Whether the sending key has sealed as many records as it should.
    pub fn worn_out(&self) -> bool {
        self.seq >= self.limit
    }

    #[cfg(test)]
    pub fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    /// The AEAD key, made afresh for each record: an idle connection keeps 32 bytes, not ring's
    /// expanded key tables.
    fn aead_key(&self) -> io::Result<LessSafeKey> {
        let key_len = self.suite.aead().key_len();
        UnboundKey::new(self.suite.aead(), &self.key[..key_len])
            .map(LessSafeKey::new)
            .map_err(|_| failed("a TLS key ring did not accept"))
    }

    /// The per-record nonce (the IV XORed with the sequence number), then the next number.
    fn next_nonce(&mut self) -> io::Result<Nonce> {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        self.seq = self
            .seq
            .checked_add(1)
            .ok_or_else(|| failed("the TLS record sequence number ran out"))?;
        Ok(Nonce::assume_unique_for_key(nonce))
    }

    /// Appends one record of content type `typ` holding `parts` (at most MAX_PLAIN bytes in
    /// all) to `out`.
    pub fn seal(&mut self, typ: u8, parts: &[&[u8]], out: &mut Vec<u8>) -> io::Result<()> {
        let plain: usize = parts.iter().map(|p| p.len()).sum();
        let length =
            u16::try_from(plain + 1 + TAG).map_err(|_| failed("a TLS record longer than 2^16"))?;
        let [hi, lo] = length.to_be_bytes();
        let header = [APPLICATION_DATA, 3, 3, hi, lo];
        out.reserve(HEADER + usize::from(length));
        out.extend_from_slice(&header);
        let start = out.len();
        for part in parts {
            out.extend_from_slice(part);
        }
        out.push(typ);
        let key = self.aead_key()?;
        let nonce = self.next_nonce()?;
        let tag = key
            .seal_in_place_separate_tag(nonce, Aad::from(header), &mut out[start..])
            .map_err(|_| failed("sealing a TLS record failed"))?;
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Opens the whole record `record` (header included) in place; returns its inner content
    /// type and where its plaintext now lies within `record`.
    pub fn open(&mut self, record: &mut [u8]) -> io::Result<(u8, Range<usize>)> {
        let Some(&header) = header_of(record) else {
            return Err(failed("a TLS record shorter than its header"));
        };
        if header[0] != APPLICATION_DATA {
            return Err(failed(&format!(
                "the server sent an unprotected TLS record (type {}) after the handshake",
                header[0]
            )));
        }
        let key = self.aead_key()?;
        let nonce = self.next_nonce()?;
        let plain = key
            .open_in_place(nonce, Aad::from(header), &mut record[HEADER..])
            .map_err(|_| {
                failed("a TLS record from the server failed its integrity check (bad_record_mac)")
            })?;
        // RFC 8446 5.4: the inner plaintext (content, type, padding) is at most 2^14 + 1 bytes.
        if plain.len() > MAX_PLAIN + 1 {
            return Err(failed(
                "the server sent a TLS record longer than 2^14 bytes (record_overflow)",
            ));
        }
        // The content type is the last non-zero byte; zeros after it are padding.
        let end = plain
            .iter()
            .rposition(|b| *b != 0)
            .ok_or_else(|| failed("the server sent a TLS record without a content type"))?;
        Ok((plain[end], HEADER..HEADER + end))
    }
}

/// Zeroes key material before its memory is given back (volatile: the writes are kept).
fn wipe(bytes: &mut [u8]) {
    for byte in bytes {
        // SAFETY: a valid, aligned, exclusive reference.
        unsafe { std::ptr::write_volatile(byte, 0) };
    }
}

impl Drop for Keys {
    /// Secrets do not outlive the connection in freed memory.
    fn drop(&mut self) {
        wipe(&mut self.secret);
        wipe(&mut self.key);
        wipe(&mut self.iv);
    }
}

/// The length of a record's body, as its header gives it.
pub fn body_len(header: &[u8; HEADER]) -> usize {
    usize::from(u16::from_be_bytes([header[3], header[4]]))
}

/// The header at the start of `bytes`, once all of it is there.
pub fn header_of(bytes: &[u8]) -> Option<&[u8; HEADER]> {
    bytes.get(..HEADER)?.try_into().ok()
}

/// The length of the whole record at the start of `bytes`, once all of it is there.
pub fn whole_record(bytes: &[u8]) -> io::Result<Option<usize>> {
    let Some(header) = header_of(bytes) else {
        return Ok(None);
    };
    let length = body_len(header);
    if length > MAX_CIPHER {
        return Err(failed(
            "the server sent a TLS record longer than the protocol allows (record_overflow)",
        ));
    }
    Ok((bytes.len() >= HEADER + length).then_some(HEADER + length))
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(secret, label, "", out.len()) of RFC 8446 7.1.
fn expand_label(
    alg: hkdf::Algorithm,
    secret: &[u8],
    label: &[u8],
    out: &mut [u8],
) -> io::Result<()> {
    const PREFIX: &[u8] = b"tls13 ";
    let length = u16::try_from(out.len()).map_err(|_| failed("an HKDF output too long"))?;
    let label_len =
        u8::try_from(PREFIX.len() + label.len()).map_err(|_| failed("an HKDF label too long"))?;
    let length = length.to_be_bytes();
    let info: [&[u8]; 5] = [&length, &[label_len], PREFIX, label, &[0]];
    hkdf::Prk::new_less_safe(alg, secret)
        .expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .map_err(|_| failed("deriving a TLS key failed"))
}

/// The first traffic secrets of one handshake, as rustls logs them (it is told to log them by a
/// per-connection copy of the client configuration); any key log the configuration already had
/// still gets every line.
pub struct Catcher {
    inner: Arc<dyn KeyLog>,
    caught: Mutex<Secrets>,
}

/// The sending and receiving traffic secrets of a finished handshake (zeroed when dropped).
#[derive(Default)]
pub struct Secrets {
    pub client: Vec<u8>,
    pub server: Vec<u8>,
}

impl Drop for Secrets {
    fn drop(&mut self) {
        wipe(&mut self.client);
        wipe(&mut self.server);
    }
}

const CLIENT_SECRET: &str = "CLIENT_TRAFFIC_SECRET_0";
const SERVER_SECRET: &str = "SERVER_TRAFFIC_SECRET_0";

impl Catcher {
    pub fn new(inner: Arc<dyn KeyLog>) -> Self {
        Catcher {
            inner,
            caught: Mutex::new(Secrets::default()),
        }
    }

    /// The secrets, once; None when the handshake logged none (TLS 1.2).
    pub fn take(&self) -> Option<Secrets> {
        let mut caught = self.caught.lock().unwrap_or_else(|p| p.into_inner());
        let caught = std::mem::take(&mut *caught);
        (!caught.client.is_empty() && !caught.server.is_empty()).then_some(caught)
    }
}

impl KeyLog for Catcher {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        if self.inner.will_log(label) {
            self.inner.log(label, client_random, secret);
        }
        let mut caught = self.caught.lock().unwrap_or_else(|p| p.into_inner());
        match label {
            CLIENT_SECRET => {
                wipe(&mut caught.client);
                caught.client = secret.to_vec();
            }
            SERVER_SECRET => {
                wipe(&mut caught.server);
                caught.server = secret.to_vec();
            }
            _ => {}
        }
    }

    fn will_log(&self, label: &str) -> bool {
        label == CLIENT_SECRET || label == SERVER_SECRET || self.inner.will_log(label)
    }
}

impl fmt::Debug for Catcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Catcher")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_default())
            .collect()
    }

    /// RFC 8448 section 3: the server's application traffic secret and the key and IV made
    /// from it (TLS_AES_128_GCM_SHA256).
    #[test]
    fn derives_the_rfc_8448_keys() -> io::Result<()> {
        let secret = hex("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
        let keys = Keys::new(Suite::Aes128Gcm, &secret, 0)?;
        assert!(keys.matches(
            &hex("9f02283b6c9c07efc26bb9f2ac92e356"),
            &hex("cf782b88dd83549aadf1e984")
        ));
        Ok(())
    }

    #[test]
    fn seals_and_opens_across_a_key_update() -> io::Result<()> {
        let secret = [7u8; 48];
        let mut tx = Keys::new(Suite::Aes256Gcm, &secret, 5)?;
        let mut rx = Keys::new(Suite::Aes256Gcm, &secret, 5)?;
        for round in 0..2 {
            let mut out = Vec::new();
            tx.seal(APPLICATION_DATA, &[b"hello ", b"world"], &mut out)?;
            assert_eq!(whole_record(&out)?, Some(out.len()));
            assert_eq!(whole_record(&out[..out.len() - 1])?, None);
            let (typ, range) = rx.open(&mut out)?;
            assert_eq!((typ, &out[range]), (APPLICATION_DATA, &b"hello world"[..]));
            if round == 0 {
                tx.update()?;
                rx.update()?;
            }
        }
        let mut out = Vec::new();
        tx.seal(APPLICATION_DATA, &[b"x"], &mut out)?;
        out[HEADER] ^= 1;
        assert!(rx.open(&mut out).is_err());
        Ok(())
    }
}
