//! The session token taken apart for the page: its segments in colour, each named with what
//! it is for, the decoded header and claims, and (through `signer_view`) which key made it.
//!
//! Nothing here assumes three segments: a compact JWS has three (header, claims,
//! signature), a compact JWE five (header, encrypted key, IV, ciphertext, tag). Only the
//! first segment of either is readable JSON; a JWE's claims are shown as the server
//! decrypted them.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value};
use tower_stateless_session::SessionInfo;

use super::page::{escape_html, group_digits, time_html};
use super::signer_view::{self, Keys};

/// Longest claim value shown in full, in characters; longer ones are cut with a count.
const MAX_VALUE_CHARS: usize = 100;

/// A segment longer than this is shown by its ends, so all parts stay in view; the whole
/// token is one click away.
const ELIDE_OVER: usize = 420;
const ELIDE_HEAD: usize = 240;
const ELIDE_TAIL: usize = 60;

/// What each segment is, by the number of segments.
fn segment_names(count: usize) -> Vec<String> {
    let known: &[&str] = match count {
        3 => &["header", "claims", "signature"],
        5 => &[
            "header",
            "encrypted key",
            "initialization vector",
            "ciphertext",
            "authentication tag",
        ],
        _ => &[],
    };
    (0..count)
        .map(|i| {
            known
                .get(i)
                .map_or_else(|| format!("part {}", i + 1), |s| (*s).to_owned())
        })
        .collect()
}

/// What segment `index` of a token of `count` segments is for; `empty` when it is empty.
fn segment_meaning(count: usize, index: usize, empty: bool) -> &'static str {
    match (count, index) {
        (3, 0) => "readable: the algorithm and the key id",
        (3, 1) => "readable by anyone holding the cookie (base64url, not encrypted)",
        (3, 2) => "proves the server wrote the two parts before it",
        (5, 0) => "readable: the algorithms and the key id",
        (5, 1) if empty => "empty: with dir the server's key is the content key",
        (5, 1) => "a fresh content key, wrapped with the server's key",
        (5, 2) => "random, new for every token",
        (5, 3) => "the claims, encrypted",
        (5, 4) => "proves nobody changed the ciphertext or the header",
        _ => "",
    }
}

/// The segments in their colours, joined by dots; with `elide`, long ones by their ends.
fn coloured(segments: &[&str], elide: bool) -> String {
    let mut html = String::new();
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            html.push_str("<span class=\"dot\">.</span>");
        }
        let class = i.min(4);
        // base64url is ASCII, so byte offsets are character offsets.
        if segment.is_empty() {
            // Marked by the stylesheet, so the text stays exactly the token.
            let _ = write!(html, "<span class=\"seg seg-{class} seg-empty\"></span>");
        } else if elide && segment.len() > ELIDE_OVER && segment.is_ascii() {
            let _ = write!(
                html,
                "<span class=\"seg seg-{class}\">{}</span><span class=\"elided\">\u{2026} {} \
                 more characters \u{2026}</span><span class=\"seg seg-{class}\">{}</span>",
                escape_html(&segment[..ELIDE_HEAD]),
                group_digits(segment.len() - ELIDE_HEAD - ELIDE_TAIL),
                escape_html(&segment[segment.len() - ELIDE_TAIL..]),
            );
        } else {
            let _ = write!(
                html,
                "<span class=\"seg seg-{class}\">{}</span>",
                escape_html(segment)
            );
        }
    }
    html
}

/// A segment decoded as a JSON object, if it is one.
fn decode_json(segment: &str) -> Option<(String, Map<String, Value>)> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let map = serde_json::from_str::<Map<String, Value>>(&text).ok()?;
    Some((text, map))
}

