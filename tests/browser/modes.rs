//! The page in the demo's other key modes, in one browser session: node keys (two nodes
//! sharing one key registry, so the same cookie is read by the node that signed it and by
//! another one) and encrypted sessions (`A256KW`, then `dir`); then, in the same session,
//! the refusals of `refusals.rs`.
//!
//! Browsers keep cookies per host, not per port, so every server here on 127.0.0.1 sees the
//! same `session` cookie: that is how node B gets node A's token, and why the visit logs out
//! before it moves on to a server with other keys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fantoccini::Locator;
use serde_json::Value;
use tower_stateless_session::keys::KeyManagement;
use tower_stateless_session::keys::node::NodeKeys;
use tower_stateless_session::keys::registry::{MemoryKeyRegistry, RegistrationKey};
use tower_stateless_session::{Key, KeyRing};

use crate::driver::Browser;
use crate::{axe, demo, refusals, serve, session_cookie, with_browser};

/// The rules that must pass on a page with forms and the JWKS link.
const FORMS_AND_LINKS: &[&str] = &[
    "label",
    "color-contrast",
    "page-has-heading-one",
    "link-name",
];

/// Logs in as `user` on `base` through the form.
async fn log_in(b: &Browser, base: &str, user: &str) {
    b.client.goto(base).await.expect("open the demo");
    assert!(
        b.text("h1").await.contains("Log in"),
        "{base}: a visitor without a session sees the login form"
    );
    b.submit(Some(("#user", user)), "form[action='/login'] button")
        .await;
    assert_eq!(b.text("#who-h").await, format!("Signed in as {user}"));
}

/// Logs out through the form and checks the cookie is gone.
async fn log_out(b: &Browser) {
    b.submit(None, "form[action='/logout'] button").await;
    assert!(
        session_cookie(b).await.is_none(),
        "logout deletes the cookie"
    );
}

/// The names of the legend's parts and their sizes, as the page shows them.
async fn legend(b: &Browser) -> Vec<String> {
    let items = b
        .client
        .find_all(Locator::Css("#token .legend li"))
        .await
        .expect("the legend");
    let mut texts = Vec::new();
    for item in items {
        texts.push(item.text().await.expect("legend text"));
    }
    texts
}

/// The coloured parts of the token as shown (not elided: these tokens are short).
async fn shown_parts(b: &Browser) -> usize {
    b.client
        .find_all(Locator::Css("#token-text .seg"))
        .await
        .map(|parts| parts.len())
        .expect("the token's parts")
}

/// The JSON document the browser shows, once it is one.
async fn jwks_shown(b: &Browser) -> Option<Value> {
    let text = b
        .client
        .execute(
            "const pre = document.querySelector('pre'); \
             return (pre || document.body || {}).textContent || '';",
            vec![],
        )
        .await
        .ok()?;
    serde_json::from_str(text.as_str()?.trim()).ok()
}

