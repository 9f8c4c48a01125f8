//! [`JwksService`]: serves the public keys as a JWKS document, for
//! `/.well-known/jwks.json`.

use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use sha2::{Digest as _, Sha256};
use tower_service::Service;

use super::document;
use crate::encoding::B64;
use crate::error::ConfigError;
use crate::keys::{Algorithm, Key, KeyRing, KeyRingHandle};

/// Default `Cache-Control: max-age` of the JWKS: 60 seconds.
pub const DEFAULT_JWKS_MAX_AGE: Duration = Duration::from_secs(60);

/// Where the keys come from: a live ring (published as it changes), or a fixed list.
#[derive(Clone)]
enum Source {
    Ring(KeyRingHandle),
    Fixed(Arc<KeyRing>),
}

/// The document for one generation of the ring.
struct Rendered {
    generation: u64,
    body: Bytes,
    etag: HeaderValue,
}

struct Inner {
    source: Source,
    cache_control: HeaderValue,
    rendered: RwLock<Option<Arc<Rendered>>>,
}

/// A Tower service answering `GET` (and `HEAD`) with the JWKS of the public keys, to mount
/// at `/.well-known/jwks.json`.
///
/// - `Content-Type: application/json`, `Cache-Control: public, max-age=60` (see
///   [`with_max_age`](JwksService::with_max_age)), and an `ETag`; a request whose
///   `If-None-Match` names the current tag gets `304 Not Modified`.
/// - Other methods get `405` with `Allow: GET, HEAD`.
/// - Only public halves of asymmetric keys appear, never a secret or a private part. Built
///   from a [`KeyRingHandle`] it follows the ring (rotation, node keys joining and
///   leaving) and leaves out the ring's HS256 keys, which have no public half; built from
///   a list of keys ([`from_keys`](JwksService::from_keys)) it refuses an HS256 key.
///
/// The document is rendered once per ring change; serving it is a clone of shared bytes.
///
/// ```
/// use axum::Router;
/// use tower_stateless_session::Key;
/// use tower_stateless_session::keys::jwks::JwksService;
///
/// let node_key = Key::generate_ed25519()?;
/// let jwks = JwksService::from_keys([node_key.public_key().expect("Ed25519")])?;
/// let app: Router = Router::new().route_service("/.well-known/jwks.json", jwks);
/// # Ok::<(), tower_stateless_session::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct JwksService {
    inner: Arc<Inner>,
}

impl JwksService {
    /// Serves the public keys of the ring behind `keys`, as it changes (HS256 keys, which
    /// have none, are left out; a ring of only HS256 keys serves an empty set).
    pub fn new(keys: impl Into<KeyRingHandle>) -> Self {
        Self::with_source(Source::Ring(keys.into()))
    }

    /// Serves a fixed list of keys (their public halves).
    ///
    /// # Errors
    /// [`ConfigError::SecretKeyInJwks`] when a key is HS256 or an encryption key: its only
    /// form is the secret itself, which a JWKS must never carry.
    pub fn from_keys(keys: impl IntoIterator<Item = Key>) -> Result<Self, ConfigError> {
        let mut public = Vec::new();
        for key in keys {
            match key.public_key() {
                Some(key) if key.algorithm() == Algorithm::EdDSA => public.push(key),
                _ => {
                    return Err(ConfigError::SecretKeyInJwks {
                        kid: key.kid().to_owned(),
                    });
                }
            }
        }
        let peers = public.len().saturating_sub(1);
        Ok(Self::with_source(Source::Fixed(Arc::new(
            KeyRing::assemble(public, peers),
        ))))
    }

    fn with_source(source: Source) -> Self {
        JwksService {
            inner: Arc::new(Inner {
                source,
                cache_control: cache_control(DEFAULT_JWKS_MAX_AGE),
                rendered: RwLock::new(None),
            }),
        }
    }

    /// The `Cache-Control: max-age` sent with the document (whole seconds). Default 60 s.
    /// Verifiers that refetch on an unknown `kid` pick up a new key at once whatever this
    /// is; it bounds how long a removed key stays in caches.
    #[must_use]
    pub fn with_max_age(self, max_age: Duration) -> Self {
        JwksService {
            inner: Arc::new(Inner {
                source: self.inner.source.clone(),
                cache_control: cache_control(max_age),
                rendered: RwLock::new(None),
            }),
        }
    }

