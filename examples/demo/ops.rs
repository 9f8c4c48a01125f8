//! What the operators of the demo get: `GET /health`, `GET /metrics` (with
//! `--features metrics`), and request logs that never show a token.

use std::future::ready;

use axum::Router;
#[cfg(feature = "metrics")]
use axum::http::StatusCode;
use axum::http::header;
#[cfg(feature = "metrics")]
use axum::response::IntoResponse;
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::sensitive_headers::{
    SetSensitiveRequestHeadersLayer, SetSensitiveResponseHeadersLayer,
};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tower_stateless_session::health::Health;
use tracing::Level;

/// `GET /health`: the state of what the sessions depend on, as
/// `{"status":"ok"|"degraded","checks":{...}}`. Always `200 OK`: a degraded node still
/// serves sessions (from the last known revocations), so no probe should restart it.
/// `GET /metrics`: the Prometheus text format, when built with `--features metrics`.
pub(crate) fn routes(health: Health) -> Router {
    let router = Router::new().route(
        "/health",
        get(move || {
            let body = health.report().to_json();
            ready(([(header::CONTENT_TYPE, "application/json")], body))
        }),
    );
    #[cfg(feature = "metrics")]
    let router = router.route("/metrics", get(|| ready(metrics_text())));
    router
}

/// The recorder's text, from the Prometheus recorder installed at the first call.
#[cfg(feature = "metrics")]
fn metrics_text() -> axum::response::Response {
    match prometheus() {
        Some(handle) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "another metrics recorder is installed\n",
        )
            .into_response(),
    }
}

/// How often [`run_prometheus_upkeep`] drains the recorder's histogram samples. A sample
/// waiting for it takes 16 bytes (the value and its time), one per token signed: under
/// `scripts/soak.sh` (about 27 000 re-signing requests a second), the resident memory of
/// the loaded node swung over 1.3 MB with the exporter's default of 5 s
/// (`PrometheusBuilder::upkeep_timeout`), over 0.2 MB with 1 s. Draining costs the same
/// either way, per sample.
#[cfg(feature = "metrics")]
const PROMETHEUS_UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Installs the Prometheus recorder (see [`prometheus`]) and runs its upkeep on the current
/// tokio runtime for as long as the process does. The recorder keeps every histogram
/// sample (the token sizes, one per token signed) until something drains them into the
/// buckets: a scrape of `/metrics` does, and so does `run_upkeep`. `install_recorder`
/// spawns no upkeep (only the exporter's `build`/`install` do, with its HTTP listener or
/// push gateway, which the demo does not use), so without this task a node that is never
/// scraped grows with every token it signs. Draining changes nothing in `/metrics`.
#[cfg(feature = "metrics")]
pub(crate) fn run_prometheus_upkeep() {
    let Some(handle) = prometheus() else {
        return;
    };
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PROMETHEUS_UPKEEP_EVERY);
        // A late tick (a busy machine) runs once, not in a burst.
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            handle.run_upkeep();
        }
    });
}

/// Installs the Prometheus recorder as the process's recorder, once. Called before the
/// session layer serves its first request (the layer binds its metrics then). `main` also
/// runs its upkeep ([`run_prometheus_upkeep`]); tests, which scrape, do not need it.
#[cfg(feature = "metrics")]
pub(crate) fn prometheus() -> Option<&'static metrics_exporter_prometheus::PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(
                        "stateless_session_token_size_bytes".into(),
                    ),
                    &[512.0, 1024.0, 2048.0, 3072.0, 3584.0, 4096.0],
                )
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// Logs each request and response with its headers, the ones carrying session tokens
/// (`sensitive`) marked so they print as `Sensitive`.
pub(crate) fn request_logging<S>(router: Router<S>, sensitive: Vec<header::HeaderName>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.layer(
        ServiceBuilder::new()
            .layer(SetSensitiveRequestHeadersLayer::new(sensitive.clone()))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(DefaultMakeSpan::new().include_headers(true))
                    .on_response(
                        DefaultOnResponse::new()
                            .level(Level::INFO)
                            .include_headers(true),
                    ),
            )
            .layer(SetSensitiveResponseHeadersLayer::new(sensitive)),
    )
}
