//! Fails a text message at its first invalid UTF-8 byte, as the bytes arrive.
//!
//! tungstenite checks a text frame's UTF-8 only once the whole frame is in, so a server that
//! dribbles a long frame would be failed late (RFC 6455 section 8.1 asks to fail "as soon as"
//! the invalid sequence arrives; Autobahn 6.4.3 and 6.4.4). `TextWatch` follows the frames in
//! the bytes the transport hands up and checks text payloads incrementally. It only watches:
//! anything it does not expect (reserved bits, masks, bad opcodes) turns it off and is left to
//! tungstenite, which fails the connection for it.

use std::fmt;

/// The server's text message was not valid UTF-8 at this point of the stream.
#[derive(Debug)]
pub struct InvalidText {
    /// Bytes of the message's payload that came before the invalid sequence.
    pub valid: u64,
}

impl fmt::Display for InvalidText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid UTF-8 after {} valid bytes of a text message; failed as soon as it arrived",
            self.valid
        )
    }
}

impl std::error::Error for InvalidText {}

#[derive(Default)]
pub struct TextWatch {
    off: bool,
    /// Header bytes of the frame being read, and how many the header needs in all.
    header: [u8; 14],
    have: usize,
    need: usize,
    /// Payload bytes of the current frame still to come.
    remaining: u64,
    fin: bool,
    /// The current frame's payload is text (a text frame, or a continuation of one).
    text: bool,
    /// A fragmented text message is open.
    in_text: bool,
    /// Payload bytes of the open text message checked so far.
    seen: u64,
    /// The start of a character split across reads.
    carry: [u8; 4],
    carried: usize,
}

