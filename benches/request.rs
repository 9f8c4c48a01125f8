//! Whole requests through an axum 0.8 `Router`, one contender per way of keeping a session.
//!
//! Every contender serves `GET /` with the same static body, and every contender that has a
//! session reads the same data, `{"sub":"user-12345","roles":["reader","editor"]}`, into the
//! same typed `User` before answering:
//!
//! | id | what runs around the handler |
//! |---|---|
//! | `bare` | nothing: the router's own cost, the floor for the others |
//! | `ours_verify` | `SessionLayer<User>`, a valid cookie, no refresh due (no `Set-Cookie`), cross-origin protection on (the default) |
//! | `ours_verify_no_cross_origin` | as `ours_verify`, cross-origin protection off: `ours_verify` minus this is what the check costs a `GET` |
//! | `ours_refresh` | `SessionLayer<User>` with a refresh due on every request (re-sign, `Set-Cookie`) |
//! | `tower_sessions_memory` | tower-sessions with its memory store, an existing session, one key read |
//! | `axum_extra_signed_jar` | axum-extra's `SignedCookieJar`, the JSON value verified and decoded |
//! | `jsonwebtoken_cookie_resign` | a hand-written `from_fn_with_state` middleware: jsonwebtoken HS256 cookie decoded, re-signed on every response |
//! | `ours_verify_uncached`, `ours_refresh_uncached` | as `ours_verify` and `ours_refresh`, with the cache of verified tokens off: the first request with a new token |
//! | `ours_verify_revocation_100k` | as `ours_verify`, with a revocation store of 100 000 entries (half sessions, half subjects) checked on every request |
//! | `ours_verify_revocation_10m` | as `ours_verify`, with a revocation store of 10 000 000 entries (9 950 000 sessions, 50 000 subjects); built only when the command line has no filter or one containing `10m` (it takes seconds and about 400 MB) |
//! | `ours_verify_bound` | as `ours_verify`, with DBSC on and a device-bound cookie (`cnf`), a registered browser's steady request (only with `--features dbsc`) |
//! | `ours_verify_metrics` | as `ours_verify`, with the layer's metrics recorded into metrics-exporter-prometheus's recorder (only with `--features metrics`) |
//! | `propagate_forward`, `propagate_minted`, `propagate_minted_cold` | as `ours_verify`, the handler making one call to an in-process downstream service: the session token forwarded, a minted token from the cache, a token minted for every call (see `benches/contenders/propagate.rs`) |
//!
//! Each iteration builds a fresh request and drives it through the router on a
//! current-thread tokio runtime. The cookies come from a real login: our codec signs ours,
//! tower-sessions and axum-extra set theirs through a login handler run once at setup.
//! Setup also checks that each contender answers 200 with the expected `Set-Cookie`
//! behaviour, so a broken setup cannot benchmark a 401.
//!
//! The contenders live in `benches/contenders/mod.rs`, shared with `tests/allocations.rs`
//! and `examples/load_server.rs`.
//!
//! Run: `cargo bench --bench request -- --measurement-time 5` (add `--features metrics` for
//! `ours_verify_metrics`). Compare medians within one
//! run only; the overhead of a contender is its median minus `bare`'s.

mod contenders;

use std::hint::black_box;
use std::time::Instant;

use axum::extract::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use tower::{Service, ServiceExt};

use contenders::{check, request};

fn request_bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The 10-million-entry revocation store takes seconds and 400 MB to build: only when
    // the run can select it.
    let ids = contenders::ids()
        .into_iter()
        .filter(|id| !id.ends_with("_10m") || named_or_unfiltered("10m"));
    let contenders = ids.map(|id| {
        rt.block_on(contenders::by_id(id))
            .unwrap_or_else(|| panic!("{id} is listed but unknown"))
    });
    let mut group = c.benchmark_group("request");
    for contender in contenders {
        let contender = &contender;
        {
            // The layer resolves its metric handles against this recorder on this request.
            let _recording = contender.recording();
            rt.block_on(check(contender));
        }
        let mut router = contender.router.clone();
        let cookie = &contender.cookie;
        group.bench_function(contender.id, |b| {
            // One `block_on` per sample, not per request, so the runtime's entry cost is
            // not part of the per-request figure.
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let ready = ServiceExt::<Request>::ready(&mut router)
                            .await
                            .expect("infallible");
                        let response = ready.call(request(cookie)).await.expect("infallible");
                        black_box(response);
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

/// Whether the command line has no filter (every benchmark runs) or a filter holding
/// `text`.
fn named_or_unfiltered(text: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-') && a.parse::<f64>().is_err())
        .collect();
    filters.is_empty() || filters.iter().any(|f| f.contains(text))
}

criterion_group!(benches, request_bench);
criterion_main!(benches);
