//! A bounds-checked DER TLV walker for the one structure the `der` crate
//! cannot represent: Android's KeyDescription, whose AuthorizationList uses
//! context tags up to [709] (der 0.7 stops at tag number 30). It reads
//! headers and slices values; it decodes nothing else.

/// One TLV: its tag (class bits and number) and value bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tlv<'a> {
    /// 0 universal, 1 application, 2 context-specific, 3 private.
    pub class: u8,
    pub constructed: bool,
    pub number: u32,
    pub value: &'a [u8],
}

pub(super) const UNIVERSAL: u8 = 0;
pub(super) const CONTEXT: u8 = 2;

/// Reads one TLV from the front of `input`.
pub(super) fn read<'a>(input: &mut &'a [u8]) -> Option<Tlv<'a>> {
    let (&first, mut rest) = input.split_first()?;
    let class = first >> 6;
    let constructed = first & 0x20 != 0;
    let mut number = u32::from(first & 0x1f);
    if number == 0x1f {
        number = 0;
        // High tag number form: base-128, at most four bytes here.
        for i in 0.. {
            let (&b, tail) = rest.split_first()?;
            rest = tail;
            if i == 4 || (i == 0 && b == 0x80) {
                return None;
            }
            number = (number << 7) | u32::from(b & 0x7f);
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let (&len0, tail) = rest.split_first()?;
    rest = tail;
    let len = if len0 < 0x80 {
        usize::from(len0)
    } else {
        let n = usize::from(len0 & 0x7f);
        // No indefinite lengths in DER; four length bytes are plenty.
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, tail) = (rest.get(..n)?, rest.get(n..)?);
        rest = tail;
        bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    let value = rest.get(..len)?;
    *input = rest.get(len..)?;
    Some(Tlv {
        class,
        constructed,
        number,
        value,
    })
}

/// Every TLV in `value`, which must be exactly a run of TLVs.
pub(super) fn items(mut value: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !value.is_empty() {
        out.push(read(&mut value)?);
    }
    Some(out)
}

/// A SEQUENCE's items, the input holding nothing else.
pub(super) fn sequence(mut input: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let tlv = read(&mut input)?;
    if !input.is_empty() || tlv.class != UNIVERSAL || tlv.number != 16 || !tlv.constructed {
        return None;
    }
    items(tlv.value)
}

/// A small non-negative INTEGER or ENUMERATED value.
pub(super) fn small_unsigned(tlv: &Tlv<'_>) -> Option<u64> {
    if tlv.class != UNIVERSAL || !(tlv.number == 2 || tlv.number == 10) || tlv.value.len() > 8 {
        return None;
    }
    if tlv.value.first().is_some_and(|b| b & 0x80 != 0) || tlv.value.is_empty() {
        return None;
    }
    Some(
        tlv.value
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_low_and_high_tag_numbers_and_long_lengths() {
        // [600] EXPLICIT NULL: bf 84 58 02 05 00
        let mut input: &[u8] = &[0xbf, 0x84, 0x58, 0x02, 0x05, 0x00, 0xff];
        let tlv = read(&mut input).unwrap();
        assert_eq!(
            (tlv.class, tlv.constructed, tlv.number),
            (CONTEXT, true, 600)
        );
        assert_eq!(tlv.value, [0x05, 0x00]);
        assert_eq!(input, [0xff]);

        let long = [&[0x04u8, 0x81, 0x80][..], &[7u8; 128]].concat();
        let tlv = read(&mut long.as_slice()).unwrap();
        assert_eq!((tlv.number, tlv.value.len()), (4, 128));
    }

    #[test]
    fn refuses_truncation_indefinite_lengths_and_oversized_tags() {
        for bad in [
            &[][..],
            &[0x04],
            &[0x04, 0x05, 0x00],
            &[0x30, 0x80, 0x00, 0x00],
            &[0x04, 0x85, 0, 0, 0, 0, 1],
            &[0xbf, 0x80, 0x01, 0x00],
            &[0xbf, 0x81, 0x81, 0x81, 0x81, 0x01, 0x00],
            &[0xbf, 0x81],
        ] {
            assert!(read(&mut &bad[..]).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn small_integers() {
        fn int(v: &[u8]) -> Tlv<'_> {
            Tlv {
                class: UNIVERSAL,
                constructed: false,
                number: 2,
                value: v,
            }
        }
        assert_eq!(small_unsigned(&int(&[0x02])), Some(2));
        assert_eq!(small_unsigned(&int(&[0x00, 0xc8])), Some(200));
        assert_eq!(small_unsigned(&int(&[0xff])), None, "negative");
        assert_eq!(small_unsigned(&int(&[])), None);
        assert_eq!(small_unsigned(&int(&[1; 9])), None);
    }
}
