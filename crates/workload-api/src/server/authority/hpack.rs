//! Just enough HPACK (RFC 7541) to read a request's header block and write
//! it back: a decoder that mirrors the client's dynamic table, and an
//! encoder that writes every field as a literal without indexing (§6.2.2),
//! so the server's table stays empty and the two never need to agree.

use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;

use super::tables::{ENCODE_CODES, ENCODE_CODE_LENGTHS, STATIC};

/// The dynamic table size the server advertises (h2's default,
/// SETTINGS_HEADER_TABLE_SIZE 4096, which tonic keeps).
pub(super) const MAX_TABLE: usize = 4096;
/// The most a header block may decode to (RFC 7541 field sizes summed),
/// above what any Workload API request needs; a block past it closes the
/// connection before anything is copied further.
pub(super) const MAX_DECODED: usize = 64 * 1024;
/// The longest string accepted (a header block is bounded before this).
const MAX_STRING: usize = 64 * 1024;

/// The block could not be decoded; the connection is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Malformed;

type Field = (Vec<u8>, Vec<u8>);

/// The decoder's state: the client's dynamic table, newest first.
#[derive(Debug, Default)]
pub(super) struct Decoder {
    table: VecDeque<Field>,
    size: usize,
    max: Option<usize>,
}

fn entry_size(f: &Field) -> usize {
    f.0.len() + f.1.len() + 32
}

impl Decoder {
    fn max(&self) -> usize {
        self.max.unwrap_or(MAX_TABLE)
    }

    fn evict_to(&mut self, limit: usize) {
        while self.size > limit {
            match self.table.pop_back() {
                Some(f) => self.size -= entry_size(&f),
                None => break,
            }
        }
    }

    fn insert(&mut self, f: Field) {
        let s = entry_size(&f);
        if s > self.max() {
            self.table.clear();
            self.size = 0;
            return;
        }
        self.evict_to(self.max() - s);
        self.size += s;
        self.table.push_front(f);
    }

    fn get(&self, idx: usize) -> Result<Field, Malformed> {
        if idx == 0 {
            return Err(Malformed);
        }
        if let Some((n, v)) = STATIC.get(idx - 1) {
            return Ok((n.to_vec(), v.to_vec()));
        }
        self.table
            .get(idx - 1 - STATIC.len())
            .cloned()
            .ok_or(Malformed)
    }

    /// Decodes one complete header block.
    pub(super) fn decode(&mut self, block: &[u8]) -> Result<Vec<Field>, Malformed> {
        let mut r = Reader { buf: block, pos: 0 };
        let mut out = Vec::new();
        // What the block decodes to, counted as RFC 7541 §4.1 sizes a
        // field: one byte of table reference can stand for a 4 KiB field,
        // so the decoded size is bounded, not just the block's.
        let mut decoded = 0usize;
        let mut keep = |out: &mut Vec<Field>, f: Field| -> Result<(), Malformed> {
            decoded = decoded.saturating_add(f.0.len() + f.1.len() + 32);
            if decoded > MAX_DECODED {
                return Err(Malformed);
            }
            out.push(f);
            Ok(())
        };
        while let Some(first) = r.peek() {
            if first & 0x80 != 0 {
                keep(&mut out, self.get(r.int(7)?)?)?;
            } else if first & 0xc0 == 0x40 {
                let f = self.literal(&mut r, 6)?;
                self.insert(f.clone());
                keep(&mut out, f)?;
            } else if first & 0xe0 == 0x20 {
                let new = r.int(5)?;
                if new > MAX_TABLE {
                    return Err(Malformed);
                }
                self.max = Some(new);
                self.evict_to(new);
            } else {
                keep(&mut out, self.literal(&mut r, 4)?)?;
            }
        }
        Ok(out)
    }

    fn literal(&self, r: &mut Reader<'_>, prefix: u8) -> Result<Field, Malformed> {
        let idx = r.int(prefix)?;
        let name = if idx == 0 {
            r.string()?
        } else {
            self.get(idx)?.0
        };
        Ok((name, r.string()?))
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn byte(&mut self) -> Result<u8, Malformed> {
        let b = self.peek().ok_or(Malformed)?;
        self.pos += 1;
        Ok(b)
    }

    /// §5.1, bounded to 2^28.
    fn int(&mut self, prefix: u8) -> Result<usize, Malformed> {
        let mask = (1usize << prefix) - 1;
        let mut value = usize::from(self.byte()?) & mask;
        if value < mask {
            return Ok(value);
        }
        let mut shift = 0;
        loop {
            let b = self.byte()?;
            value += usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
            if shift > 21 {
                return Err(Malformed);
            }
        }
    }

    /// §5.2.
    fn string(&mut self) -> Result<Vec<u8>, Malformed> {
        let huffman = self.peek().ok_or(Malformed)? & 0x80 != 0;
        let len = self.int(7)?;
        if len > MAX_STRING {
            return Err(Malformed);
        }
        let end = self.pos.checked_add(len).ok_or(Malformed)?;
        let raw = self.buf.get(self.pos..end).ok_or(Malformed)?;
        self.pos = end;
        if huffman {
            huffman_decode(raw)
        } else {
            Ok(raw.to_vec())
        }
    }
}

/// (code length, code) → byte.
fn codes() -> &'static HashMap<(u8, u32), u8> {
    static CODES: OnceLock<HashMap<(u8, u32), u8>> = OnceLock::new();
    CODES.get_or_init(|| {
        (0..=255u8)
            .zip(ENCODE_CODES.iter().zip(ENCODE_CODE_LENGTHS.iter()))
            .map(|(sym, (code, len))| ((*len, *code), sym))
            .collect()
    })
}

