//! What the proof-of-possession tests share: signing keys (P-256 made here, RSA-2048 from
//! the vendored CloudNua vectors), compact proofs built member by member, the vectors.

#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer as _;
use serde_json::{Value, json};

/// A vendored vector file, parsed.
pub fn vector(path: &str) -> Value {
    let full = format!("{}/tests/vectors/dbsc/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// A key that signs proofs.
pub enum ProofKey {
    Es256(p256::ecdsa::SigningKey),
    Rs256(Box<rsa::pkcs1v15::SigningKey<sha2::Sha256>>, Value),
}

impl ProofKey {
    /// A P-256 key from a fixed 32-byte seed (`seed` repeated).
    pub fn es256(seed: u8) -> Self {
        let mut d = [seed; 32];
        d[0] = 1;
        ProofKey::Es256(p256::ecdsa::SigningKey::from_slice(&d).expect("a scalar"))
    }

    /// The RSA-2048 test key of the CloudNua vectors.
    pub fn rs256() -> Self {
        let keys = vector("cloudnua/keys.json");
        let private = &keys["rsa"]["private"];
        let big = |name: &str| {
            let bytes = B64
                .decode(private[name].as_str().expect("a member"))
                .expect("base64url");
            rsa::BoxedUint::from_be_slice_vartime(&bytes)
        };
        let key = rsa::PrivateKey::from_components(
            big("n"),
            big("e"),
            big("d"),
            vec![big("p"), big("q")],
        )
        .expect("the vector's RSA key");
        ProofKey::Rs256(
            Box::new(rsa::pkcs1v15::SigningKey::new(key)),
            keys["rsa"]["public"].clone(),
        )
    }

    /// The public JWK (no `alg`, as Chromium sends it).
    pub fn jwk(&self) -> Value {
        match self {
            ProofKey::Es256(key) => {
                let point = key.verifying_key().to_sec1_point(false);
                let bytes = point.as_bytes();
                json!({
                    "crv": "P-256",
                    "kty": "EC",
                    "x": B64.encode(&bytes[1..33]),
                    "y": B64.encode(&bytes[33..65]),
                })
            }
            ProofKey::Rs256(_, public) => {
                json!({ "kty": "RSA", "n": public["n"], "e": public["e"] })
            }
        }
    }

    pub fn alg(&self) -> &'static str {
        match self {
            ProofKey::Es256(_) => "ES256",
            ProofKey::Rs256(..) => "RS256",
        }
    }

    /// The signature over `message`: raw `r || s` for ES256.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            ProofKey::Es256(key) => {
                let signature: p256::ecdsa::Signature = key.sign(message);
                signature.to_bytes().to_vec()
            }
            ProofKey::Rs256(key, _) => {
                use rsa::signature::SignatureEncoding as _;
                let signature: rsa::pkcs1v15::Signature = key.sign(message);
                signature.to_vec()
            }
        }
    }

    /// The RFC 7638 thumbprint.
    pub fn thumbprint(&self) -> String {
        tower_stateless_session::pop::PublicJwk::from_json(self.jwk().to_string().as_bytes())
            .expect("a valid key")
            .thumbprint()
            .to_owned()
    }

    /// A proof with `header` and `payload` as given, signed.
    pub fn proof(&self, header: &Value, payload: &Value) -> String {
        self.proof_raw(
            header.to_string().as_bytes(),
            payload.to_string().as_bytes(),
        )
    }

    /// A proof of the exact header and payload bytes given, signed.
    pub fn proof_raw(&self, header: &[u8], payload: &[u8]) -> String {
        let input = format!("{}.{}", B64.encode(header), B64.encode(payload));
        let signature = self.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(signature))
    }

    /// A DBSC proof of `challenge`, with the key in the header (registration) or not.
    pub fn dbsc(&self, challenge: &str, with_key: bool, authorization: Option<&str>) -> String {
        let mut header = json!({ "alg": self.alg(), "typ": "dbsc+jwt" });
        if with_key {
            header["jwk"] = self.jwk();
        }
        let mut payload = json!({ "jti": challenge });
        if let Some(authorization) = authorization {
            payload["authorization"] = json!(authorization);
        }
        self.proof(&header, &payload)
    }

    /// A DPoP proof for `method` `url` at `iat`, with `ath` over `token` if given.
    pub fn dpop(
        &self,
        method: &str,
        url: &str,
        iat: u64,
        jti: &str,
        token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let header = json!({ "alg": self.alg(), "typ": "dpop+jwt", "jwk": self.jwk() });
        let mut payload = json!({ "jti": jti, "htm": method, "htu": url, "iat": iat });
        if let Some(token) = token {
            payload["ath"] = json!(tower_stateless_session::pop::dpop::token_hash(
                token.as_bytes()
            ));
        }
        if let Some(nonce) = nonce {
            payload["nonce"] = json!(nonce);
        }
        self.proof(&header, &payload)
    }
}

/// The DER encoding (RFC 3279) of a raw 64-byte ES256 signature.
pub fn der(raw: &[u8]) -> Vec<u8> {
    let int = |half: &[u8]| {
        let mut bytes: Vec<u8> = half.iter().copied().skip_while(|b| *b == 0).collect();
        if bytes.first().is_some_and(|b| b & 0x80 != 0) {
            bytes.insert(0, 0);
        }
        let mut out = vec![0x02, bytes.len() as u8];
        out.extend(bytes);
        out
    };
    let (r, s) = (int(&raw[..32]), int(&raw[32..]));
    let mut out = vec![0x30, (r.len() + s.len()) as u8];
    out.extend(r);
    out.extend(s);
    out
}

/// The three segments of a compact proof.
pub fn segments(proof: &str) -> (String, String, String) {
    let mut parts = proof.split('.').map(str::to_owned);
    (
        parts.next().expect("header"),
        parts.next().expect("payload"),
        parts.next().expect("signature"),
    )
}

/// Base64url of bytes.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    B64.encode(bytes)
}

/// Bytes of base64url.
pub fn unb64(text: &str) -> Vec<u8> {
    B64.decode(text).expect("base64url")
}

/// A token's claims, read without verifying (bound tokens are refused by the plain
/// verifier).
pub fn claims_of_token(token: &str) -> tower_stateless_session::token::Claims<crate::common::User> {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&unb64(payload)).expect("claims")
}
