//! Which key made the session token, in plain words: its key id and algorithm; with node
//! keys, which node signed it (this one, or another one whose public key reached this node
//! through the key registry); for an encrypted token, the key management (`A256KW` or
//! `dir`) and the content encryption (`enc`).
//!
//! It reads the token's header, which the layer has already verified or decrypted, and this
//! node's own key ring. The readable name of this node ("listening on ...") is what the
//! process knows about itself: no token carries it, so no token can claim it.

use std::fmt::Write as _;

use serde_json::{Map, Value};
use tower_stateless_session::KeyRing;
use tower_stateless_session::keys::Algorithm;

use super::page::escape_html;

/// Where the demo serves its public keys.
pub(crate) const JWKS_PATH: &str = "/.well-known/jwks.json";

/// At most this many node keys are listed; the others are counted.
const MAX_LISTED: usize = 6;

/// How many characters of a thumbprint the node list shows.
const SHORT_KID: usize = 12;

/// This process in words, for example `127.0.0.1:3000` (its listening address). The app
/// gets it as a request extension; it is shown only, never signed into a token.
#[derive(Debug, Clone)]
pub(crate) struct ThisNode(pub(crate) String);

/// One key of this node's ring, as the page describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KnownKey {
    pub(crate) kid: String,
    pub(crate) algorithm: Algorithm,
    /// Whether this process holds the key's secret or private half (so it can sign with it).
    pub(crate) private_here: bool,
}

/// What this node knows of the keys: its ring and its own name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Keys {
    /// The ring's keys, the issuing key first.
    pub(crate) ring: Vec<KnownKey>,
    /// This process in words, when the app was given it.
    pub(crate) this_node: Option<String>,
}

impl Keys {
    /// The keys of `ring`, and this node's name.
    pub(crate) fn new(ring: &KeyRing, this_node: Option<String>) -> Self {
        Keys {
            ring: ring
                .iter()
                .map(|key| KnownKey {
                    kid: key.kid().to_owned(),
                    algorithm: key.algorithm(),
                    private_here: key.can_sign(),
                })
                .collect(),
            this_node,
        }
    }

    fn get(&self, kid: &str) -> Option<&KnownKey> {
        self.ring.iter().find(|k| k.kid == kid)
    }

    /// Ed25519 keys, this node's own first.
    fn node_keys(&self) -> Vec<&KnownKey> {
        let mut keys: Vec<&KnownKey> = self
            .ring
            .iter()
            .filter(|k| k.algorithm == Algorithm::EdDSA)
            .collect();
        keys.sort_by_key(|k| !k.private_here);
        keys
    }
}

/// Who made a token, as far as this node can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Maker {
    /// An HS256 secret: any server holding it.
    SharedSecret,
    /// This process's own node key.
    ThisNode,
    /// Another node's key: only its public half is here, from the registry.
    OtherNode,
    /// An encryption key (`A256KW` or `dir`).
    EncryptionKey,
    /// A key id this node does not hold (any more).
    Unknown,
}

fn maker(known: Option<&KnownKey>) -> Maker {
    match known {
        None => Maker::Unknown,
        Some(key) if key.algorithm.encrypts() => Maker::EncryptionKey,
        Some(key) => match key.algorithm {
            Algorithm::HS256 => Maker::SharedSecret,
            Algorithm::EdDSA if key.private_here => Maker::ThisNode,
            Algorithm::EdDSA => Maker::OtherNode,
            _ => Maker::Unknown,
        },
    }
}

/// The first characters of a key id, for the list of nodes.
fn short(kid: &str) -> String {
    if kid.chars().count() <= SHORT_KID {
        return escape_html(kid);
    }
    let head: String = kid.chars().take(SHORT_KID).collect();
    format!("{}\u{2026}", escape_html(&head))
}

/// A part of the token named in its colour, as in the legend.
fn part(index: usize, name: &str) -> String {
    format!("<span class=\"seg seg-{index}\">{name}</span>")
}

