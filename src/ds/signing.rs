//! Webhook signatures (§6.5, §7.1): Ed25519 over `<timestamp>.<raw body>`, sent as
//! `Webhook-Signature: t=<unix seconds>,kid=<key id>,ed25519=<base64url signature>`,
//! with the public key published as a JWK Set at `{root}/__ds/jwks.json`.
//!
//! The key id is `ds_` and the key's JWK thumbprint (RFC 7638), so it follows from the
//! key material and stays the same for the key's whole life.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha256};

/// The header that carries a webhook's signature.
pub const SIGNATURE_HEADER: &str = "Webhook-Signature";

/// The JWK Set's media type.
pub const JWKS_CONTENT_TYPE: &str = "application/jwk-set+json";

/// The deployment's webhook signing key.
pub struct WebhookKey {
    key: ed25519_dalek::SigningKey,
    kid: String,
}

impl WebhookKey {
    /// The key for a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let kid = format!("ds_{}", thumbprint(&public_x(&key)));
        Self { key, kid }
    }

    /// A seed written as unpadded base64url (the `WEBHOOK_SIGNING_KEY` secret's form).
    pub fn from_encoded_seed(encoded: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(encoded.trim().trim_end_matches('=')).ok()?;
        Some(Self::from_seed(bytes.try_into().ok()?))
    }

    /// The seed as unpadded base64url.
    pub fn encoded_seed(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.to_bytes())
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The Ed25519 signature of `message`.
    pub fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// The `Webhook-Signature` value for `body` sent at `unix_secs`.
    pub fn signature_header(&self, body: &[u8], unix_secs: i64) -> String {
        let mut signed = format!("{unix_secs}.").into_bytes();
        signed.extend_from_slice(body);
        let signature = URL_SAFE_NO_PAD.encode(self.sign_bytes(&signed));
        format!("t={unix_secs},kid={},ed25519={signature}", self.kid)
    }

    /// The public JWK Set.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "kid": self.kid,
                "use": "sig",
                "alg": "EdDSA",
                "x": public_x(&self.key),
            }]
        })
    }
}

fn public_x(key: &ed25519_dalek::SigningKey) -> String {
    URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes())
}

/// The RFC 7638 thumbprint of an Ed25519 JWK: SHA-256 of its required members in
/// lexicographic order, without spaces.
fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// RFC 8032 §7.1, test 1 and test 2: published key pairs and signatures, so the
    /// primitive is checked against values computed elsewhere.
    #[test]
    fn rfc_8032_vectors() {
        let vectors = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
        ];
        for (seed, public, message, signature) in vectors {
            let key = WebhookKey::from_seed(hex(seed).try_into().unwrap());
            let jwks = key.jwks();
            assert_eq!(jwks["keys"][0]["x"], URL_SAFE_NO_PAD.encode(hex(public)));
            assert_eq!(key.sign_bytes(&hex(message)).to_vec(), hex(signature));
        }
    }

    #[test]
    fn the_header_signs_timestamp_dot_body() {
        let key = WebhookKey::from_seed([7; 32]);
        let header = key.signature_header(b"{\"a\":1}", 1_700_000_000);
        let (t, rest) = header.split_once(",kid=").unwrap();
        assert_eq!(t, "t=1700000000");
        let (kid, sig) = rest.split_once(",ed25519=").unwrap();
        assert_eq!(kid, key.kid());
        let expected = key.sign_bytes(b"1700000000.{\"a\":1}");
        assert_eq!(URL_SAFE_NO_PAD.decode(sig).unwrap(), expected.to_vec());
        let verifying = ed25519_dalek::VerifyingKey::from_bytes(
            &URL_SAFE_NO_PAD
                .decode(key.jwks()["keys"][0]["x"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap(),
        )
        .unwrap();
        let signature = ed25519_dalek::Signature::from_bytes(&expected);
        assert!(verifying.verify_strict(b"1700000000.{\"a\":1}", &signature).is_ok());
        assert!(verifying.verify_strict(b"1700000001.{\"a\":1}", &signature).is_err());
    }

    #[test]
    fn the_key_id_is_stable_and_follows_from_the_key() {
        let a = WebhookKey::from_seed([1; 32]);
        assert!(a.kid().starts_with("ds_"));
        assert_eq!(a.kid(), WebhookKey::from_seed([1; 32]).kid());
        assert_ne!(a.kid(), WebhookKey::from_seed([2; 32]).kid());
        let again = WebhookKey::from_encoded_seed(&a.encoded_seed()).unwrap();
        assert_eq!(again.kid(), a.kid());
        assert!(WebhookKey::from_encoded_seed("c2hvcnQ").is_none());
        let jwk = &a.jwks()["keys"][0];
        assert_eq!(
            (jwk["kty"].as_str(), jwk["crv"].as_str(), jwk["alg"].as_str()),
            (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
        );
    }
}
