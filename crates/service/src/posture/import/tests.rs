use super::*;

#[test]
fn csv_with_a_bom_is_read() {
    let file = "\u{feff}serial,managed,owner,compliant,disk_encrypted,os_version\n\
                SN-1,true,ann,yes,1,14.4.1\n\
                dev-bob-mac,false,,,,\n";
    let records = parse_inventory(file.as_bytes()).unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].identifier, "SN-1");
    assert_eq!(records[0].managed, Some(true));
    assert_eq!(records[0].disk_encrypted, Some(true));
    assert_eq!(records[0].os_version.as_deref(), Some("14.4.1"));
    assert_eq!(records[0].line, 2);
    assert_eq!(records[1].managed, Some(false));
    assert_eq!(records[1].owner, None);
    assert_eq!(records[1].line, 3);
}

#[test]
fn json_is_read_with_lines() {
    let file = "\u{feff}[\n  {\"identifier\": \"SN-1\", \"managed\": true},\n  {\n    \"device\": \"dev-x\",\n    \"os_version\": \"15.0\"\n  }\n]\n";
    let records = parse_inventory(file.as_bytes()).unwrap();
    assert_eq!(records[0].line, 2);
    assert_eq!(records[1].line, 3);
    assert_eq!(records[1].identifier, "dev-x");
    let bad = "[\n{\"serial\": \"a\"},\n{\"serial\": \"b\", \"os_version\": \"x\"}\n]";
    let e = parse_inventory(bad.as_bytes()).unwrap_err();
    assert_eq!((e.line, e.field.as_deref()), (3, Some("os_version")), "{e}");
    let bad = "[\n{\"serial\": \"a\",\n \"colour\": \"red\"}\n]";
    let e = parse_inventory(bad.as_bytes()).unwrap_err();
    assert_eq!((e.line, e.field.as_deref()), (3, Some("colour")), "{e}");
    let bad = "[\n{\"serial\": \"a\", \"managed\": \"maybe\"}]";
    let e = parse_inventory(bad.as_bytes()).unwrap_err();
    assert_eq!((e.line, e.field.as_deref()), (2, Some("managed")), "{e}");
}

#[test]
fn malformed_rows_name_their_line_and_field() {
    let cases: [(&str, u64, Option<&str>); 9] = [
        ("serial,managed\nA,true\nB,perhaps\n", 3, Some("managed")),
        ("serial,managed\nA,true\nB\n", 3, None),
        ("serial,colour\nA,red\n", 1, Some("colour")),
        ("serial,serial\nA,B\n", 1, Some("serial")),
        ("serial,managed\n,true\n", 2, Some("identifier")),
        ("serial,device\nA,dev-a\n", 2, Some("identifier")),
        ("serial,os_version\nA,14;rm\n", 2, Some("os_version")),
        ("serial\nA\nA\n", 3, Some("identifier")),
        ("serial\nA B\n", 2, Some("serial")),
    ];
    for (file, line, field) in cases {
        let e = parse_inventory(file.as_bytes()).unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (line, field), "{file:?}: {e}");
        assert!(e.to_string().starts_with(&format!("line {line}")), "{e}");
    }
    let long = format!("serial\n{}\n", "a".repeat(MAX_IDENTIFIER + 1));
    let e = parse_inventory(long.as_bytes()).unwrap_err();
    assert_eq!((e.line, e.field.as_deref()), (2, Some("serial")));
    let e = parse_inventory(b"serial\n\xff\n").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(parse_inventory(b"serial\n").is_err(), "no records");
    assert!(parse_inventory(b"").is_err());
}

#[test]
fn oversized_files_are_refused_whole() {
    let big = vec![b'a'; MAX_IMPORT_BYTES + 1];
    let e = parse_inventory(&big).unwrap_err();
    assert_eq!(e.line, 0);
    let mut many = String::from("serial\n");
    for i in 0..=MAX_IMPORT_ROWS {
        many.push_str(&format!("s{i}\n"));
    }
    let e = parse_inventory(many.as_bytes()).unwrap_err();
    assert_eq!(e.line, MAX_IMPORT_ROWS as u64 + 2);
}