    /// The current document and its `ETag`.
    fn rendered(&self) -> Arc<Rendered> {
        let generation = match &self.inner.source {
            Source::Ring(handle) => handle.generation(),
            Source::Fixed(_) => 0,
        };
        if let Some(rendered) = self
            .inner
            .rendered
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|r| r.generation == generation)
        {
            return Arc::clone(rendered);
        }
        let body = Bytes::from(match &self.inner.source {
            Source::Ring(handle) => document(handle.current().iter()),
            Source::Fixed(ring) => document(ring.iter()),
        });
        let digest = Sha256::digest(&body);
        let etag = format!("\"{}\"", B64.encode(&digest[..16]));
        let rendered = Arc::new(Rendered {
            generation,
            body,
            // Base64url and quotes: always a valid header value.
            etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
        });
        *self
            .inner
            .rendered
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&rendered));
        rendered
    }

    /// The JWKS document served now.
    pub fn document(&self) -> Bytes {
        self.rendered().body.clone()
    }

    fn respond<B>(&self, request: &Request<B>) -> Response<Full<Bytes>> {
        let method = request.method();
        if method != Method::GET && method != Method::HEAD {
            let mut response = Response::new(Full::new(Bytes::from_static(
                b"405 Method Not Allowed: GET or HEAD\n",
            )));
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let rendered = self.rendered();
        let not_modified = request
            .headers()
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .any(|value| etag_matches(value.as_bytes(), rendered.etag.as_bytes()));
        let mut response = if not_modified {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            response
        } else {
            let body = if method == Method::HEAD {
                Bytes::new()
            } else {
                rendered.body.clone()
            };
            let mut response = Response::new(Full::new(body));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response.headers_mut().insert(
                header::CONTENT_LENGTH,
                HeaderValue::from(rendered.body.len()),
            );
            response
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, rendered.etag.clone());
        headers.insert(header::CACHE_CONTROL, self.inner.cache_control.clone());
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }
}

fn cache_control(max_age: Duration) -> HeaderValue {
    HeaderValue::from_str(&format!("public, max-age={}", max_age.as_secs()))
        .unwrap_or(HeaderValue::from_static("public, max-age=60"))
}

/// Whether an `If-None-Match` value matches `etag` (weak comparison, RFC 9110 §13.1.2): `*`,
/// or a comma-separated list holding the tag, with or without `W/`.
fn etag_matches(if_none_match: &[u8], etag: &[u8]) -> bool {
    if_none_match.split(|&b| b == b',').any(|candidate| {
        let candidate = candidate.trim_ascii();
        candidate == b"*" || candidate.strip_prefix(b"W/").unwrap_or(candidate) == etag
    })
}

impl<B> Service<Request<B>> for JwksService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(self.respond(&request)))
    }
}

impl fmt::Debug for JwksService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksService")
            .field("cache_control", &self.inner.cache_control)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(service: &JwksService, if_none_match: Option<&str>) -> Response<Full<Bytes>> {
        let mut request = Request::get("/.well-known/jwks.json");
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        service.respond(&request.body(()).expect("request"))
    }

    #[test]
    fn serves_json_with_cache_headers_and_answers_304() {
        let key = Key::generate_ed25519().expect("rng");
        let handle = KeyRingHandle::new(KeyRing::new(key.clone()));
        let service = JwksService::new(handle.clone());
        let response = get(&service, None);
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=60");
        let etag = headers[header::ETAG].to_str().expect("ascii").to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        let body = String::from_utf8(service.document().to_vec()).expect("utf-8");
        assert!(body.contains(key.kid()));

        for tag in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"x\", {etag}"),
            "*".into(),
        ] {
            let response = get(&service, Some(&tag));
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{tag}");
            assert_eq!(response.headers()[header::ETAG], etag.as_str());
        }
        assert_eq!(get(&service, Some("\"other\"")).status(), StatusCode::OK);

        // A new key in the ring: a new document and a new tag.
        let other = Key::generate_ed25519().expect("rng");
        handle.replace(
            KeyRing::new(key)
                .with_peer_key(other.public_key().expect("Ed25519"))
                .expect("distinct"),
        );
        let response = get(&service, Some(&etag));
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "the old tag no longer matches"
        );
        assert_ne!(response.headers()[header::ETAG], etag.as_str());
        assert!(String::from_utf8_lossy(&service.document()).contains(other.kid()));
    }

    #[test]
    fn secret_keys_are_never_published() {
        #[allow(unused_mut)] // An encryption key joins with the `jwe` feature.
        let mut secrets = vec![Key::hs256("hs", &[1; 32]).expect("valid")];
        #[cfg(feature = "jwe")]
        secrets.push(
            Key::generate_encryption("enc", crate::keys::KeyManagement::default()).expect("rng"),
        );
        for secret in &secrets {
            let e = JwksService::from_keys([secret.clone()]).expect_err("refused at build time");
            assert!(matches!(e, ConfigError::SecretKeyInJwks { .. }), "{e:?}");
        }
        let service = JwksService::new(KeyRing::from_keys(secrets).expect("distinct"));
        assert_eq!(&service.document()[..], b"{\"keys\":[]}");
    }

    #[test]
    fn other_methods_get_405_and_head_gets_no_body() {
        let service = JwksService::from_keys([Key::generate_ed25519().expect("rng")]).expect("ok");
        let post = Request::post("/").body(()).expect("request");
        let response = service.respond(&post);
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "GET, HEAD");
        let head = Request::head("/").body(()).expect("request");
        let response = service.respond(&head);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_LENGTH],
            service.document().len().to_string().as_str()
        );
        let service = service.with_max_age(Duration::from_secs(5));
        assert_eq!(
            get(&service, None).headers()[header::CACHE_CONTROL],
            "public, max-age=5"
        );
    }
}