/// Appendix B, bit by bit; padding must be at most 7 one-bits (§5.2),
/// and EOS (30 one-bits) never decodes.
fn huffman_decode(raw: &[u8]) -> Result<Vec<u8>, Malformed> {
    let codes = codes();
    let mut out = Vec::with_capacity(raw.len() * 8 / 5);
    let (mut code, mut len) = (0u32, 0u8);
    for byte in raw {
        for i in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> i) & 1);
            len += 1;
            if let Some(sym) = codes.get(&(len, code)) {
                out.push(*sym);
                code = 0;
                len = 0;
            } else if len >= 30 {
                return Err(Malformed);
            }
        }
    }
    let all_ones = len == 0 || code == (1u32 << len) - 1;
    if len > 7 || !all_ones {
        return Err(Malformed);
    }
    Ok(out)
}

fn encode_int(out: &mut Vec<u8>, first: u8, prefix: u8, mut value: usize) {
    let mask = (1usize << prefix) - 1;
    if value < mask {
        out.push(first | value as u8);
        return;
    }
    out.push(first | mask as u8);
    value -= mask;
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Every field as "literal without indexing, new name", raw strings.
pub(super) fn encode(fields: &[Field]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.push(0);
        encode_int(&mut out, 0, 7, name.len());
        out.extend_from_slice(name);
        encode_int(&mut out, 0, 7, value.len());
        out.extend_from_slice(value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7541_c4_requests_with_huffman_decode() {
        // Appendix C.4.1 to C.4.3: three requests on one connection.
        let blocks = [
            "828684418cf1e3c2e5f23a6ba0ab90f4ff",
            "828684be5886a8eb10649cbf",
            "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
        ];
        let mut d = Decoder::default();
        let got: Vec<Vec<Field>> = blocks
            .iter()
            .map(|h| d.decode(&hex::decode(h).unwrap()).unwrap())
            .collect();
        let f = |n: &str, v: &str| (n.as_bytes().to_vec(), v.as_bytes().to_vec());
        assert_eq!(got[0][3], f(":authority", "www.example.com"));
        assert_eq!(got[1][3], f(":authority", "www.example.com"));
        assert_eq!(got[1][4], f("cache-control", "no-cache"));
        assert_eq!(got[2][4], f("custom-key", "custom-value"));
        assert_eq!(got[2][0], f(":method", "GET"));
        assert_eq!(got[2][1], f(":scheme", "https"));
        assert_eq!(got[2][2], f(":path", "/index.html"));
        // C.4.3: the table holds 3 entries, 164 octets.
        assert_eq!(d.table.len(), 3);
        assert_eq!(d.size, 164);
    }

    #[test]
    fn what_is_encoded_decodes_the_same() {
        let fields = vec![
            (b":authority".to_vec(), b"localhost".to_vec()),
            (b"x".to_vec(), vec![b'a'; 300]),
        ];
        assert_eq!(Decoder::default().decode(&encode(&fields)).unwrap(), fields);
    }

    #[test]
    fn a_block_of_references_to_one_big_field_is_refused() {
        // One ~4 KiB field enters the table; then each 0xbe byte (index 62,
        // the newest dynamic entry) stands for it again.
        let mut d = Decoder::default();
        let mut first = vec![0x40, 0x01, b'x', 0x7f];
        let value = vec![b'v'; 4000];
        let mut len = Vec::new();
        let mut n = value.len() - 127;
        while n >= 128 {
            len.push((n % 128) as u8 | 0x80);
            n /= 128;
        }
        len.push(n as u8);
        first.extend_from_slice(&len);
        first.extend_from_slice(&value);
        assert_eq!(d.decode(&first).map(|f| f.len()), Ok(1));
        // Fifteen references (60 KiB) pass; the bomb does not.
        assert!(d.decode(&[0xbe; 15]).is_ok());
        assert_eq!(d.decode(&[0xbe; 16_000]), Err(Malformed));
    }

    #[test]
    fn malformed_blocks_are_refused_not_panicked_on() {
        for bad in [
            &[0x80][..],                                 // index 0
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],       // overlong integer
            &[0xbf, 0x01],                               // index past the tables
            &[0x40, 0x05, b'a'],                         // string past the end
            &[0x3f, 0xe2, 0x1f],                         // table size over the limit
            &[0x00, 0x81, 0x00, 0x00],                   // Huffman padding of zeros
            &[0x00, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00], // EOS
        ] {
            assert_eq!(Decoder::default().decode(bad), Err(Malformed), "{bad:02x?}");
        }
    }
}