/// What a header member means, in a signed or an `encrypted` token.
fn header_meaning(name: &str, encrypted: bool) -> &'static str {
    match (name, encrypted) {
        ("alg", false) => "algorithm; fixed by the key, never chosen by the token",
        ("alg", true) => "key management: how the content key is protected; fixed by the key",
        ("enc", _) => "content encryption: how the claims are encrypted",
        ("typ", _) => "token type: a session token, never mistaken for another JWT",
        ("kid", false) => "key id: which key verifies it (with node keys, the key's thumbprint)",
        ("kid", true) => "key id: which server key decrypts it",
        ("pur", _) => "purpose: the cookie it was made for; under another name it is refused",
        _ => "",
    }
}

/// What a claim means, and whether it is a time to show as a date.
fn claim_meaning(name: &str) -> (&'static str, bool) {
    match name {
        "sid" => ("session id: random, 128 bits, new at every login", false),
        "iat" => ("issued at: when the server made this token", true),
        "exp" => ("expires: what any JWT library checks", true),
        "auth_time" => (
            "when you logged in; the absolute deadline counts from it",
            true,
        ),
        "ver" => ("version of the session data's format", false),
        "rem" => (
            "remember me: the cookie outlives the browser session",
            false,
        ),
        "cnf" => (
            "confirmation: the thumbprint (jkt) of the key your browser holds and cannot \
             export, and the protocol that proves it (pop); without a fresh proof of that key \
             the token is never extended, so a copy dies at exp",
            false,
        ),
        "sub" => ("subject: your user name (the app's data)", false),
        "notes" => ("your notes (the app's data)", false),
        _ => ("the app's data", false),
    }
}

/// A JSON value, cut to [`MAX_VALUE_CHARS`] with a count of what was left out.
fn short_value(value: &Value) -> String {
    let text = value.to_string();
    let total = text.chars().count();
    if total <= MAX_VALUE_CHARS {
        return text;
    }
    let cut: String = text.chars().take(MAX_VALUE_CHARS).collect();
    format!("{cut}\u{2026} (+{} characters)", total - MAX_VALUE_CHARS)
}

/// The registered claims first, in the token's order, then `sub`, then the rest.
fn ordered(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    const FIRST: [&str; 8] = ["sid", "iat", "exp", "auth_time", "ver", "rem", "cnf", "sub"];
    let mut rows: Vec<_> = FIRST
        .iter()
        .filter_map(|name| map.get_key_value(*name))
        .collect();
    rows.extend(map.iter().filter(|(k, _)| !FIRST.contains(&k.as_str())));
    rows
}

fn table(caption: &str, rows: &str) -> String {
    format!(
        "<table class=\"claims\">\n<caption>{caption}</caption>\n\
         <thead><tr><th scope=\"col\">name</th><th scope=\"col\">value</th>\
         <th scope=\"col\">meaning</th></tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n"
    )
}

/// The claims as the server holds them: the registered ones from `info`, then the
/// application's `data`. Shown for tokens whose claims cannot be read from outside.
pub(crate) fn server_claims(info: &SessionInfo, data: &impl Serialize) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("sid".into(), Value::from(info.sid.to_string()));
    map.insert("iat".into(), Value::from(info.issued_at));
    map.insert("exp".into(), Value::from(info.expires_at));
    map.insert("auth_time".into(), Value::from(info.auth_time));
    if info.remember {
        map.insert("rem".into(), Value::from(true));
    }
    if let Ok(Value::Object(fields)) = serde_json::to_value(data) {
        map.extend(fields);
    }
    map
}

