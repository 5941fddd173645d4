//! JWTs the host application issues: [`Jwt`] is an [`Authenticator`] that verifies them and
//! takes the user from their claims, so an app that already signs tokens for its users needs
//! no session store shared with the chat. Tokens are signed with HS256 (a shared secret),
//! RS256 (an RSA key pair) or EdDSA (Ed25519); several keys can be told apart by `kid`. A
//! token comes in an `Authorization: Bearer` header, a cookie of the app's choosing, or the
//! `token` query parameter (for browsers opening the WebSocket, which cannot set headers).
//!
//! Claims read: `sub` (required, the user's id in the app), `name` (the display name, `sub`
//! when absent), `exp` (required), `nbf` (checked when present), `admin` (bool, optional),
//! and `iss` / `aud` when the [`Jwt`] names issuers or audiences.

use crate::auth::{self, Via};
use crate::error::ApiError;
use crate::identity::{Authenticator, Identity};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chat_core::{Clock, ExternalUser, SystemClock, Timestamp};
use http::StatusCode;
use http::request::Parts;
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Clock skew allowed by default when checking `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// Longest token read by default, in bytes; longer ones are refused before any decoding.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The query parameter a token may come in (`/ws?token=...`).
pub const QUERY_PARAMETER: &str = "token";

/// Shortest HS256 secret accepted, in bytes (RFC 7518 §3.2: at least the hash's 256 bits).
pub const MIN_SECRET_BYTES: usize = 32;

/// The error code of a refused token (401).
pub const INVALID_TOKEN: &str = "invalid_token";

/// A key that verifies tokens, with the one algorithm it accepts.
#[derive(Clone)]
pub struct JwtKey {
    algorithm: Algorithm,
    key: DecodingKey,
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Why a key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// An HS256 secret shorter than [`MIN_SECRET_BYTES`].
    #[error("an HS256 secret needs at least {MIN_SECRET_BYTES} bytes, this one has {0}")]
    SecretTooShort(usize),
    /// A private key where the public key belongs.
    #[error("this is a private key: give the public key")]
    PrivateKey,
    /// Not an RSA public key in PEM (PKCS#1 or SubjectPublicKeyInfo).
    #[error("not an RSA public key in PEM")]
    NotRsa,
    /// Not an Ed25519 public key in PEM (SubjectPublicKeyInfo).
    #[error("not an Ed25519 public key in PEM")]
    NotEd25519,
}

impl JwtKey {
    /// HS256 with the secret the app signs with (at least [`MIN_SECRET_BYTES`] bytes).
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<JwtKey, KeyError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyError::SecretTooShort(secret.len()));
        }
        let key =
            DecodingKey::from_secret(secret).map_err(|_| KeyError::SecretTooShort(secret.len()))?;
        Ok(JwtKey {
            algorithm: Algorithm::HS256,
            key,
        })
    }

    /// RS256 with the app's RSA public key in PEM (`BEGIN PUBLIC KEY` or
    /// `BEGIN RSA PUBLIC KEY`).
    pub fn rs256_pem(pem: impl AsRef<[u8]>) -> Result<JwtKey, KeyError> {
        let pem = public_pem(pem.as_ref())?;
        let key = DecodingKey::from_rsa_pem(pem).map_err(|_| KeyError::NotRsa)?;
        Ok(JwtKey {
            algorithm: Algorithm::RS256,
            key,
        })
    }

    /// EdDSA with the app's Ed25519 public key in PEM (`BEGIN PUBLIC KEY`).
    pub fn ed25519_pem(pem: impl AsRef<[u8]>) -> Result<JwtKey, KeyError> {
        let pem = public_pem(pem.as_ref())?;
        let key = DecodingKey::from_ed_pem(pem).map_err(|_| KeyError::NotEd25519)?;
        if key.try_get_as_bytes().map(<[u8]>::len).ok() != Some(32) {
            return Err(KeyError::NotEd25519);
        }
        ensure_crypto_provider();
        // Parses the curve point: `Err` for bytes that are no Ed25519 key, `Ok(false)` (the
        // made-up signature does not verify) for a good one.
        jsonwebtoken::crypto::verify("", b"", &key, Algorithm::EdDSA)
            .map_err(|_| KeyError::NotEd25519)?;
        Ok(JwtKey {
            algorithm: Algorithm::EdDSA,
            key,
        })
    }

    /// The algorithm tokens verified by this key must name in their header: `HS256`,
    /// `RS256` or `EdDSA`.
    pub fn algorithm(&self) -> &'static str {
        match self.algorithm {
            Algorithm::HS256 => "HS256",
            Algorithm::RS256 => "RS256",
            _ => "EdDSA",
        }
    }
}

/// The PEM text, refused when it holds a private key.
fn public_pem(pem: &[u8]) -> Result<&[u8], KeyError> {
    if pem
        .windows(b"PRIVATE KEY".len())
        .any(|w| w == b"PRIVATE KEY")
    {
        return Err(KeyError::PrivateKey);
    }
    Ok(pem)
}

/// Selects the pure-Rust crypto of jsonwebtoken unless a provider is chosen already, so that
/// a build that enables both of its backends (through another crate) does not panic.
fn ensure_crypto_provider() {
    if CryptoProvider::try_get_default().is_none() {
        // An `Err` means another thread installed one first: that one is used.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    }
}

/// Verifies JWTs the host application issues and vouches for their subject as a chat user.
/// Configured like a builder:
///
/// ```
/// use chat_http::identity::jwt::{Jwt, JwtKey};
/// # fn main() -> Result<(), chat_http::identity::jwt::KeyError> {
/// let jwt = Jwt::new()
///     .default_key(JwtKey::hs256("a secret of at least thirty-two bytes")?)
///     .issuer("https://app.example")
///     .cookie("app_token");
/// # let _ = jwt;
/// # Ok(())
/// # }
/// ```
///
/// A request without a token is left to the chat's own sessions (when on) or answered 401
/// `unauthenticated`. A token that is present but refused is a 401 `invalid_token` whose
/// message says why (expired, not yet valid, bad signature, unknown key id, wrong algorithm,
/// ...). An `Authorization: Bearer` value that is not shaped like a JWT (three parts separated
/// by dots) is not taken for one, so the chat's own session tokens still work beside it.
///
/// Exactly the algorithm of the key a token is checked with is accepted: `alg: none`, an
/// HS256 token against an RS256 key and the like are refused. A token with a `kid` in its
/// header is checked with the key registered under that id ([`key`](Self::key)) and refused
/// when there is none, even with a default key; one without a `kid` is checked with the
/// [`default_key`](Self::default_key).
///
/// A token with an `aud` claim is refused unless an [`audience`](Self::audience) is
/// configured and listed in it (RFC 7519 §4.1.3): configure one when the app's tokens carry
/// it. With [`issuer`](Self::issuer)s configured, `iss` is required and must be one of them.
///
/// The identity expires at `exp` plus the leeway: a WebSocket opened with the token closes
/// then (4001), so the client reconnects with a fresh token.
pub struct Jwt {
    default_key: Option<JwtKey>,
    keys: HashMap<String, JwtKey>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: Duration,
    cookie: Option<String>,
    query_token: bool,
    max_token_bytes: usize,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwt")
            .field("default_key", &self.default_key)
            .field("keys", &self.keys)
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field("leeway", &self.leeway)
            .field("cookie", &self.cookie)
            .field("query_token", &self.query_token)
            .field("max_token_bytes", &self.max_token_bytes)
            .finish_non_exhaustive()
    }
}

