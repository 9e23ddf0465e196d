use super::*;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn f(n: &str, v: &str) -> (Vec<u8>, Vec<u8>) {
    (n.as_bytes().to_vec(), v.as_bytes().to_vec())
}

fn headers_frame(flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    frame(&mut out, HEADERS, flags, [0, 0, 0, 1], payload);
    out
}

fn request(authority: &str) -> Vec<u8> {
    hpack::encode(&[
        f(":method", "POST"),
        f(":authority", authority),
        f(":path", "/x"),
    ])
}

/// Feeds `input` in chunks of `step` bytes; returns the output.
fn run(input: &[u8], step: usize) -> io::Result<Vec<u8>> {
    let mut r = Rewriter::default();
    let mut out = Vec::new();
    for chunk in input.chunks(step) {
        r.feed(chunk, &mut out)?;
    }
    Ok(out)
}

/// The header fields of the HEADERS frame that follows the preface.
fn fields_after_preface(out: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    assert_eq!(&out[..24], PREFACE);
    let frame = &out[24..];
    assert_eq!(frame[3], HEADERS);
    assert_ne!(frame[4] & END_HEADERS, 0);
    let len = usize::from(frame[1]) << 8 | usize::from(frame[2]);
    hpack::Decoder::default()
        .decode(&frame[9..9 + len])
        .unwrap()
}

#[test]
fn a_percent_encoded_authority_becomes_localhost_at_any_split() {
    let mut input = PREFACE.to_vec();
    input.extend(headers_frame(
        END_HEADERS,
        &request("tmp%2Fagent%2Fapi.sock"),
    ));
    for step in [1, 7, 24, 1000] {
        let out = run(&input, step).unwrap();
        let fields = fields_after_preface(&out);
        assert_eq!(fields[1], f(":authority", "localhost"), "step {step}");
        assert_eq!(fields[2], f(":path", "/x"));
    }
}

#[test]
fn a_valid_authority_and_other_frames_pass_unchanged() {
    let mut input = PREFACE.to_vec();
    input.extend(headers_frame(
        END_HEADERS | END_STREAM,
        &request("localhost:8080"),
    ));
    let mut data = Vec::new();
    frame(&mut data, 0x0, 0x1, [0, 0, 0, 1], b"grpc bytes");
    input.extend(&data);
    let out = run(&input, 5).unwrap();
    assert_eq!(
        fields_after_preface(&out)[1],
        f(":authority", "localhost:8080")
    );
    assert!(out.ends_with(&data));
    // END_STREAM kept.
    assert_ne!(out[24 + 4] & END_STREAM, 0);
}

#[test]
fn huffman_and_the_dynamic_table_are_followed_across_requests() {
    // RFC 7541 C.4.1 then C.4.2: the second authority is a table reference.
    let mut input = PREFACE.to_vec();
    input.extend(headers_frame(
        END_HEADERS,
        &hex::decode("828684418cf1e3c2e5f23a6ba0ab90f4ff").unwrap(),
    ));
    input.extend(headers_frame(
        END_HEADERS,
        &hex::decode("828684be5886a8eb10649cbf").unwrap(),
    ));
    let out = run(&input, 3).unwrap();
    let mut d = hpack::Decoder::default();
    let first_len = usize::from(out[24 + 2]);
    let second = &out[24 + 9 + first_len..];
    let fields = d.decode(&second[9..]).unwrap();
    assert_eq!(fields[3], f(":authority", "www.example.com"));
    assert_eq!(fields[4], f("cache-control", "no-cache"));
}

#[test]
fn padding_priority_and_continuations_are_joined() {
    let block = request("run%2Fkb%2Fapi.sock");
    let (a, b) = block.split_at(5);
    let mut payload = vec![3u8]; // pad length
    payload.extend([0x80, 0, 0, 3, 16]); // priority: exclusive, depends on 3, weight 16
    payload.extend(a);
    payload.extend([0, 0, 0]); // padding
    let mut input = PREFACE.to_vec();
    input.extend(headers_frame(PADDED | PRIORITY, &payload));
    frame(&mut input, CONTINUATION, END_HEADERS, [0, 0, 0, 1], b);
    let out = run(&input, 4).unwrap();
    let frame = &out[24..];
    assert_eq!(frame[4], PRIORITY | END_HEADERS);
    assert_eq!(&frame[9..14], &[0x80, 0, 0, 3, 16]);
    let fields = hpack::Decoder::default().decode(&frame[14..]).unwrap();
    assert_eq!(fields[1], f(":authority", "localhost"));
}

#[test]
fn hostile_framing_closes_the_connection() {
    // A frame over the size limit.
    let mut big = PREFACE.to_vec();
    big.extend([0x00, 0x40, 0x01, 0x0, 0x0, 0, 0, 0, 1]);
    assert!(run(&big, 100).is_err());
    // Another frame inside a header block.
    let mut inside = PREFACE.to_vec();
    inside.extend(headers_frame(0, &request("a")));
    frame(&mut inside, 0x0, 0, [0, 0, 0, 1], b"x");
    assert!(run(&inside, 100).is_err());
    // A header block over MAX_BLOCK, in CONTINUATIONs.
    let mut huge = PREFACE.to_vec();
    huge.extend(headers_frame(0, &[]));
    for _ in 0..=(MAX_BLOCK / MAX_FRAME) {
        frame(
            &mut huge,
            CONTINUATION,
            0,
            [0, 0, 0, 1],
            &vec![0u8; MAX_FRAME],
        );
    }
    assert!(run(&huge, 4096).is_err());
    // A block that is not HPACK.
    let mut garbage = PREFACE.to_vec();
    garbage.extend(headers_frame(END_HEADERS, &[0x80]));
    assert!(run(&garbage, 100).is_err());
    // Padding longer than the frame.
    let mut pad = PREFACE.to_vec();
    pad.extend(headers_frame(PADDED | END_HEADERS, &[9, 1, 2]));
    assert!(run(&pad, 100).is_err());
}

#[test]
fn a_large_block_is_split_into_continuations() {
    let big = "v".repeat(MAX_FRAME + 100);
    let block = hpack::encode(&[f(":authority", "a%2Fb"), f("x-big", &big)]);
    let mut input = PREFACE.to_vec();
    let (a, b) = block.split_at(MAX_FRAME);
    input.extend(headers_frame(0, a));
    frame(&mut input, CONTINUATION, END_HEADERS, [0, 0, 0, 1], b);
    let out = run(&input, 5000).unwrap();
    let first = &out[24..];
    let len1 = usize::from(first[1]) << 8 | usize::from(first[2]);
    assert_eq!(len1, MAX_FRAME);
    assert_eq!(first[4] & END_HEADERS, 0);
    let second = &first[9 + len1..];
    assert_eq!(second[3], CONTINUATION);
    assert_ne!(second[4] & END_HEADERS, 0);
    let mut joined = first[9..9 + len1].to_vec();
    joined.extend(&second[9..]);
    let fields = hpack::Decoder::default().decode(&joined).unwrap();
    assert_eq!(fields[0], f(":authority", "localhost"));
    assert_eq!(fields[1].1.len(), MAX_FRAME + 100);
}
