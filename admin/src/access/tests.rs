use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rsa::pkcs1v15::SigningKey as RsaSigner;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use rsa::traits::PublicKeyParts as _;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::Sha256;

use super::keys::{KeyCache, KeySet, Refresh, KEYS_TTL_MS, REFETCH_AFTER_MS};
use super::token::Refusal;
use super::*;

// Throwaway keys, made for these tests only.
const TEAM_KEY: &str = include_str!("testdata/team-key.pem");
const OTHER_KEY: &str = include_str!("testdata/other-key.pem");
const TEAM: &str = "https://acme.cloudflareaccess.com";
const AUD: &str = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2";
const NOW: i64 = 1_800_000_000;

fn private(pem: &str) -> RsaPrivateKey {
    RsaPrivateKey::from_pkcs8_pem(pem).expect("a test key")
}

fn jwk(pem: &str, kid: &str) -> Value {
    let public = private(pem).to_public_key();
    json!({
        "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    })
}

fn team_keys() -> KeySet {
    KeySet::parse(json!({ "keys": [jwk(TEAM_KEY, "k1")] }).to_string().as_bytes()).unwrap()
}

fn sign(pem: &str, header: Value, claims: Value) -> String {
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = RsaSigner::<Sha256>::new(private(pem)).sign(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

fn claims() -> Value {
    json!({
        "iss": TEAM, "aud": [AUD], "exp": NOW + 600, "iat": NOW, "nbf": NOW,
        "sub": "7335d417-61da-459d-899c-0a01c76a2f94", "email": "ops@example.com", "type": "app",
    })
}

fn token(claims: Value) -> String {
    sign(TEAM_KEY, json!({ "alg": "RS256", "kid": "k1" }), claims)
}

fn gate() -> Gate {
    Gate::from_settings(None, Some("acme.cloudflareaccess.com"), Some(&format!("other-app, {AUD}")))
}

fn refusal(token: &str) -> (ErrorCode, String) {
    let e = gate().admit(Some(token), Some(&team_keys()), NOW).unwrap_err();
    (e.code(), e.to_string())
}

#[test]
fn a_valid_token_of_the_application_admits_its_operator() {
    let admitted = gate().admit(Some(&token(claims())), Some(&team_keys()), NOW).unwrap();
    let Admitted::Operator(op) = admitted else { panic!("{admitted:?}") };
    assert_eq!((op.name.as_str(), op.expires_at), ("ops@example.com", NOW + 600));
    // A service token has a common name instead of an email; `aud` may be one string.
    let mut service = claims();
    service["email"] = Value::Null;
    service["common_name"] = json!("ci.access");
    service["aud"] = json!(AUD);
    let Ok(Admitted::Operator(op)) = gate().admit(Some(&token(service)), Some(&team_keys()), NOW) else {
        panic!("a service token")
    };
    assert_eq!(op.name, "ci.access");
}

#[test]
fn a_missing_token_is_401_and_a_bad_one_403() {
    let e = gate().admit(None, Some(&team_keys()), NOW).unwrap_err();
    assert_eq!((e.code(), e.code().status()), (ErrorCode::AccessRequired, 401));
    assert_eq!(
        gate().admit(Some(""), Some(&team_keys()), NOW).unwrap_err().code(),
        ErrorCode::AccessRequired
    );
    let expired = {
        let mut c = claims();
        c["exp"] = json!(NOW - 3600);
        token(c)
    };
    let wrong_aud = {
        let mut c = claims();
        c["aud"] = json!(["another-application"]);
        token(c)
    };
    let wrong_iss = {
        let mut c = claims();
        c["iss"] = json!("https://evil.cloudflareaccess.com");
        token(c)
    };
    let wrong_key = sign(OTHER_KEY, json!({ "alg": "RS256", "kid": "k1" }), claims());
    let unknown_kid = sign(TEAM_KEY, json!({ "alg": "RS256", "kid": "k9" }), claims());
    let hs256 = durable_streams_cloudflare::auth::jwt::sign(b"secret", &claims());
    for (t, why) in [
        (expired, Refusal::Expired),
        (wrong_aud, Refusal::Audience),
        (wrong_iss, Refusal::Issuer),
        (wrong_key, Refusal::Signature),
        (unknown_kid, Refusal::Signature),
        (hs256, Refusal::Algorithm),
        ("not.a.jwt".to_owned(), Refusal::Malformed),
    ] {
        let (code, message) = refusal(&t);
        assert_eq!(code, ErrorCode::AccessDenied, "{why:?}");
        assert!(message.contains(why.message()), "{why:?}: {message}");
        assert_eq!(ErrorCode::AccessDenied.status(), 403);
    }
}

#[test]
fn a_forged_payload_does_not_verify() {
    let t = token(claims());
    let mut parts: Vec<&str> = t.split('.').collect();
    let mut forged_claims = claims();
    forged_claims["email"] = json!("admin@example.com");
    let payload = URL_SAFE_NO_PAD.encode(forged_claims.to_string());
    parts[1] = &payload;
    assert_eq!(refusal(&parts.join(".")).0, ErrorCode::AccessDenied);
}

#[test]
fn without_settings_the_gate_is_closed_and_refuses_everything() {
    for (auth, team, aud) in [
        (None, None, None),
        (None, Some("acme.cloudflareaccess.com"), None),
        (None, None, Some(AUD)),
        (Some("access"), Some("acme.cloudflareaccess.com"), Some(" , ")),
        (Some("open"), Some("acme.cloudflareaccess.com"), Some(AUD)),
        (None, Some("acme.cloudflareaccess.com/path"), Some(AUD)),
    ] {
        let gate = Gate::from_settings(auth, team, aud);
        assert!(matches!(gate, Gate::Closed(_)), "{auth:?} {team:?} {aud:?}: {gate:?}");
        let e = gate.admit(Some(&token(claims())), Some(&team_keys()), NOW).unwrap_err();
        assert_eq!((e.code(), e.code().status()), (ErrorCode::AdminGateUnconfigured, 503));
    }
    assert_eq!(Gate::from_settings(Some("dev-open"), None, None), Gate::DevOpen);
    assert_eq!(Gate::DevOpen.admit(None, None, NOW), Ok(Admitted::DevOpen));
}

#[test]
fn the_team_may_be_a_host_or_an_origin() {
    let app = |team: &str| match Gate::from_settings(None, Some(team), Some(AUD)) {
        Gate::Access(app) => app,
        other => panic!("{team}: {other:?}"),
    };
    assert_eq!(app("acme.cloudflareaccess.com").team, TEAM);
    assert_eq!(app("https://acme.cloudflareaccess.com/").team, TEAM);
    assert_eq!(app("http://127.0.0.1:9999").certs_url(), "http://127.0.0.1:9999/cdn-cgi/access/certs");
}

#[test]
fn keys_that_cannot_verify_are_unavailable_not_denied() {
    let e = gate().admit(Some(&token(claims())), None, NOW).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Unavailable);
}

#[test]
fn a_key_set_keeps_only_rs256_signing_keys() {
    let set = json!({ "keys": [
        jwk(TEAM_KEY, "k1"),
        { "kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA" },
        { "kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB" },
        { "kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB" },
        jwk(OTHER_KEY, "k2"),
    ]});
    let keys = KeySet::parse(set.to_string().as_bytes()).unwrap();
    let kids: Vec<_> = keys.keys.iter().map(|k| k.kid.as_deref()).collect();
    assert_eq!(kids, vec![Some("k1"), Some("k2")]);
    assert_eq!(keys.candidates(Some("k2")).count(), 1);
    assert_eq!(keys.candidates(None).count(), 2);
    assert!(!keys.knows(Some("k3")));
    assert!(KeySet::parse(b"[]").is_none());
    // A token without `kid` may be signed by any of them.
    let no_kid = sign(OTHER_KEY, json!({ "alg": "RS256" }), claims());
    assert!(gate().admit(Some(&no_kid), Some(&keys), NOW).is_ok());
}

#[test]
fn keys_are_fetched_when_stale_or_when_a_token_names_a_new_one() {
    let mut cache = KeyCache::default();
    assert_eq!(cache.refresh(Some("k1"), 0), Refresh::Stale);
    cache.store(team_keys(), 1_000);
    assert_eq!(cache.refresh(Some("k1"), 1_000 + KEYS_TTL_MS - 1), Refresh::No);
    assert_eq!(cache.refresh(Some("k1"), 1_000 + KEYS_TTL_MS), Refresh::Stale);
    // An unknown key: at most one fetch per REFETCH_AFTER_MS.
    assert_eq!(cache.refresh(Some("k2"), 1_000 + REFETCH_AFTER_MS - 1), Refresh::No);
    assert_eq!(cache.refresh(Some("k2"), 1_000 + REFETCH_AFTER_MS), Refresh::UnknownKey);
    assert!(cache.keys().is_some());
}

#[test]
fn only_the_dashboards_own_pages_may_change_things() {
    let own = "https://admin.example.com";
    assert!(same_origin(Some("https://admin.example.com"), own).is_ok());
    assert!(same_origin(Some("https://admin.example.com/"), own).is_ok());
    assert!(same_origin(None, own).is_ok());
    for other in
        ["https://evil.example", "null", "http://admin.example.com", "https://admin.example.com:8443"]
    {
        let e = same_origin(Some(other), own).unwrap_err();
        assert_eq!((e.code(), e.code().status()), (ErrorCode::AccessDenied, 403), "{other}");
    }
}