impl Default for Jwt {
    fn default() -> Jwt {
        Jwt::new()
    }
}

impl Jwt {
    /// An authenticator without keys yet (it refuses every token until given one), reading
    /// tokens from the `Authorization` header and the `token` query parameter, with a leeway
    /// of [`DEFAULT_LEEWAY`], tokens up to [`DEFAULT_MAX_TOKEN_BYTES`] and the system clock.
    pub fn new() -> Jwt {
        ensure_crypto_provider();
        Jwt {
            default_key: None,
            keys: HashMap::new(),
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            cookie: None,
            query_token: true,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            clock: Arc::new(SystemClock),
        }
    }

    /// The key for tokens without a `kid` in their header.
    pub fn default_key(mut self, key: JwtKey) -> Jwt {
        self.default_key = Some(key);
        self
    }

    /// The key for tokens whose header names `kid`; several can be registered (key
    /// rotation, several issuers).
    pub fn key(mut self, kid: impl Into<String>, key: JwtKey) -> Jwt {
        self.keys.insert(kid.into(), key);
        self
    }

    /// Accepts tokens whose `iss` is `issuer`; once one is given, `iss` is required and must
    /// be one of those given.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Jwt {
        self.issuers.push(issuer.into());
        self
    }

    /// Accepts tokens whose `aud` names `audience`; once one is given, `aud` is required and
    /// must name one of those given.
    pub fn audience(mut self, audience: impl Into<String>) -> Jwt {
        self.audiences.push(audience.into());
        self
    }

    /// The clock skew allowed when checking `exp` and `nbf` (default [`DEFAULT_LEEWAY`]).
    pub fn leeway(mut self, leeway: Duration) -> Jwt {
        self.leeway = leeway;
        self
    }

    /// Also reads the token from the cookie `name`. Writes carried by it must then pass the
    /// chat's CSRF check (an `Origin` or `Referer` of the site), as with any cookie.
    pub fn cookie(mut self, name: impl Into<String>) -> Jwt {
        self.cookie = Some(name.into());
        self
    }

    /// Whether a token is read from the `token` query parameter (default: on). Browsers cannot
    /// set headers on a WebSocket, so `/ws?token=...` is their way to send one without a
    /// cookie. The parameter is read on any request (the chat may be mounted under a prefix),
    /// and a token in a URL shows up in access logs, proxies and browser history: issue
    /// short-lived tokens for it, or turn it off when the token travels in a cookie.
    pub fn query_token(mut self, on: bool) -> Jwt {
        self.query_token = on;
        self
    }

    /// Longest token read, in bytes (default [`DEFAULT_MAX_TOKEN_BYTES`]); longer ones are
    /// refused before they are decoded.
    pub fn max_token_bytes(mut self, bytes: usize) -> Jwt {
        self.max_token_bytes = bytes;
        self
    }

    /// Where `exp` and `nbf` are checked against (default: the system clock). Give the chat
    /// service's clock so that tokens and WebSocket expiry follow the same time.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Jwt {
        self.clock = clock;
        self
    }

    /// The token a request carries and how: the bearer header, the cookie, the query.
    fn token(&self, request: &Parts) -> Option<(String, Via)> {
        if let Some(token) = auth::bearer(&request.headers).filter(|t| jwt_shaped(t)) {
            return Some((token.to_owned(), Via::Bearer));
        }
        if let Some(name) = &self.cookie
            && let Some(token) = auth::cookie(&request.headers, name)
        {
            return Some((token, Via::Cookie));
        }
        if !self.query_token {
            return None;
        }
        let token = auth::query_parameter(request.uri.query()?, QUERY_PARAMETER)?;
        Some((token, Via::Bearer))
    }

    /// Verifies `token`: the user it names and when the identity expires.
    fn verify(&self, token: &str) -> Result<(ExternalUser, Timestamp), Refusal> {
        if token.len() > self.max_token_bytes {
            return Err(Refusal::TooLong);
        }
        let header = token.split('.').next().ok_or(Refusal::Malformed)?;
        let header: Header = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(Refusal::Malformed)?;
        let key = match &header.kid {
            Some(kid) => self.keys.get(kid),
            None => self.default_key.as_ref(),
        }
        .ok_or(Refusal::UnknownKeyId)?;
        if header.alg != key.algorithm() {
            return Err(Refusal::WrongAlgorithm);
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &self.validation(key))
            .map_err(|e| Refusal::from(e.kind()))?
            .claims;

        let sub = claims
            .sub
            .filter(|s| !s.is_empty())
            .ok_or(Refusal::MissingClaim("sub"))?;
        let exp = millis(claims.exp.ok_or(Refusal::MissingClaim("exp"))?)
            .ok_or(Refusal::BadClaim("exp"))?;
        let leeway = i64::try_from(self.leeway.as_millis()).unwrap_or(i64::MAX);
        let now = self.clock.now().as_millis();
        let expires_at = exp.saturating_add(leeway);
        if now >= expires_at {
            return Err(Refusal::Expired);
        }
        if let Some(nbf) = claims.nbf {
            let nbf = millis(nbf).ok_or(Refusal::BadClaim("nbf"))?;
            if now.saturating_add(leeway) < nbf {
                return Err(Refusal::NotYetValid);
            }
        }
        let name = claims
            .name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| sub.clone());
        let user = ExternalUser {
            external_id: sub,
            name,
            admin: claims.admin,
        };
        Ok((user, Timestamp(expires_at)))
    }

    /// What jsonwebtoken checks: the signature with exactly the key's algorithm, `iss` and
    /// `aud`. The times are checked here, against [`Jwt::clock`].
    fn validation(&self, key: &JwtKey) -> Validation {
        let mut validation = Validation::new(key.algorithm);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.required_spec_claims = HashSet::new();
        if !self.issuers.is_empty() {
            validation.set_issuer(&self.issuers);
            validation.required_spec_claims.insert("iss".to_owned());
        }
        if !self.audiences.is_empty() {
            validation.set_audience(&self.audiences);
            validation.required_spec_claims.insert("aud".to_owned());
        }
        validation
    }
}

