use serde_json::json;

use super::*;
use crate::crypto::testing::{key, rng};
use crate::{verify, Algorithm};

fn token<'a>(sub: Option<&'a str>, sid: Option<&'a str>) -> LogoutToken<'a> {
    LogoutToken {
        issuer: "https://id.example",
        audience: "app-1",
        subject: sub,
        session_id: sid,
        jti: "jti-1",
        issued_at: 1_700_000_000,
        lifetime: 120,
    }
}

#[test]
fn a_logout_token_carries_the_spec_claims_and_header() {
    let key = key(Algorithm::Es256);
    let jwk = key.public_jwk(Some("k1".into())).unwrap();
    let t = token(Some("ann"), Some("s-1"))
        .sign(&key, "k1", &rng())
        .unwrap();
    let v = verify(&t, &[Algorithm::Es256], |kid| {
        (kid == Some("k1")).then(|| jwk.clone())
    })
    .unwrap();
    assert_eq!(v.header["typ"], "logout+jwt");
    assert_eq!(v.header["kid"], "k1");
    let claims = Value::Object(v.claims().unwrap());
    assert_eq!(
        claims,
        json!({
            "iss": "https://id.example", "aud": "app-1", "iat": 1_700_000_000,
            "exp": 1_700_000_120, "jti": "jti-1", "sub": "ann", "sid": "s-1",
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}}
        })
    );
    assert!(claims.get("nonce").is_none());
}

#[test]
fn sub_or_sid_is_required_and_either_alone_will_do() {
    assert_eq!(
        token(None, None).claims(),
        Err(Error::MissingClaim("sub or sid"))
    );
    let only_sub = token(Some("ann"), None).claims().unwrap();
    assert!(only_sub.contains_key("sub") && !only_sub.contains_key("sid"));
    let only_sid = token(None, Some("s-1")).claims().unwrap();
    assert!(only_sid.contains_key("sid") && !only_sid.contains_key("sub"));
    let key = key(Algorithm::Es256);
    assert_eq!(
        token(None, None).sign(&key, "k1", &rng()),
        Err(Error::MissingClaim("sub or sid"))
    );
}