/// Two nodes, one registry: the same token reads as "this node" on the node that signed it
/// and as "another node" on the other one; the JWKS link serves both public keys. Then an
/// encrypted session with each key management, and each refusal (`refusals.rs`).
pub async fn key_modes_and_refusals_read_plainly_in_a_real_browser() {
    with_browser(true, |browser| async move {
        let axe = axe::script();
        let b = &*browser;

        // Two nodes of one deployment: each its own Ed25519 key, published in one registry.
        let registration = RegistrationKey::generate().expect("a registration key");
        let registry = MemoryKeyRegistry::new();
        let start = || {
            NodeKeys::builder(registration.clone(), registry.clone())
                .start()
                .expect("a node key")
        };
        let (node_a, node_b) = (start(), start());
        let a = serve(node_a.keys(), demo::Timeouts::default()).await;
        let b_url = serve(node_b.keys(), demo::Timeouts::default()).await;
        let a_addr = a.trim_start_matches("http://");

        log_in(b, &a, "ada").await;
        let token = session_cookie(b)
            .await
            .expect("a session")
            .value()
            .to_owned();
        assert_eq!(shown_parts(b).await, 3, "a signed token has three parts");
        assert_eq!(
            b.attr("#signer", "data-maker").await.as_deref(),
            Some("ThisNode"),
            "node A signed it"
        );
        let signer = b.text("#signer").await;
        for words in [
            "Signed by this node",
            &format!("listening on {a_addr}"),
            node_a.kid(),
            "EdDSA (Ed25519) is a public-key signature",
            "RFC 7638 thumbprint",
        ] {
            assert!(signer.contains(words), "the page says {words:?}: {signer}");
        }
        let marked = b.text("#signer .node.signed").await;
        assert!(
            marked.starts_with("this node") && marked.ends_with("signed your token"),
            "the list marks this node's key as the signer: {marked}"
        );
        let listed = b
            .client
            .find_all(Locator::Css("#signer .nodes .node"))
            .await
            .map(|n| n.len());
        assert_eq!(listed.ok(), Some(2), "both nodes' keys are listed");
        axe::check(b, &axe, "node A's page", FORMS_AND_LINKS).await;
        b.screenshot("07-node-this-node.png").await;

        // The same cookie on node B: B holds only A's public key, from the registry.
        b.client.goto(&b_url).await.expect("open node B");
        assert_eq!(
            b.text("#who-h").await,
            "Signed in as ada",
            "B accepts A's token"
        );
        assert_eq!(
            session_cookie(b).await.map(|c| c.value().to_owned()),
            Some(token.clone()),
            "B did not re-sign it"
        );
        assert_eq!(
            b.attr("#signer", "data-maker").await.as_deref(),
            Some("OtherNode"),
            "another node signed it"
        );
        let signer = b.text("#signer").await;
        for words in [
            "Signed by another node",
            "through the key registry",
            node_a.kid(),
        ] {
            assert!(signer.contains(words), "node B says {words:?}: {signer}");
        }
        let marked = b.find("#signer .node.signed code").await;
        assert_eq!(
            marked.attr("title").await.expect("title").as_deref(),
            Some(node_a.kid()),
            "B marks A's key as the signer"
        );
        let own = b.text("#signer .node-this").await;
        assert!(
            own.contains(&b_url.trim_start_matches("http://").to_owned()),
            "B names itself by its address: {own}"
        );
        axe::check(b, &axe, "node B's page", FORMS_AND_LINKS).await;
        b.screenshot("08-node-another-node.png").await;

        // The JWKS link: both nodes' public keys, no private part.
        b.find("#signer a[href='/.well-known/jwks.json']")
            .await
            .click()
            .await
            .expect("follow the JWKS link");
        b.wait_for("the JWKS document", || async {
            jwks_shown(b).await.is_some()
        })
        .await;
        let jwks = jwks_shown(b).await.expect("the JWKS document");
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .expect("a key set")
            .iter()
            .filter_map(|k| k["kid"].as_str())
            .collect();
        for node in [&node_a, &node_b] {
            assert!(kids.contains(&node.kid()), "{} in {jwks}", node.kid());
        }
        assert!(
            !jwks.to_string().contains("\"d\""),
            "no private key in the JWKS: {jwks}"
        );
        b.client.back().await.expect("back to the page");
        log_out(b).await;

        // Encrypted sessions: five parts, claims readable only by the server.
        for (management, shot) in [
            (KeyManagement::A256KW, "09-encrypted-a256kw.png"),
            (KeyManagement::Dir, "10-encrypted-dir.png"),
        ] {
            let alg = management.as_str();
            let key = Key::generate_encryption("e1", management).expect("an encryption key");
            let base = serve(KeyRing::new(key), demo::Timeouts::default()).await;
            log_in(b, &base, "grace").await;
            let token = session_cookie(b)
                .await
                .expect("a session")
                .value()
                .to_owned();
            let segments: Vec<&str> = token.split('.').collect();
            assert_eq!(segments.len(), 5, "{alg}: a JWE");
            let ciphertext = URL_SAFE_NO_PAD.decode(segments[3]).expect("base64url");
            assert!(
                !ciphertext.windows(5).any(|w| w == b"grace"),
                "{alg}: the name is not readable in the ciphertext"
            );
            assert_eq!(shown_parts(b).await, 5, "{alg}: five coloured parts");
            let parts = legend(b).await;
            let names = [
                "header",
                "encrypted key",
                "initialization vector",
                "ciphertext",
                "authentication tag",
            ];
            for (text, name) in parts.iter().zip(names) {
                assert!(
                    text.starts_with(name),
                    "{alg}: legend {text:?} names {name}"
                );
            }
            assert_eq!(parts.len(), 5, "{alg}: {parts:?}");
            assert_eq!(
                parts[1].ends_with("(0 chars)"),
                management == KeyManagement::Dir,
                "{alg}: the encrypted key part is empty exactly with dir: {}",
                parts[1]
            );
            assert_eq!(
                b.attr("#signer", "data-maker").await.as_deref(),
                Some("EncryptionKey")
            );
            let signer = b.text("#signer").await;
            for words in [
                format!("Encrypted by the key e1 with {alg} and A256GCM").as_str(),
                "The claims are readable only by the server.",
                "decrypted them for you, their owner",
                "A256GCM (AES-256 in Galois/Counter Mode)",
                if management == KeyManagement::Dir {
                    "dir (direct encryption)"
                } else {
                    "A256KW (AES key wrap with a 256-bit key)"
                },
            ] {
                assert!(
                    signer.contains(words),
                    "{alg}: the page says {words:?}: {signer}"
                );
            }
            let claims = b.text("#token table.claims:last-of-type").await;
            assert!(
                claims.contains("as the server decrypted them") && claims.contains("\"grace\""),
                "{alg}: the server's claims: {claims}"
            );
            axe::check(b, &axe, &format!("the {alg} page"), FORMS_AND_LINKS).await;
            b.screenshot(shot).await;
            log_out(b).await;
        }

        // In the same browser: each way a cookie is refused.
        refusals::each_refusal_reads_as_a_plain_message(b, &axe).await;
    })
    .await;
}