#[async_trait]
impl Authenticator for Jwt {
    async fn authenticate(&self, request: &Parts) -> Result<Option<Identity>, ApiError> {
        let Some((token, via)) = self.token(request) else {
            return Ok(None);
        };
        match self.verify(&token) {
            Ok((user, expires_at)) => Ok(Some(Identity {
                user,
                expires_at: Some(expires_at),
                via,
            })),
            Err(refusal) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                INVALID_TOKEN,
                format!("invalid token: {refusal}"),
            )),
        }
    }
}

/// The part of a JOSE header read before the signature is checked.
#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

/// The claims read, each optional so that a missing one gets a reason of its own.
#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    name: Option<String>,
    exp: Option<f64>,
    nbf: Option<f64>,
    admin: Option<bool>,
}

/// Why a token was refused: the end of the 401's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Refusal {
    #[error("token too long")]
    TooLong,
    #[error("malformed token")]
    Malformed,
    #[error("unknown key id")]
    UnknownKeyId,
    #[error("wrong algorithm")]
    WrongAlgorithm,
    #[error("bad signature")]
    BadSignature,
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
    #[error("missing claim {0}")]
    MissingClaim(&'static str),
    #[error("malformed claim {0}")]
    BadClaim(&'static str),
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong audience")]
    WrongAudience,
}

impl From<&ErrorKind> for Refusal {
    fn from(kind: &ErrorKind) -> Refusal {
        match kind {
            ErrorKind::InvalidSignature => Refusal::BadSignature,
            ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::UnsupportedAlgorithm
            | ErrorKind::MissingAlgorithm => Refusal::WrongAlgorithm,
            ErrorKind::ExpiredSignature => Refusal::Expired,
            ErrorKind::ImmatureSignature => Refusal::NotYetValid,
            ErrorKind::InvalidIssuer => Refusal::WrongIssuer,
            ErrorKind::InvalidAudience => Refusal::WrongAudience,
            ErrorKind::MissingRequiredClaim(name) => {
                claim_name(name).map_or(Refusal::Malformed, Refusal::MissingClaim)
            }
            ErrorKind::InvalidClaimFormat(name) => {
                claim_name(name).map_or(Refusal::Malformed, Refusal::BadClaim)
            }
            ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidEddsaKey
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidKeyFormat => {
                tracing::warn!(error = ?kind, "a configured JWT key cannot verify tokens");
                Refusal::BadSignature
            }
            _ => Refusal::Malformed,
        }
    }
}

/// The registered claims jsonwebtoken names in its errors.
fn claim_name(name: &str) -> Option<&'static str> {
    ["exp", "nbf", "sub", "iss", "aud"]
        .into_iter()
        .find(|claim| *claim == name)
}