/// The "who made it" box for a token whose decoded header is `header`.
pub(crate) fn render(header: &Map<String, Value>, keys: &Keys) -> String {
    let text = |name: &str| header.get(name).and_then(Value::as_str).unwrap_or("");
    let (alg, enc, kid) = (text("alg"), text("enc"), text("kid"));
    let who = maker(keys.get(kid));
    let kid_html = format!("<code class=\"kid\">{}</code>", escape_html(kid));
    let alg_html = format!("<strong>{}</strong>", escape_html(alg));
    let this_node = keys
        .this_node
        .as_deref()
        .map(|name| format!(" (listening on {})", escape_html(name)))
        .unwrap_or_default();

    let mut html = format!("<div class=\"signer\" id=\"signer\" data-maker=\"{who:?}\">\n");
    let (head, facts): (String, Vec<String>) = match who {
        Maker::SharedSecret => (
            format!("Signed by the key {kid_html} with {alg_html}, a secret the servers share."),
            vec![
                "<strong>HS256</strong> is HMAC with SHA-256: every server holding the shared \
                 secret (<code>SESSION_KEYS</code>) can both sign and verify, so the secret is \
                 never shown to anyone."
                    .to_owned(),
                format!(
                    "The key id {kid_html} is a name from the configuration; it tells the \
                     server which of its secrets checks the signature."
                ),
            ],
        ),
        Maker::ThisNode | Maker::OtherNode => (
            if who == Maker::ThisNode {
                format!(
                    "Signed by <strong>this node</strong>, the one that served this page\
                     {this_node}, with its own key. It published the public half in the key \
                     registry, so the other nodes accept this token too."
                )
            } else {
                format!(
                    "Signed by <strong>another node</strong>, not by this one{this_node}. This \
                     node checked the signature with that node's public key, which reached it \
                     through the key registry; the private key never leaves the node that made \
                     it."
                )
            },
            vec![
                format!(
                    "{alg_html} (Ed25519) is a public-key signature: only the node holding the \
                     private key can sign, and anyone holding the public key can verify, but \
                     not sign."
                ),
                format!(
                    "The key id {kid_html} is the key's RFC 7638 thumbprint: a SHA-256 hash of \
                     the public key, so it names exactly one key and anyone can recompute it."
                ),
            ],
        ),
        Maker::EncryptionKey => {
            let management = if alg == "dir" {
                format!(
                    "{alg_html} (direct encryption): the server's 256-bit key encrypts the \
                     claims itself, so the {} part is empty.",
                    part(1, "encrypted key")
                )
            } else {
                format!(
                    "{alg_html} (AES key wrap with a 256-bit key): every token gets a fresh \
                     random content key; the server's key wraps it, and the wrapped key travels \
                     as the {} part.",
                    part(1, "encrypted key")
                )
            };
            (
                format!(
                    "Encrypted by the key {kid_html} with {alg_html} and <strong>{}</strong>: \
                     only servers holding that key can read or change it.",
                    escape_html(enc)
                ),
                vec![
                    management,
                    format!(
                        "<strong>{}</strong> (AES-256 in Galois/Counter Mode) is the content \
                         encryption: it turns the claims into the {} using a random {}, and the \
                         {} proves that nobody changed the ciphertext or the header.",
                        escape_html(enc),
                        part(3, "ciphertext"),
                        part(2, "initialization vector"),
                        part(4, "authentication tag"),
                    ),
                    format!(
                        "The key id {kid_html} is a name from the configuration \
                         (<code>SESSION_ENCRYPTION_KEYS</code>); it tells the server which of \
                         its keys decrypts the token."
                    ),
                ],
            )
        }
        Maker::Unknown => (
            format!("Made by the key {kid_html} with {alg_html}, which this node no longer holds."),
            Vec::new(),
        ),
    };
    let _ = writeln!(html, "<p class=\"signer-head\">{head}</p>");
    if who == Maker::EncryptionKey {
        html.push_str(
            "<p class=\"sealed\"><strong>The claims are readable only by the server.</strong> \
             Your browser holds ciphertext it cannot decrypt; the claims table below shows \
             them because the server decrypted them for you, their owner.</p>\n",
        );
    }
    if !facts.is_empty() {
        html.push_str("<ul class=\"facts\">\n");
        for fact in facts {
            let _ = writeln!(html, "<li>{fact}</li>");
        }
        html.push_str("</ul>\n");
    }
    html.push_str(&nodes_html(keys, kid));
    let jwks = match who {
        Maker::ThisNode | Maker::OtherNode => format!(
            "Every node publishes the public keys it accepts in its \
             <a href=\"{JWKS_PATH}\">JWKS document</a>, so other services can verify sessions \
             without holding any secret."
        ),
        Maker::EncryptionKey => format!(
            "The <a href=\"{JWKS_PATH}\">JWKS document</a> (the public keys) holds no encryption \
             key: they are secrets, like HS256 keys."
        ),
        Maker::SharedSecret | Maker::Unknown => format!(
            "The <a href=\"{JWKS_PATH}\">JWKS document</a> (the public keys) lists no HS256 \
             key: a shared secret is never published."
        ),
    };
    let _ = writeln!(html, "<p class=\"jwks small\">{jwks}</p>\n</div>");
    html
}

