//! The verifier's background task: fetch the set (conditionally, with a timeout and a size
//! cap) when asked or when the refresh is due, never two fetches within the minimum
//! interval, and record each outcome in the ring and the status.

use std::sync::{Arc, Weak};

use http::{HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Limited};
use tokio::time::Instant;

use super::{Alive, JwksError, Shared};
use crate::keys::jwks::parse;
use crate::keys::{Key, KeyRing};

/// The background task.
pub(super) struct Task {
    shared: Arc<Shared>,
    alive: Weak<Alive>,
    etag: Option<HeaderValue>,
}

enum Fetched {
    Set {
        keys: Vec<Key>,
        skipped: usize,
        etag: Option<HeaderValue>,
    },
    NotModified,
}

impl Task {
    /// The task of `shared`, replacing the ring behind its handle (the one without the
    /// refresher), running while `alive` has strong holders.
    pub(super) fn new(shared: Arc<Shared>, alive: Weak<Alive>) -> Self {
        Task {
            shared,
            alive,
            etag: None,
        }
    }

    pub(super) async fn run(mut self) {
        let mut last_start: Option<Instant> = None;
        loop {
            if let Some(start) = last_start {
                // Sleep until a fetch is wanted or the refresh is due. A wake-up for an ask
                // that a fetch started since has answered is no reason to fetch again.
                let refresh_due = tokio::time::sleep_until(start + self.shared.refresh);
                tokio::pin!(refresh_due);
                loop {
                    tokio::select! {
                        () = self.shared.wanted.notified() => {
                            if !self.shared.asked() {
                                continue;
                            }
                        }
                        () = &mut refresh_due => {}
                        () = self.shared.closed.notified() => {}
                    }
                    break;
                }
                if self.alive.strong_count() == 0 {
                    return;
                }
                // Never two fetches within the minimum interval.
                tokio::time::sleep_until(start + self.shared.min_refetch).await;
            }
            last_start = Some(Instant::now());
            self.shared.progress.send_modify(|p| p.started += 1);
            let result = tokio::time::timeout(self.shared.timeout, self.fetch()).await;
            let result = result.unwrap_or(Err(JwksError::Timeout));
            let loaded = self.apply(result);
            self.shared.export();
            self.shared.progress.send_modify(|p| {
                p.completed = p.started;
                p.loaded |= loaded;
            });
            if self.alive.strong_count() == 0 {
                return;
            }
        }
    }

    async fn fetch(&self) -> Result<Fetched, JwksError> {
        let mut request = Request::get(self.shared.uri.clone()).header(
            header::ACCEPT,
            HeaderValue::from_static("application/json, application/jwk-set+json"),
        );
        if let Some(etag) = &self.etag {
            request = request.header(header::IF_NONE_MATCH, etag.clone());
        }
        let request = request
            .body(String::new())
            .map_err(|e| JwksError::Http(e.to_string()))?;
        let response = (self.shared.fetch)(request)
            .await
            .map_err(|e| JwksError::Http(e.to_string()))?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_MODIFIED if self.etag.is_some() => return Ok(Fetched::NotModified),
            other => return Err(JwksError::Status(other.as_u16())),
        }
        let declared = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.shared.max_bytes as u64) {
            return Err(JwksError::TooLarge);
        }
        let etag = response.headers().get(header::ETAG).cloned();
        let body = Limited::new(response.into_body(), self.shared.max_bytes)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    JwksError::TooLarge
                } else {
                    JwksError::Http(e.to_string())
                }
            })?
            .to_bytes();
        let parsed = parse(&body, self.shared.max_keys).ok_or(JwksError::Invalid)?;
        Ok(Fetched::Set {
            keys: parsed.keys,
            skipped: parsed.skipped,
            etag,
        })
    }

    /// Records a fetch's outcome; returns whether a set is loaded.
    fn apply(&mut self, result: Result<Fetched, JwksError>) -> bool {
        let now = self.shared.clock.now();
        let mut status = self.shared.status();
        let failing = result.is_err();
        // Started, fetching fine, failing: a change of state restarts `since`.
        if status.last_attempt.is_none() || (status.consecutive_failures > 0) != failing {
            status.since = Some(now);
        }
        status.fetches += 1;
        status.last_attempt = Some(now);
        match result {
            Ok(fetched) => {
                if let Fetched::Set {
                    keys,
                    skipped,
                    etag,
                } = fetched
                {
                    let mut keys = keys;
                    keys.sort_by(|a, b| a.kid().cmp(b.kid()));
                    self.etag = etag;
                    status.skipped_keys = skipped;
                    if skipped > 0 {
                        jwks_keys_skipped(skipped);
                    }
                    let current = self.shared.ring.current();
                    let same = current.len() == keys.len()
                        && current.iter().zip(&keys).all(|(a, b)| {
                            a.kid() == b.kid()
                                && a.ed25519_public_bytes() == b.ed25519_public_bytes()
                        });
                    if !same {
                        let peers = keys.len().saturating_sub(1);
                        self.shared.ring.replace(KeyRing::assemble(keys, peers));
                    }
                }
                status.keys = self.shared.ring.current().len();
                status.last_success = Some(now);
                status.consecutive_failures = 0;
                status.last_error = None;
                true
            }
            Err(error) => {
                status.failures += 1;
                status.consecutive_failures += 1;
                jwks_fetch_failed(&error, status.keys);
                status.last_error = Some(error);
                status.last_success.is_some()
            }
        }
    }
}

/// Log event (through `tracing` when the feature is on; never a token or a secret).
fn jwks_fetch_failed(error: &super::JwksError, keys: usize) {
    #[cfg(feature = "tracing")]
    tracing::warn!(%error, keys, "JWKS fetch failed: keeping the last good key set");
    #[cfg(not(feature = "tracing"))]
    let _ = (error, keys);
}

/// Log event (through `tracing` when the feature is on; never a token or a secret).
fn jwks_keys_skipped(skipped: usize) {
    #[cfg(feature = "tracing")]
    tracing::info!(
        skipped,
        "JWKS keys left out: not Ed25519 verification keys, malformed, with a private part, \
         or a key id given twice"
    );
    #[cfg(not(feature = "tracing"))]
    let _ = skipped;
}
