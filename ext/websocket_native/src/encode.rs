//! Frames out: a client's frames, each masked with a fresh random key (RFC 6455 section 5.3).

pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// Appends the header of a final frame with this opcode and payload length; returns its key.
pub fn header(out: &mut Vec<u8>, opcode: u8, len: usize) -> [u8; 4] {
    out.push(0x80 | opcode);
    match len {
        0..=125 => out.push(0x80 | len as u8),
        126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    let key: [u8; 4] = rand::random();
    out.extend_from_slice(&key);
    key
}

/// Appends a whole frame: header, then the payload masked.
pub fn frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    let key = header(out, opcode, payload.len());
    let start = out.len();
    out.extend_from_slice(payload);
    mask(&mut out[start..], key);
}

/// A close frame's payload: the code, then the reason cut to fit a control frame (123 bytes) at
/// a character boundary. 1005 means "no code": an empty payload.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    if code == 1005 {
        return Vec::new();
    }
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    payload
}

/// XORs `buf` with the key, eight bytes at a time.
pub fn mask(buf: &mut [u8], key: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut words = buf.chunks_exact_mut(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        word.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ wide).to_ne_bytes());
    }
    // The rest starts at a multiple of 8, so at key byte 0.
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_like_the_rfc_says() {
        for len in [0usize, 1, 7, 8, 9, 125, 126, 65535, 65536, 100_003] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut out = Vec::new();
            frame(&mut out, BINARY, &payload);
            assert_eq!(out[0], 0x82);
            assert_eq!(out[1] & 0x80, 0x80, "masked");
            let (len_bytes, key_at) = match out[1] & 0x7F {
                126 => (u16::from_be_bytes([out[2], out[3]]) as usize, 4),
                127 => {
                    let mut n = [0u8; 8];
                    n.copy_from_slice(&out[2..10]);
                    (u64::from_be_bytes(n) as usize, 10)
                }
                n => (n as usize, 2),
            };
            assert_eq!(len_bytes, len);
            let key = [
                out[key_at],
                out[key_at + 1],
                out[key_at + 2],
                out[key_at + 3],
            ];
            let unmasked: Vec<u8> = out[key_at + 4..]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[i % 4])
                .collect();
            assert_eq!(unmasked, payload, "length {len}");
        }
    }

    #[test]
    fn cuts_a_close_reason_at_a_character() {
        let reason = "é".repeat(100);
        let payload = close_payload(1002, &reason);
        assert_eq!(payload.len(), 2 + 122);
        assert!(std::str::from_utf8(&payload[2..]).is_ok());
        assert!(close_payload(1005, "x").is_empty());
    }
}
