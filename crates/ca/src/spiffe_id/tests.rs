use super::*;

#[test]
fn valid_ids_parse_and_keep_their_parts() {
    for (id, td, path) in [
        ("spiffe://example.org", "example.org", ""),
        ("spiffe://example.org/service", "example.org", "/service"),
        ("spiffe://a-b_c.9/x/Y.z-_/0", "a-b_c.9", "/x/Y.z-_/0"),
        ("spiffe://td/.../a..b/.x", "td", "/.../a..b/.x"),
    ] {
        let parsed = SpiffeId::parse(id).unwrap();
        assert_eq!(parsed.as_str(), id);
        assert_eq!(parsed.trust_domain().as_str(), td);
        assert_eq!(parsed.path(), path);
        assert_eq!(parsed.to_string(), id);
    }
}

#[test]
fn hostile_ids_are_refused_with_the_rule_they_break() {
    use SpiffeIdError::*;
    let long_path = format!("spiffe://td/{}", "a".repeat(MAX_SPIFFE_ID_LEN));
    let long_td = format!("spiffe://{}", "a".repeat(MAX_TRUST_DOMAIN_LEN + 1));
    let cases: Vec<(&str, SpiffeIdError)> = vec![
        ("", Empty),
        (&long_path, TooLong),
        (&long_td, TooLong),
        ("SPIFFE://example.org/a", WrongScheme),
        ("spiffe:/example.org/a", WrongScheme),
        ("https://example.org/a", WrongScheme),
        ("example.org/a", WrongScheme),
        ("spiffe://", EmptyTrustDomain),
        ("spiffe:///a", EmptyTrustDomain),
        ("spiffe://Example.org/a", BadTrustDomainChar),
        ("spiffe://example.org:8443/a", BadTrustDomainChar),
        ("spiffe://user@example.org/a", BadTrustDomainChar),
        ("spiffe://example.org?x=1", BadTrustDomainChar),
        ("spiffe://example.org#frag", BadTrustDomainChar),
        ("spiffe://exa%6Dple.org", BadTrustDomainChar),
        ("spiffe://exämple.org", BadTrustDomainChar),
        ("spiffe://example.org/", TrailingSlash),
        ("spiffe://example.org/a/", TrailingSlash),
        ("spiffe://example.org//a", EmptySegment),
        ("spiffe://example.org/a//b", EmptySegment),
        ("spiffe://example.org/.", DotSegment),
        ("spiffe://example.org/a/../b", DotSegment),
        ("spiffe://example.org/a?x=1", BadPathChar),
        ("spiffe://example.org/a#f", BadPathChar),
        ("spiffe://example.org/a%20b", BadPathChar),
        ("spiffe://example.org/a b", BadPathChar),
        ("spiffe://example.org/ä", BadPathChar),
        ("spiffe://example.org/a:b", BadPathChar),
    ];
    for (id, want) in cases {
        assert_eq!(SpiffeId::parse(id), Err(want), "{id}");
    }
}

#[test]
fn the_longest_allowed_id_parses() {
    let prefix = "spiffe://td/";
    let id = format!("{prefix}{}", "a".repeat(MAX_SPIFFE_ID_LEN - prefix.len()));
    assert_eq!(id.len(), MAX_SPIFFE_ID_LEN);
    assert!(SpiffeId::parse(&id).is_ok());
    assert_eq!(
        SpiffeId::parse(&format!("{id}a")),
        Err(SpiffeIdError::TooLong)
    );
}

#[test]
fn trust_domains_parse_bare_names_only() {
    assert_eq!(
        TrustDomain::parse("example.org").unwrap().as_str(),
        "example.org"
    );
    assert_eq!(
        TrustDomain::parse("example.org").unwrap().id_string(),
        "spiffe://example.org"
    );
    assert_eq!(TrustDomain::parse(""), Err(SpiffeIdError::EmptyTrustDomain));
    assert_eq!(
        TrustDomain::parse("spiffe://example.org"),
        Err(SpiffeIdError::BadTrustDomainChar)
    );
    assert_eq!(
        TrustDomain::parse("EXAMPLE.org"),
        Err(SpiffeIdError::BadTrustDomainChar)
    );
    assert_eq!(
        TrustDomain::parse(&"a".repeat(MAX_TRUST_DOMAIN_LEN + 1)),
        Err(SpiffeIdError::TooLong)
    );
}

#[test]
fn ids_built_from_segments_are_checked() {
    let td = TrustDomain::parse("example.org").unwrap();
    let node = td.id(&["keybound", "node", "web-1"]).unwrap();
    assert_eq!(node.as_str(), "spiffe://example.org/keybound/node/web-1");
    assert!(node.is_member_of(&td));
    assert!(!node.is_member_of(&TrustDomain::parse("other.org").unwrap()));
    assert_eq!(td.id(&["a/.."]), Err(SpiffeIdError::DotSegment));
    assert_eq!(td.id(&["a", ""]), Err(SpiffeIdError::TrailingSlash));
    assert_eq!(td.id(&["a?b"]), Err(SpiffeIdError::BadPathChar));
    assert_eq!(td.id(&[]).unwrap().as_str(), "spiffe://example.org");
}

#[test]
fn serde_goes_through_the_parser() {
    let id: SpiffeId = serde_json::from_str("\"spiffe://example.org/a\"").unwrap();
    assert_eq!(
        serde_json::to_string(&id).unwrap(),
        "\"spiffe://example.org/a\""
    );
    assert!(serde_json::from_str::<SpiffeId>("\"spiffe://example.org/a/\"").is_err());
    assert!(serde_json::from_str::<TrustDomain>("\"Example.org\"").is_err());
}
