//! The session token taken apart for the page: its segments in colour, the decoded header
//! and claims, and which key and algorithm signed it.
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

/// The segments in their colours, joined by dots; with `elide`, long ones by their ends.
fn coloured(segments: &[&str], elide: bool) -> String {
    let mut html = String::new();
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            html.push_str("<span class=\"dot\">.</span>");
        }
        let class = i.min(4);
        // base64url is ASCII, so byte offsets are character offsets.
        if elide && segment.len() > ELIDE_OVER && segment.is_ascii() {
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

/// In words, what an `alg` (and, for JWE, `enc`) means for who can sign or read the token.
fn describe_algorithm(alg: &str, enc: Option<&str>) -> String {
    let what = match alg {
        "HS256" => "HMAC with SHA-256: the servers share one secret; whoever holds it can sign \
                    and verify"
            .to_owned(),
        "EdDSA" | "Ed25519" => "an Ed25519 signature: only the node holding the private key \
                                can sign; anyone with its public key (the JWKS) can verify"
            .to_owned(),
        "dir" | "A256KW" | "A128KW" | "A192KW" => format!(
            "encrypted ({alg}{}): only servers holding the key can read or change it",
            enc.map(|e| format!(", {e}")).unwrap_or_default()
        ),
        other => format!("algorithm {other}"),
    };
    format!(
        "<strong>{}</strong>: {}",
        escape_html(alg),
        escape_html(&what)
    )
}

/// What a header member means.
fn header_meaning(name: &str) -> &'static str {
    match name {
        "alg" => "algorithm; fixed by the key, never chosen by the token",
        "typ" => "token type: a session token, never mistaken for another JWT",
        "kid" => "key id: which key verifies it (with per-node keys, the node's key thumbprint)",
        "enc" => "content encryption",
        _ => "",
    }
}

/// What a claim means, and whether it is a time to show as a date.
fn claim_meaning(name: &str) -> (&'static str, bool) {
    match name {
        "sid" => ("session id: random, 128 bits, new at every login", false),
        "iat" => ("issued at: when this token was signed", true),
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
    const FIRST: [&str; 7] = ["sid", "iat", "exp", "auth_time", "ver", "rem", "sub"];
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

/// The token card. `server_claims` gives the claims as the server holds them, for tokens
/// whose claims are not readable from outside (JWE).
pub(crate) fn render(token: &str, server_claims: impl FnOnce() -> Map<String, Value>) -> String {
    let segments: Vec<&str> = token.split('.').collect();
    let names = segment_names(segments.len());
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
    html.push_str("<ul class=\"legend\">\n");
    for (i, (name, segment)) in names.iter().zip(&segments).enumerate() {
        let _ = writeln!(
            html,
            "<li><span class=\"swatch seg-{}\"></span><span class=\"seg seg-{0}\">{}</span> \
             <span class=\"muted\">{} chars</span></li>",
            i.min(4),
            escape_html(name),
            segment.len()
        );
    }
    html.push_str("</ul>\n");

    let header = segments.first().and_then(|s| decode_json(s));
    if let Some((_, header)) = &header {
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("?");
        let enc = header.get("enc").and_then(Value::as_str);
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .unwrap_or("(none)");
        let _ = writeln!(
            html,
            "<p class=\"signer\">{} by the key <code class=\"kid\">{}</code> with {}.</p>",
            if segments.len() == 5 {
                "Encrypted"
            } else {
                "Signed"
            },
            escape_html(kid),
            describe_algorithm(alg, enc)
        );
        let mut rows = String::new();
        for (name, value) in header {
            let _ = writeln!(
                rows,
                "<tr><th scope=\"row\"><code>{}</code></th><td><code>{}</code></td><td>{}</td></tr>",
                escape_html(name),
                escape_html(&short_value(value)),
                header_meaning(name)
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
        "Claims (encrypted in the token; as the server decrypted them)"
    };
    html.push_str(&table(caption, &rows));
    html.push_str(if readable {
        "<p class=\"muted\">Signed, not encrypted: anyone holding the cookie can read these \
         claims, but changing a single character breaks the signature.</p>\n"
    } else {
        "<p class=\"muted\">Encrypted: only servers holding the key can read these claims.</p>\n"
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
        let html = render(&token, || panic!("a JWS's claims come from the token"));
        for (i, name) in ["header", "claims", "signature"].iter().enumerate() {
            assert!(
                html.contains(&format!("<span class=\"seg seg-{i}\">{name}</span>")),
                "legend names part {i} {name}:\n{html}"
            );
        }
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
            "{}.a.b.c.d",
            b64(r#"{"alg":"dir","enc":"A256GCM","kid":"e1"}"#)
        );
        let html = render(&token, || {
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
        assert!(html.contains("encrypted (dir, A256GCM)"), "{html}");
        assert!(html.contains("Encrypted by the key <code class=\"kid\">e1</code>"));
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
        let html = render(&token, Map::new);
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