impl TextWatch {
    /// Looks at the next bytes of the stream; on invalid text, returns how many of them come
    /// before the bad byte, and the error.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), (usize, InvalidText)> {
        let start = bytes.len();
        while !self.off && !bytes.is_empty() {
            if self.remaining == 0 && self.need == 0 || self.have < self.need {
                let used = self.header_bytes(bytes);
                bytes = &bytes[used..];
                continue;
            }
            let n = usize::try_from(self.remaining).map_or(bytes.len(), |r| r.min(bytes.len()));
            if self.text {
                if let Err(back) = self.check(&bytes[..n]) {
                    // The bad sequence starts `back` bytes before this chunk's payload part ends.
                    let valid = self.seen + n as u64 - back as u64;
                    let good = (start - bytes.len() + n).saturating_sub(back);
                    return Err((good, InvalidText { valid }));
                }
                self.seen += n as u64;
            }
            bytes = &bytes[n..];
            self.remaining -= n as u64;
            if self.remaining == 0 {
                self.frame_done();
            }
        }
        Ok(())
    }

    /// Takes header bytes; once the header is whole, starts its payload. Returns bytes used.
    fn header_bytes(&mut self, bytes: &[u8]) -> usize {
        if self.need == 0 {
            self.need = 2;
        }
        let mut used = 0;
        while self.have < self.need && used < bytes.len() {
            self.header[self.have] = bytes[used];
            self.have += 1;
            used += 1;
            if self.have == 2 {
                if self.header[1] & 0x80 != 0 {
                    self.off = true; // a masked frame: tungstenite refuses it
                    return used;
                }
                self.need = match self.header[1] & 0x7F {
                    126 => 4,
                    127 => 10,
                    _ => 2,
                };
            }
        }
        if self.have == self.need {
            self.start_frame();
        }
        used
    }

    fn start_frame(&mut self) {
        let (b0, len7) = (self.header[0], self.header[1] & 0x7F);
        self.remaining = match len7 {
            126 => u64::from(u16::from_be_bytes([self.header[2], self.header[3]])),
            127 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.header[2..10]);
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        };
        self.fin = b0 & 0x80 != 0;
        if b0 & 0x70 != 0 {
            self.off = true; // reserved bits: tungstenite refuses them
            return;
        }
        self.text = match b0 & 0x0F {
            0 => self.in_text,
            1 if !self.in_text => {
                self.in_text = true;
                self.seen = 0;
                true
            }
            2 | 8..=15 => false,
            _ => {
                self.off = true; // a reserved opcode, or a new text message inside one
                return;
            }
        };
        if self.remaining == 0 {
            self.frame_done();
        }
    }

    fn frame_done(&mut self) {
        let data = self.header[0] & 0x0F < 8;
        if data && self.fin {
            self.in_text = false;
            self.carried = 0;
        }
        self.have = 0;
        self.need = 0;
    }

    /// Checks the next payload bytes of a text message. Err holds how far before the end of
    /// `bytes` the invalid sequence starts (it may start in bytes carried from before).
    fn check(&mut self, bytes: &[u8]) -> Result<(), usize> {
        let mut i = 0;
        while self.carried > 0 && i < bytes.len() {
            self.carry[self.carried] = bytes[i];
            self.carried += 1;
            i += 1;
            match std::str::from_utf8(&self.carry[..self.carried]) {
                Ok(_) => self.carried = 0,
                Err(e) if e.error_len().is_some() => return Err(bytes.len() - i + self.carried),
                Err(_) => {} // still a valid start of a character
            }
        }
        let rest = &bytes[i..];
        match std::str::from_utf8(rest) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(rest.len() - e.valid_up_to()),
            Err(e) => {
                let tail = &rest[e.valid_up_to()..];
                self.carry[..tail.len()].copy_from_slice(tail);
                self.carried = tail.len();
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![first];
        match payload.len() {
            n if n < 126 => f.push(n as u8),
            n => {
                f.push(126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        f.extend_from_slice(payload);
        f
    }

    /// Feeds `stream` in chunks of `size`: the bytes handed up before the failure, if any, and
    /// the message's valid bytes.
    fn fails_at(stream: &[u8], size: usize) -> Option<(usize, u64)> {
        let mut watch = TextWatch::default();
        for (n, chunk) in stream.chunks(size).enumerate() {
            if let Err((i, invalid)) = watch.feed(chunk) {
                return Some((n * size + i, invalid.valid));
            }
        }
        None
    }

    #[test]
    fn passes_valid_text_split_anywhere() {
        let text = "κόσμε ünïcödé 😀 ".repeat(20);
        let mut stream = frame(0x81, text.as_bytes());
        stream.extend(frame(0x82, &[0xFF, 0xFE])); // binary is not text
        stream.extend(frame(0x01, &text.as_bytes()[..3]));
        stream.extend(frame(0x89, b"ping")); // a control frame between fragments
        stream.extend(frame(0x80, &text.as_bytes()[3..]));
        for size in [1, 2, 3, 5, 7, 64, 4096] {
            assert_eq!(fails_at(&stream, size), None, "chunks of {size}");
        }
    }

    #[test]
    fn fails_at_the_first_bad_byte_before_the_frame_ends() {
        let mut payload = "κόσμε".as_bytes().to_vec();
        let valid = payload.len() + 2; // then E1 BD is a start that ED does not continue
        payload.extend_from_slice(&[0xCE, 0xBA, 0xE1, 0xBD, 0xED, 0xA0, 0x80, b'a', b'b']);
        let mut stream = frame(0x81, b"fine");
        let offset = stream.len() + 2;
        stream.extend(frame(0x81, &payload));
        for size in [1, 3, 8, 4096] {
            let (handed, counted) = fails_at(&stream, size).expect("fails");
            assert_eq!(counted, valid as u64, "chunks of {size}");
            // The bad byte (ED) is never handed up; the earlier message always is.
            assert!(
                handed <= offset + valid + 2 && handed >= 6,
                "chunks of {size}: {handed}"
            );
        }
        // A fragment: the bad byte is in the second frame.
        let mut stream = frame(0x01, b"ab");
        stream.extend(frame(0x80, &[b'c', 0xC0, b'd']));
        assert_eq!(fails_at(&stream, 1), Some((4 + 2 + 1, 3)));
    }

    #[test]
    fn stops_watching_what_tungstenite_refuses() {
        let stream = [frame(0xC1, &[0xFF]), frame(0x81, &[0xFF])].concat();
        assert_eq!(fails_at(&stream, 100), None);
    }
}
