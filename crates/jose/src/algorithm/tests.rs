use super::*;

#[test]
fn known_names_round_trip() {
    for alg in [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa] {
        assert_eq!(Algorithm::parse(alg.as_str()), Ok(alg));
    }
    assert_eq!(Algorithm::default(), Algorithm::Es256);
}

#[test]
fn none_and_others_are_refused() {
    for bad in [
        "none", "None", "HS256", "es256", "ES384", "PS256", "", "ES256 ",
    ] {
        assert_eq!(
            Algorithm::parse(bad),
            Err(Error::AlgorithmNotAllowed),
            "{bad}"
        );
    }
}