/// Seconds since the epoch (a JWT NumericDate, maybe fractional) as milliseconds.
fn millis(seconds: f64) -> Option<i64> {
    // `as` saturates: dates beyond the `i64` range of milliseconds stay far in the future
    // or past.
    seconds.is_finite().then_some((seconds * 1000.0) as i64)
}

/// Whether `token` has the shape of a JWS in compact form: three parts separated by dots.
fn jwt_shaped(token: &str) -> bool {
    token.bytes().filter(|&b| b == b'.').count() == 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::ManualClock;
    use jsonwebtoken::{EncodingKey, encode};
    use serde_json::{Value, json};

    const SECRET: &[u8] = b"unit-test-secret-of-32-bytes-min";
    const NOW: i64 = 1_800_000_000;

    fn jwt() -> Jwt {
        let clock = Arc::new(ManualClock::new(Timestamp(NOW * 1000)));
        Jwt::new()
            .default_key(JwtKey::hs256(SECRET).unwrap())
            .clock(clock)
    }

    fn sign(header: jsonwebtoken::Header, claims: &Value) -> String {
        encode(&header, claims, &EncodingKey::from_secret(SECRET).unwrap()).unwrap()
    }

    fn hs256(claims: Value) -> String {
        sign(jsonwebtoken::Header::new(Algorithm::HS256), &claims)
    }

    #[test]
    fn reads_the_user_from_the_claims() {
        let token = hs256(json!({"sub": "u1", "name": "Ann", "exp": NOW + 60, "admin": true}));
        let (user, expires_at) = jwt().verify(&token).unwrap();
        assert_eq!(
            user,
            ExternalUser {
                external_id: "u1".into(),
                name: "Ann".into(),
                admin: Some(true)
            }
        );
        assert_eq!(expires_at, Timestamp((NOW + 60 + 30) * 1000));
        let token = hs256(json!({"sub": "u1", "exp": NOW + 60}));
        let (user, _) = jwt().verify(&token).unwrap();
        assert_eq!((user.name.as_str(), user.admin), ("u1", None));
    }

    #[test]
    fn refusals_have_their_reasons() {
        let cases = [
            (json!({"sub": "u", "exp": NOW - 31}), Err(Refusal::Expired)),
            // Within the leeway.
            (json!({"sub": "u", "exp": NOW - 29}), Ok(())),
            (
                json!({"sub": "u", "exp": NOW + 60, "nbf": NOW + 31}),
                Err(Refusal::NotYetValid),
            ),
            (
                json!({"sub": "u", "exp": NOW + 60, "nbf": NOW + 29}),
                Ok(()),
            ),
            (json!({"sub": "u"}), Err(Refusal::MissingClaim("exp"))),
            (json!({"exp": NOW + 60}), Err(Refusal::MissingClaim("sub"))),
            (
                json!({"sub": "", "exp": NOW + 60}),
                Err(Refusal::MissingClaim("sub")),
            ),
            (json!({"sub": "u", "exp": "soon"}), Err(Refusal::Malformed)),
            (
                json!({"sub": "u", "exp": NOW + 60, "aud": "other"}),
                Err(Refusal::WrongAudience),
            ),
        ];
        let jwt = jwt();
        for (i, (claims, expected)) in cases.into_iter().enumerate() {
            let result = jwt.verify(&hs256(claims)).map(|_| ());
            assert_eq!(result, expected, "case {i}");
        }
    }

    #[test]
    fn issuer_and_audience_when_configured() {
        let jwt = jwt().issuer("https://app").audience("chat");
        let claims = |extra: Value| {
            let mut c = json!({"sub": "u", "exp": NOW + 60});
            if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
                c.extend(extra.clone());
            }
            hs256(c)
        };
        let good = claims(json!({"iss": "https://app", "aud": ["x", "chat"]}));
        assert!(jwt.verify(&good).is_ok());
        let cases = [
            (json!({"aud": "chat"}), Refusal::MissingClaim("iss")),
            (json!({"iss": "https://app"}), Refusal::MissingClaim("aud")),
            (
                json!({"iss": "https://evil", "aud": "chat"}),
                Refusal::WrongIssuer,
            ),
            (
                json!({"iss": "https://app", "aud": "else"}),
                Refusal::WrongAudience,
            ),
        ];
        for (extra, refusal) in cases {
            assert_eq!(jwt.verify(&claims(extra)).unwrap_err(), refusal);
        }
    }

    #[test]
    fn keys_by_id_and_algorithm() {
        let other = JwtKey::hs256(b"another-secret-of-thirty-two-byt").unwrap();
        let jwt = jwt().key("k2", other);
        let claims = json!({"sub": "u", "exp": NOW + 60});
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.kid = Some("k2".into());
        // Signed with the default key's secret, checked with k2's.
        assert_eq!(
            jwt.verify(&sign(header.clone(), &claims)).unwrap_err(),
            Refusal::BadSignature
        );
        header.kid = Some("k3".into());
        assert_eq!(
            jwt.verify(&sign(header, &claims)).unwrap_err(),
            Refusal::UnknownKeyId
        );
        let header = jsonwebtoken::Header::new(Algorithm::HS384);
        assert_eq!(
            jwt.verify(&sign(header, &claims)).unwrap_err(),
            Refusal::WrongAlgorithm
        );
        let no_default = Jwt::new();
        assert_eq!(
            no_default.verify(&hs256(claims)).unwrap_err(),
            Refusal::UnknownKeyId
        );
    }

    #[test]
    fn bad_keys_are_refused() {
        assert_eq!(
            JwtKey::hs256(b"short").unwrap_err(),
            KeyError::SecretTooShort(5)
        );
        let private =
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            JwtKey::ed25519_pem(private).unwrap_err(),
            KeyError::PrivateKey
        );
        assert_eq!(
            JwtKey::rs256_pem("not a pem").unwrap_err(),
            KeyError::NotRsa
        );
        assert_eq!(
            JwtKey::ed25519_pem("not a pem").unwrap_err(),
            KeyError::NotEd25519
        );
    }

    #[test]
    fn garbage_and_oversize_tokens() {
        let jwt = jwt().max_token_bytes(100);
        assert_eq!(jwt.verify("a.b.c").unwrap_err(), Refusal::Malformed);
        assert_eq!(jwt.verify("").unwrap_err(), Refusal::Malformed);
        let long = format!("{}.{}.{}", "a".repeat(40), "b".repeat(40), "c".repeat(40));
        assert_eq!(jwt.verify(&long).unwrap_err(), Refusal::TooLong);
    }

    #[test]
    fn token_sources() {
        let jwt = jwt().cookie("app_jwt");
        let parts = |uri: &str, headers: &[(&str, &str)]| {
            let mut request = http::Request::builder().uri(uri);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            request.body(()).unwrap().into_parts().0
        };
        let found = |p: &Parts| jwt.token(p);
        assert_eq!(
            found(&parts("/ws", &[("authorization", "Bearer a.b.c")])),
            Some(("a.b.c".into(), Via::Bearer))
        );
        // A chat session token is not taken for a JWT.
        assert_eq!(
            found(&parts("/ws", &[("authorization", "Bearer abcdef")])),
            None
        );
        assert_eq!(
            found(&parts("/ws", &[("cookie", "x=1; app_jwt=a.b.c")])),
            Some(("a.b.c".into(), Via::Cookie))
        );
        assert_eq!(
            found(&parts("/ws?batch=1&token=a.b%2Ec", &[])),
            Some(("a.b.c".into(), Via::Bearer))
        );
        assert_eq!(found(&parts("/ws?token=", &[])), None);
        let off = Jwt::new().query_token(false);
        assert_eq!(off.token(&parts("/ws?token=a.b.c", &[])), None);
    }
}
