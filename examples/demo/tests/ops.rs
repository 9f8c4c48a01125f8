//! `/health` and `/metrics`.

use super::*;

#[tokio::test]
async fn health_is_ok_with_the_in_process_revocation_set() {
    let app = test_app();
    let response = send(&app, get("/health", None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/json",
        "a JSON body"
    );
    let report = body_json(response).await;
    assert_eq!(report["status"], "ok", "{report}");
    assert_eq!(report["checks"]["revocation"]["status"], "ok", "{report}");
    assert!(report["checks"]["revocation"]["since"].is_u64(), "{report}");
}

#[tokio::test]
async fn health_and_metrics_need_no_session() {
    let app = test_app();
    // A refused token does not stand between a probe and its answer.
    let response = send(&app, get("/health", Some("session=garbage"))).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[cfg(feature = "metrics")]
#[tokio::test]
async fn metrics_show_the_login_in_prometheus_text() {
    let app = test_app();
    json_login(&app, "ada").await;
    let response = send(&app, get("/metrics", None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = body_text(response).await;
    // Other tests share the process's recorder: look for the series, not exact counts.
    for series in [
        "# TYPE stateless_session_tokens_issued_total counter",
        r#"stateless_session_tokens_issued_total{reason="login"}"#,
        "stateless_session_token_budget_bytes 4096",
        "stateless_session_token_size_bytes_bucket{le=\"512\"}",
    ] {
        assert!(text.contains(series), "no {series:?} in /metrics:\n{text}");
    }
}

/// With `SESSION_SIGNING=node`, `/health` holds the node key's and the registry's checks
/// (the layer gathers them from its ring), and `/metrics` their gauges.
#[cfg(feature = "node-keys")]
#[tokio::test]
async fn in_node_mode_health_reports_the_node_key_and_the_registry() {
    // The recorder before the node key, as `main` does, so its first state is recorded.
    #[cfg(feature = "metrics")]
    assert!(crate::ops::prometheus().is_some());
    let registration = RegistrationKey::generate().expect("rng");
    let node = node_key(&registration, &MemoryKeyRegistry::new());
    let app = app(demo_layer(node.keys()), Timeouts::default());
    let report = body_json(send(&app, get("/health", None)).await).await;
    assert_eq!(report["status"], "ok", "{report}");
    for check in ["revocation", "node_key", "key_registry"] {
        assert_eq!(report["checks"][check]["status"], "ok", "{check}: {report}");
    }

    #[cfg(feature = "metrics")]
    {
        let text = body_text(send(&app, get("/metrics", None)).await).await;
        for series in [
            "# TYPE stateless_session_node_key_signing gauge",
            "# TYPE stateless_session_key_registry_keys gauge",
            "stateless_session_key_registry_max_keys 64",
        ] {
            assert!(text.contains(series), "no {series:?} in /metrics:\n{text}");
        }
    }
}