/// The node keys this node accepts, the one that signed the token (`kid`) marked; empty
/// without node keys.
fn nodes_html(keys: &Keys, kid: &str) -> String {
    let nodes = keys.node_keys();
    if nodes.is_empty() {
        return String::new();
    }
    let mut html = String::from(
        "<p class=\"nodes-h\" id=\"nodes-h\">Node keys this node accepts</p>\n\
         <ul class=\"nodes\" aria-labelledby=\"nodes-h\">\n",
    );
    for key in nodes.iter().take(MAX_LISTED) {
        let (class, badge, whose) = if key.private_here {
            let name = keys
                .this_node
                .as_deref()
                .map(|name| format!("listening on {}", escape_html(name)))
                .unwrap_or_else(|| "this process".to_owned());
            ("this", "this node", name)
        } else {
            (
                "other",
                "another node",
                "public key from the registry".to_owned(),
            )
        };
        let signed = key.kid == kid;
        let _ = writeln!(
            html,
            "<li class=\"node node-{class}{}\"><span class=\"badge badge-{class}\">{badge}</span> \
             <code title=\"{}\">{}</code> <span class=\"muted\">{whose}</span>{}</li>",
            if signed { " signed" } else { "" },
            escape_html(&key.kid),
            short(&key.kid),
            if signed {
                " <strong class=\"signed-mark\">signed your token</strong>"
            } else {
                ""
            },
        );
    }
    if nodes.len() > MAX_LISTED {
        let _ = writeln!(
            html,
            "<li class=\"muted\">and {} more</li>",
            nodes.len() - MAX_LISTED
        );
    }
    html.push_str("</ul>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(alg: &str, enc: Option<&str>, kid: &str) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("alg".into(), Value::from(alg));
        if let Some(enc) = enc {
            map.insert("enc".into(), Value::from(enc));
        }
        map.insert("kid".into(), Value::from(kid));
        map
    }

    fn key(kid: &str, algorithm: Algorithm, private_here: bool) -> KnownKey {
        KnownKey {
            kid: kid.to_owned(),
            algorithm,
            private_here,
        }
    }

    fn node_keys() -> Keys {
        Keys {
            ring: vec![
                key("OwnThumbprintOfThisNode", Algorithm::EdDSA, true),
                key("PeerThumbprintOfAnother", Algorithm::EdDSA, false),
            ],
            this_node: Some("127.0.0.1:3000".to_owned()),
        }
    }

    #[test]
    fn a_shared_secret_is_named_and_never_published() {
        let keys = Keys {
            ring: vec![key("k1", Algorithm::HS256, true)],
            this_node: None,
        };
        let html = render(&header("HS256", None, "k1"), &keys);
        assert!(html.contains(
            "Signed by the key <code class=\"kid\">k1</code> with <strong>HS256</strong>"
        ));
        assert!(html.contains("HMAC with SHA-256"), "{html}");
        assert!(html.contains("href=\"/.well-known/jwks.json\""), "{html}");
        assert!(!html.contains("nodes-h"), "no node list without node keys");
    }

    #[test]
    fn this_nodes_key_and_another_nodes_key_read_differently() {
        let keys = node_keys();
        let own = render(&header("EdDSA", None, "OwnThumbprintOfThisNode"), &keys);
        assert!(own.contains("data-maker=\"ThisNode\""), "{own}");
        assert!(
            own.contains("Signed by <strong>this node</strong>")
                && own.contains("(listening on 127.0.0.1:3000)"),
            "{own}"
        );
        assert!(own.contains("RFC 7638 thumbprint"), "{own}");
        assert!(own.contains("public-key signature"), "{own}");
        assert!(own.contains("href=\"/.well-known/jwks.json\""), "{own}");
        assert_eq!(own.matches("<li class=\"node ").count(), 2, "{own}");
        assert!(
            own.contains("node-this signed\"><span class=\"badge badge-this\">this node</span>"),
            "the own key is marked as the signer: {own}"
        );

        let other = render(&header("EdDSA", None, "PeerThumbprintOfAnother"), &keys);
        assert!(other.contains("data-maker=\"OtherNode\""), "{other}");
        assert!(
            other.contains("Signed by <strong>another node</strong>")
                && other.contains("through the key registry"),
            "{other}"
        );
        assert!(
            other.contains("node-other signed\"><span class=\"badge badge-other\">another node"),
            "the peer's key is marked as the signer: {other}"
        );
        assert!(other.contains("<code title=\"PeerThumbprintOfAnother\">PeerThumbpri\u{2026}"));
    }

    #[test]
    fn encrypted_tokens_explain_the_key_management_and_the_content_encryption() {
        for (alg, algorithm, words) in [
            ("A256KW", Algorithm::A256KW, "fresh random content key"),
            ("dir", Algorithm::Dir, "part is empty"),
        ] {
            let keys = Keys {
                ring: vec![key("e1", algorithm, true)],
                this_node: None,
            };
            let html = render(&header(alg, Some("A256GCM"), "e1"), &keys);
            assert!(
                html.contains(&format!(
                    "Encrypted by the key <code class=\"kid\">e1</code> with <strong>{alg}\
                     </strong> and <strong>A256GCM</strong>"
                )),
                "{html}"
            );
            assert!(html.contains(words), "{alg}: {html}");
            assert!(html.contains("Galois/Counter Mode"), "{html}");
            assert!(
                html.contains("The claims are readable only by the server."),
                "{html}"
            );
        }
    }

    #[test]
    fn header_values_are_escaped_and_long_lists_are_cut() {
        let mut keys = node_keys();
        for i in 0..10 {
            keys.ring
                .push(key(&format!("peer-{i}"), Algorithm::EdDSA, false));
        }
        let html = render(&header("<b>", None, "<i>"), &keys);
        assert!(!html.contains("<b>") && !html.contains("<i>"), "{html}");
        assert!(html.contains("data-maker=\"Unknown\""), "{html}");
        assert!(html.contains("and 6 more"), "{html}");
    }
}
