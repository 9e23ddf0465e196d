use super::*;

/// Bytes whose encodings use every alphabet-specific character and both
/// padding lengths.
const SAMPLES: [&[u8]; 4] = [
    &[0xfb, 0xff, 0xbf],       // "-_-_" / "+/+/"
    &[0xfb, 0xef],             // two bytes: one '='
    &[0xff],                   // one byte: two '='
    &[0x00, 0x10, 0x83, 0xfb], // mixed
];

#[test]
fn lenient_accepts_padding_and_the_standard_alphabet() {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    for bytes in SAMPLES {
        for engine in [&URL_SAFE_NO_PAD, &URL_SAFE, &STANDARD_NO_PAD, &STANDARD] {
            let text = engine.encode(bytes);
            assert_eq!(decode_lenient(&text).unwrap(), bytes, "{text}");
        }
    }
    assert_eq!(decode_lenient("").unwrap(), b"");
}

#[test]
fn strict_decode_accepts_only_what_encode_writes() {
    for bytes in SAMPLES {
        assert_eq!(decode(&encode(bytes)).unwrap(), bytes);
    }
    assert_eq!(encode(&[0xfb, 0xef]), "--8");
    assert!(decode("--8=").is_err(), "padding");
    assert!(decode("++8").is_err(), "standard alphabet");
}

#[test]
fn encoding_is_unpadded_base64url() {
    assert_eq!(encode(&[0xfb, 0xff, 0xbf]), "-_-_");
    assert_eq!(encode(&[0xff]), "_w");
    assert_eq!(
        serde_json::to_value(Wrapper(vec![0xff])).unwrap(),
        serde_json::json!("_w")
    );
}

#[derive(serde::Serialize)]
struct Wrapper(#[serde(with = "serde_bytes")] Vec<u8>);

#[test]
fn lenient_still_refuses_malformed_text() {
    for bad in [
        "-+",       // two alphabets in one string
        "_/",       // two alphabets in one string
        "QQ===",    // more padding than the length needs
        "Q===",     // a length no encoding has
        "Q",        // a length no encoding has
        "QQ=a",     // padding in the middle
        "=QQ",      // padding first
        "QR",       // non-zero bits after the last byte
        "QQ ",      // whitespace
        "QQ\n",     // whitespace
        "Q\u{e9}Q", // not base64 at all
        "\u{0}", "%2F",
    ] {
        assert!(decode_lenient(bad).is_err(), "{bad:?}");
    }
}
