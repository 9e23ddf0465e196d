use serde_json::json;

use super::*;

const NOW: i64 = 1_700_000_000;

fn checks() -> ClaimChecks<'static> {
    ClaimChecks {
        now: NOW,
        leeway: 30,
        require_exp: true,
        issuer: Some("https://id.example"),
        audience: Some("app"),
    }
}

fn claims(value: serde_json::Value) -> Map<String, Value> {
    let mut base =
        json!({"iss":"https://id.example","aud":"app","exp":NOW + 60,"iat":NOW,"nbf":NOW});
    for (k, v) in value.as_object().unwrap() {
        base[k] = v.clone();
    }
    base.as_object().unwrap().clone()
}

#[test]
fn valid_claims_pass() {
    check_claims(&claims(json!({})), &checks()).unwrap();
    check_claims(&claims(json!({"aud":["other","app"]})), &checks()).unwrap();
    check_claims(&claims(json!({"exp":(NOW + 60) as f64 + 0.5})), &checks()).unwrap();
}

#[test]
fn exp_is_checked_with_leeway() {
    assert_eq!(
        check_claims(&claims(json!({"exp":NOW - 31})), &checks()),
        Err(Error::Expired)
    );
    assert_eq!(
        check_claims(&claims(json!({"exp":NOW - 30})), &checks()),
        Err(Error::Expired)
    );
    check_claims(&claims(json!({"exp":NOW - 29})), &checks()).unwrap();
    let mut no_exp = claims(json!({}));
    no_exp.remove("exp");
    assert_eq!(check_claims(&no_exp, &checks()), Err(Error::Expired));
    let dpop = ClaimChecks {
        require_exp: false,
        ..checks()
    };
    check_claims(&no_exp, &dpop).unwrap();
    assert_eq!(
        check_claims(&claims(json!({"exp":"soon"})), &checks()),
        Err(Error::Malformed("exp"))
    );
}

#[test]
fn nbf_is_checked_with_leeway() {
    assert_eq!(
        check_claims(&claims(json!({"nbf":NOW + 31})), &checks()),
        Err(Error::NotYetValid)
    );
    check_claims(&claims(json!({"nbf":NOW + 30})), &checks()).unwrap();
}

#[test]
fn iat_in_the_future_is_refused() {
    assert_eq!(
        check_claims(&claims(json!({"iat":NOW + 31})), &checks()),
        Err(Error::IssuedInFuture)
    );
    check_claims(&claims(json!({"iat":NOW + 30})), &checks()).unwrap();
}

#[test]
fn issuer_must_match() {
    for iss in [
        json!("https://evil.example"),
        json!(["https://id.example"]),
        json!(null),
    ] {
        assert_eq!(
            check_claims(&claims(json!({"iss":iss})), &checks()),
            Err(Error::WrongIssuer)
        );
    }
    let mut none = claims(json!({}));
    none.remove("iss");
    assert_eq!(check_claims(&none, &checks()), Err(Error::WrongIssuer));
}

#[test]
fn audience_must_match() {
    for aud in [
        json!("other"),
        json!(["other"]),
        json!([]),
        json!(1),
        json!("APP"),
    ] {
        assert_eq!(
            check_claims(&claims(json!({"aud":aud})), &checks()),
            Err(Error::WrongAudience)
        );
    }
    let mut none = claims(json!({}));
    none.remove("aud");
    assert_eq!(check_claims(&none, &checks()), Err(Error::WrongAudience));
}