/// The token card. `keys` is what this node knows of its keys (for who made the token);
/// `server_claims` gives the claims as the server holds them, for tokens whose claims are
/// not readable from outside (JWE).
pub(crate) fn render(
    token: &str,
    keys: &Keys,
    server_claims: impl FnOnce() -> Map<String, Value>,
) -> String {
    let segments: Vec<&str> = token.split('.').collect();
    let names = segment_names(segments.len());
    let encrypted = segments.len() == 5;
    let mut html = String::from(
        "<section class=\"card\" id=\"token\" aria-labelledby=\"token-h\">\n\
         <h2 id=\"token-h\">The token, taken apart</h2>\n\
         <p class=\"callout\">Your cookie is <strong>HttpOnly</strong>: scripts on this page \
         cannot read it. The server printed it here for you, its owner, so you can look \
         inside. That is a demo choice: a real application should not, since a script \
         injected into the page could then read it after all.</p>\n",
    );
    html.push_str(
        "<p class=\"stale\" id=\"token-stale\" hidden>The server has re-signed your token since \
         this page was loaded; reload to take the new one apart.</p>\n",
    );
    let elided = segments.iter().any(|s| s.len() > ELIDE_OVER);
    let _ = writeln!(
        html,
        "<div class=\"token\" id=\"token-text\">{}</div>",
        coloured(&segments, true)
    );
    if elided {
        // Scrollable, so focusable and named for keyboard and screen reader users.
        let _ = writeln!(
            html,
            "<details class=\"whole\"><summary>Show the whole token ({} characters)</summary>\n\
             <div class=\"token token-full\" id=\"token-full\" role=\"region\" tabindex=\"0\" \
             aria-label=\"the whole token\">{}</div></details>",
            group_digits(token.len()),
            coloured(&segments, false)
        );
    }
    let _ = writeln!(
        html,
        "<p class=\"parts-h\" id=\"parts-h\">{} parts, joined by dots:</p>\n\
         <ul class=\"legend\" aria-labelledby=\"parts-h\">",
        match segments.len() {
            3 => "Three".to_owned(),
            5 => "Five".to_owned(),
            n => n.to_string(),
        }
    );
    for (i, (name, segment)) in names.iter().zip(&segments).enumerate() {
        let _ = writeln!(
            html,
            "<li><span class=\"swatch seg-{}\"></span><span class=\"seg seg-{0}\">{}</span> \
             \u{2014} {} <span class=\"muted\">({} chars)</span></li>",
            i.min(4),
            escape_html(name),
            segment_meaning(segments.len(), i, segment.is_empty()),
            segment.len()
        );
    }
    html.push_str("</ul>\n");

    let header = segments.first().and_then(|s| decode_json(s));
    if let Some((_, header)) = &header {
        html.push_str(&signer_view::render(header, keys));
        let mut rows = String::new();
        for (name, value) in header {
            let _ = writeln!(
                rows,
                "<tr><th scope=\"row\"><code>{}</code></th><td><code>{}</code></td><td>{}</td></tr>",
                escape_html(name),
                escape_html(&short_value(value)),
                header_meaning(name, encrypted)
            );
        }
        html.push_str(&table("Header (decoded from the first part)", &rows));
    }

    let (claims, readable) = if segments.len() == 3 {
        match segments.get(1).and_then(|s| decode_json(s)) {
            Some((_, map)) => (map, true),
            None => (server_claims(), false),
        }
    } else {
        (server_claims(), false)
    };
    let mut rows = String::new();
    for (name, value) in ordered(&claims) {
        let (meaning, is_time) = claim_meaning(name);
        let when = match value.as_u64() {
            Some(t) if is_time => format!("<br>{}", time_html(t)),
            _ => String::new(),
        };
        let _ = writeln!(
            rows,
            "<tr><th scope=\"row\"><code>{}</code></th><td><code>{}</code>{when}</td><td>{}</td></tr>",
            escape_html(name),
            escape_html(&short_value(value)),
            meaning
        );
    }
    let caption = if readable {
        "Claims (decoded from the second part)"
    } else {
        "Claims (encrypted in the ciphertext; as the server decrypted them for you)"
    };
    html.push_str(&table(caption, &rows));
    html.push_str(if readable {
        "<p class=\"muted\">Signed, not encrypted: anyone holding the cookie can read these \
         claims, but changing a single character breaks the signature.</p>\n"
    } else {
        "<p class=\"muted\">Encrypted: your browser cannot read these claims, and changing a \
         single character of the token makes the server refuse it.</p>\n"
    });
    html.push_str("</section>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        URL_SAFE_NO_PAD.encode(text)
    }

    #[test]
    fn a_jws_shows_three_coloured_parts_and_its_decoded_claims() {
        let token = format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"HS256","kid":"k1","typ":"x"}"#),
            b64(r#"{"sid":"abc","iat":1800000000,"sub":"<ada>"}"#)
        );
        let keys = Keys {
            ring: vec![signer_view::KnownKey {
                kid: "k1".to_owned(),
                algorithm: tower_stateless_session::keys::Algorithm::HS256,
                private_here: true,
            }],
            this_node: None,
        };
        let html = render(&token, &keys, || {
            panic!("a JWS's claims come from the token")
        });
        for (i, name) in ["header", "claims", "signature"].iter().enumerate() {
            assert!(
                html.contains(&format!("<span class=\"seg seg-{i}\">{name}</span>")),
                "legend names part {i} {name}:\n{html}"
            );
        }
        assert!(html.contains("Three parts, joined by dots"), "{html}");
        assert!(
            html.contains("signature</span> \u{2014} proves the server wrote"),
            "each part says what it is for:\n{html}"
        );
        assert_eq!(html.matches("<span class=\"dot\">.</span>").count(), 2);
        assert!(html.contains("<strong>HS256</strong>"), "the algorithm");
        assert!(html.contains("<code class=\"kid\">k1</code>"), "the key id");
        assert!(
            html.contains("&quot;&lt;ada&gt;&quot;"),
            "claims are escaped"
        );
        assert!(html.contains("data-epoch=\"1800000000\""), "iat as a date");
        assert!(html.contains("decoded from the second part"));
    }

    #[test]
    fn five_parts_are_named_as_jwe_and_claims_come_from_the_server() {
        let token = format!(
            "{}..b.c.d",
            b64(r#"{"alg":"dir","enc":"A256GCM","kid":"e1"}"#)
        );
        let keys = Keys {
            ring: vec![signer_view::KnownKey {
                kid: "e1".to_owned(),
                algorithm: tower_stateless_session::keys::Algorithm::Dir,
                private_here: true,
            }],
            this_node: None,
        };
        let html = render(&token, &keys, || {
            let mut map = Map::new();
            map.insert("sub".into(), Value::from("ada"));
            map
        });
        for name in [
            "encrypted key",
            "initialization vector",
            "ciphertext",
            "authentication tag",
        ] {
            assert!(html.contains(name), "the legend names the {name}");
        }
        assert!(html.contains("as the server decrypted them"), "{html}");
        assert!(html.contains("Five parts, joined by dots"), "{html}");
        assert!(
            html.contains("empty: with dir the server's key is the content key"),
            "the empty encrypted key of dir is explained:\n{html}"
        );
        assert!(html.contains(
            "Encrypted by the key <code class=\"kid\">e1</code> with <strong>dir</strong> and \
             <strong>A256GCM</strong>"
        ));
        assert!(html.contains("key management: how the content key is protected"));
        assert!(html.contains("&quot;ada&quot;"), "the server's claims");
    }

    #[test]
    fn long_values_are_cut_with_a_count() {
        let value = Value::from("x".repeat(500));
        let shown = short_value(&value);
        assert!(shown.ends_with("(+402 characters)"), "{shown}");
    }

    #[test]
    fn a_long_part_is_shown_by_its_ends_and_whole_on_demand() {
        let claims = "A".repeat(1000);
        let token = format!("{}.{claims}.c2ln", b64(r#"{"alg":"HS256","kid":"k1"}"#));
        let html = render(&token, &Keys::default(), Map::new);
        assert!(
            html.contains("\u{2026} 700 more characters \u{2026}"),
            "the middle of the claims is left out with a count:\n{html}"
        );
        assert!(
            html.contains(&format!("<span class=\"seg seg-1\">{claims}</span>")),
            "the whole token is there too"
        );
        assert!(html.contains("Show the whole token (1,041 characters)"));
    }
}
