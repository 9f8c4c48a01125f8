//! `GET /.well-known/jwks.json` in both signing modes (node keys with the `node-keys`
//! feature).

use super::*;

#[tokio::test]
async fn with_hs256_the_jwks_is_empty_and_never_holds_the_secret() {
    let app = test_app();
    let response = send(&app, get("/.well-known/jwks.json", None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert!(response.headers().contains_key(header::ETAG));
    assert_eq!(body_text(response).await, r#"{"keys":[]}"#);
}

#[tokio::test]
async fn a_client_holding_the_current_set_gets_304() {
    let app = test_app();
    let response = send(&app, get("/.well-known/jwks.json", None)).await;
    let etag = response.headers()[header::ETAG].clone();
    let mut request = get("/.well-known/jwks.json", None);
    request
        .headers_mut()
        .insert(header::IF_NONE_MATCH, etag.clone());
    let response = send(&app, request).await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(response.headers()[header::ETAG], etag);
    assert_eq!(body_text(response).await, "");
}

#[cfg(feature = "node-keys")]
#[tokio::test]
async fn with_a_node_key_the_jwks_serves_it_and_its_sessions_carry_its_kid() {
    let registration = RegistrationKey::generate().expect("rng");
    let node = node_key(&registration, &MemoryKeyRegistry::new());
    assert!(node.is_signing());
    let app = app(demo_layer(node.keys()), Timeouts::default());

    let jwks = body_json(send(&app, get("/.well-known/jwks.json", None)).await).await;
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], node.kid());
    assert_eq!(keys[0]["alg"], "EdDSA");
    assert_eq!(keys[0]["crv"], "Ed25519");
    assert!(keys[0].get("d").is_none(), "no private part");

    let cookie = json_login(&app, "ada").await;
    let token = cookie.split_once('=').expect("pair").1;
    let header = token.split('.').next().expect("header");
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .expect("base64url"),
    )
    .expect("JSON");
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], node.kid());
    let me = send(&app, get("/me", Some(&cookie))).await;
    assert_eq!(me.status(), StatusCode::OK);
}

#[cfg(feature = "node-keys")]
#[tokio::test]
async fn the_page_says_which_node_signed_the_token() {
    let registration = RegistrationKey::generate().expect("rng");
    let registry = MemoryKeyRegistry::new();
    let (node_a, node_b) = (
        node_key(&registration, &registry),
        node_key(&registration, &registry),
    );
    let serve = |node: &NodeKeys, name: &str| {
        app(demo_layer(node.keys()), Timeouts::default())
            .layer(Extension(ThisNode(name.to_owned())))
    };
    let (a, b) = (
        serve(&node_a, "10.0.0.1:3000"),
        serve(&node_b, "10.0.0.2:3000"),
    );
    let cookie = json_login(&a, "ada").await;

    let on_a = body_text(send(&a, get("/", Some(&cookie))).await).await;
    assert!(
        on_a.contains("data-maker=\"ThisNode\"")
            && on_a.contains("Signed by <strong>this node</strong>")
            && on_a.contains("(listening on 10.0.0.1:3000)"),
        "node A signed it:\n{on_a}"
    );
    assert!(on_a.contains(&format!("<code class=\"kid\">{}</code>", node_a.kid())));
    assert!(
        on_a.contains("href=\"/.well-known/jwks.json\""),
        "the JWKS is linked"
    );

    let on_b = body_text(send(&b, get("/", Some(&cookie))).await).await;
    assert!(
        on_b.contains("data-maker=\"OtherNode\"")
            && on_b.contains(
                "Signed by <strong>another node</strong>, not by this one \
                              (listening on 10.0.0.2:3000)"
            ),
        "node B verified A's token with A's public key:\n{on_b}"
    );
    assert!(
        on_b.contains(&format!(
            "<li class=\"node node-other signed\"><span class=\"badge badge-other\">another \
             node</span> <code title=\"{}\">",
            node_a.kid()
        )),
        "B's list marks A's key as the signer:\n{on_b}"
    );
}
