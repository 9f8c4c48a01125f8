//! The HTML page at `GET /`: server-rendered, with its own small stylesheet and script
//! (`page.css`, `page.js`) inlined, so it needs nothing from elsewhere and works offline.
//! Without JavaScript everything but the live countdowns and the request button works
//! (plain forms); the script only animates what the server already wrote.

use std::fmt::Write as _;
use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use tower_stateless_session::SessionInfo;
use tower_stateless_session::server::{
    BUDGET_WARNING_PERCENT, DEFAULT_COOKIE_BUDGET, DEFAULT_COOKIE_HEADER_BUDGET,
};

use super::MAX_NOTE_BYTES;
use super::outcome::Outcome;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// How the server protects the cookie in this build (encrypting needs the `jwe` feature).
const PROTECTED: &str = if cfg!(feature = "jwe") {
    "signed (or encrypted)"
} else {
    "signed"
};

/// What the page can tell about who made a token in this build (nodes need `node-keys`).
const MAKER: &str = if cfg!(feature = "node-keys") {
    "which key (or which node)"
} else {
    "which key"
};

/// Scripts and styles run only if they are exactly the page's own (their hashes), so markup
/// slipped into a note or a name could not run even if escaping failed.
static CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = |text: &str| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text));
    format!(
        "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; \
         connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        hash(SCRIPT),
        hash(STYLE)
    )
});

/// Everything the page shows, gathered from the session by the `GET /` handler.
#[derive(Debug)]
pub(crate) struct View {
    /// The layer's clock (Unix seconds); the script counts down from it.
    pub(crate) now: u64,
    /// How old a token gets before a request re-signs it, in seconds.
    pub(crate) refresh_after: u64,
    /// The idle timeout, in seconds.
    pub(crate) idle_timeout: u64,
    /// With DBSC on, the bound cookie's lifetime in seconds.
    pub(crate) dbsc_bound: Option<u64>,
    /// Why the request's token was refused, if it was.
    pub(crate) refused: Option<Outcome>,
    /// What the previous form post did, from the redirect's query.
    pub(crate) done: Option<Done>,
    /// The size of the request's whole `Cookie` header, in bytes.
    pub(crate) cookie_header_len: usize,
    /// The session, if there is one.
    pub(crate) session: Option<SignedIn>,
}

/// The session as the page shows it.
#[derive(Debug)]
pub(crate) struct SignedIn {
    pub(crate) user: String,
    pub(crate) notes: Vec<String>,
    pub(crate) info: SessionInfo,
    /// The token the browser holds once this response arrives.
    pub(crate) token: String,
    /// The session's CSRF token, masked for this page (`SESSION_CSRF=token`): a hidden
    /// `_csrf` field in each form, and `data-csrf` for the script's header.
    pub(crate) csrf: Option<String>,
    /// The size of the cookie carrying it (`session=...`).
    pub(crate) cookie_len: usize,
    /// Whether this very request re-signed it.
    pub(crate) resigned: bool,
    /// The claims as the server holds them (for encrypted tokens).
    pub(crate) claims: serde_json::Map<String, serde_json::Value>,
    /// What this node knows of the keys, to say who made the token.
    pub(crate) keys: super::signer_view::Keys,
    /// The key the session is bound to (DBSC), if it is.
    pub(crate) binding: Option<tower_stateless_session::token::Confirmation>,
}

/// What a form post that redirected here did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Done {
    LoggedOut,
    LoggedOutEverywhere,
}

impl Done {
    /// From the `done` query parameter; anything else is ignored.
    pub(crate) fn parse(value: Option<&str>) -> Option<Self> {
        match value? {
            "logout" => Some(Done::LoggedOut),
            "logout-all" => Some(Done::LoggedOutEverywhere),
            _ => None,
        }
    }
}

/// Escapes text for an HTML element body or a quoted attribute.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Unix seconds as a UTC date and time: `("2027-01-15 08:00:00 UTC", "2027-01-15T08:00:00Z")`.
pub(crate) fn utc(t: u64) -> (String, String) {
    // Days to a civil date (the proleptic Gregorian calendar), after Howard Hinnant's
    // well-known `civil_from_days`.
    let days = (t / 86_400) as i64;
    let secs = t % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    (
        format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02} UTC"),
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z"),
    )
}

/// A `<time>` element for Unix seconds `t`, in UTC; the script shows it in local time.
pub(crate) fn time_html(t: u64) -> String {
    let (text, iso) = utc(t);
    format!("<time datetime=\"{iso}\" data-epoch=\"{t}\">{text}</time>")
}

/// A duration in words: "30 min", "2 days", "45 s".
fn duration_words(secs: u64) -> String {
    match secs {
        s if s >= 86_400 && s.is_multiple_of(86_400) => plural(s / 86_400, "day"),
        s if s >= 3600 && s.is_multiple_of(3600) => plural(s / 3600, "hour"),
        s if s >= 60 && s.is_multiple_of(60) => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

fn plural(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// A rough countdown for the page without JavaScript: "in 29 min", "due now".
fn countdown_words(left: i64, passed: &str) -> String {
    let left = match u64::try_from(left) {
        Ok(0) | Err(_) => return passed.to_owned(),
        Ok(left) => left,
    };
    match left {
        s if s >= 2 * 86_400 => format!("{} days", s / 86_400),
        s if s >= 7200 => format!("{} hours", s / 3600),
        s if s >= 120 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn group_digits(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The security headers of every HTML answer.
pub(crate) fn security_headers(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(csp) = HeaderValue::from_str(&CSP) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
}

/// The whole document around `main`. `data` becomes attributes of `<body>` for the script.
pub(crate) fn shell(title: &str, main: &str, data: Option<&str>) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} \u{b7} tower-stateless-session demo</title>\n<style>{STYLE}</style>\n\
         </head>\n<body{data}>\n\
         <header class=\"top\"><div class=\"wrap\">\n\
         <p class=\"brand\"><a href=\"/\">tower-stateless-session</a> <span class=\"tag\">demo</span></p>\n\
         <p class=\"lede\">A session that lives entirely in one cookie, {PROTECTED} by the \
         server: it keeps no session store and checks the cookie on every \
         request.</p>\n\
         </div></header>\n<main class=\"wrap\">\n{main}</main>\n\
         <footer class=\"wrap muted\">Times are in your browser's time zone (in UTC without \
         JavaScript). This page loads nothing from elsewhere.</footer>\n\
         <script>{SCRIPT}</script>\n</body>\n</html>\n",
        title = escape_html(title),
        data = data.unwrap_or_default(),
    )
}

/// The page for `view`.
pub(crate) fn render(view: &View) -> Response {
    let mut main = String::new();
    // Right after a logout, a revoked copy of the token (a DBSC refresh the browser had
    // under way as the user logged out can bring one back) is what the logout banner below
    // already explains: say it once.
    let refused = view
        .refused
        .filter(|outcome| !(view.done.is_some() && *outcome == Outcome::Revoked));
    if let Some(outcome) = refused {
        let _ = writeln!(
            main,
            "<section class=\"banner banner-error\" role=\"alert\"><h2>{}</h2><p>{}</p></section>",
            outcome.title(),
            outcome.message()
        );
    }
    match view.done {
        Some(Done::LoggedOut) => main.push_str(
            "<section class=\"banner banner-info\" role=\"status\"><h2>You are logged out</h2>\
             <p>The cookie is deleted and the token is revoked: even a copy of it no longer \
             works.</p></section>\n",
        ),
        Some(Done::LoggedOutEverywhere) => main.push_str(
            "<section class=\"banner banner-info\" role=\"status\"><h2>You are logged out \
             everywhere</h2><p>Every session of that user, on every device, is revoked.</p>\
             </section>\n",
        ),
        None => {}
    }
    let (title, data) = match &view.session {
        Some(session) => {
            signed_in_html(&mut main, view, session);
            let mut data = format!(
                " data-now=\"{}\" data-refresh-after=\"{}\"{}",
                view.now,
                view.refresh_after,
                if session.binding.is_some() {
                    " data-bound=\"1\""
                } else {
                    ""
                }
            );
            if let Some(csrf) = &session.csrf {
                let _ = write!(data, " data-csrf=\"{}\"", escape_html(csrf));
            }
            (format!("Signed in as {}", session.user), Some(data))
        }
        None => {
            main.push_str(&login_html());
            ("Log in".to_owned(), None)
        }
    };
    let data = data.unwrap_or_else(|| format!(" data-now=\"{}\"", view.now));
    let mut response = Html(shell(&title, &main, Some(&data))).into_response();
    security_headers(response.headers_mut());
    response
}

fn login_html() -> String {
    format!(
        "<div class=\"grid\">\n<section class=\"card\" aria-labelledby=\"login-h\">\n\
         <h1 id=\"login-h\">Log in</h1>\n\
         <p>Any name will do: this demo has no passwords.</p>\n\
         <form method=\"post\" action=\"/login\" class=\"stack\">\n\
         <label for=\"user\">User name</label>\n\
         <input id=\"user\" name=\"user\" maxlength=\"64\" required autocomplete=\"username\">\n\
         <label class=\"check\"><input type=\"checkbox\" name=\"remember\"> Remember me \
         <span class=\"muted\">(the cookie then survives a browser restart)</span></label>\n\
         <button type=\"submit\">Log in</button>\n</form>\n</section>\n\
         <section class=\"card\" aria-labelledby=\"what-h\">\n\
         <h2 id=\"what-h\">What you will see</h2>\n<ul class=\"plain\">\n\
         <li>When your session expires, and how using it pushes that back.</li>\n\
         <li>How large the cookie is, against the {budget} bytes browsers keep.</li>\n\
         <li>The token itself, taken apart and decoded, and {MAKER} made it.</li>\n\
         <li>Notes stored in the token, until it gets too large.</li>\n</ul>\n</section>\n</div>\n",
        budget = group_digits(DEFAULT_COOKIE_BUDGET)
    )
}

/// One countdown tile.
fn clock(id: &str, label: &str, deadline: u64, now: u64, passed: &str, caption: &str) -> String {
    let left = deadline as i64 - now as i64;
    format!(
        "<div class=\"clock{cls}\" id=\"{id}\">\n<p class=\"clock-label\">{label}</p>\n\
         <p class=\"clock-value\" data-deadline=\"{deadline}\" data-done=\"{passed}\">{words}</p>\n\
         <p class=\"clock-when\">at {when}</p>\n<p class=\"clock-caption\">{caption}</p>\n</div>\n",
        cls = if left <= 0 { " passed" } else { "" },
        words = countdown_words(left, passed),
        when = time_html(deadline),
    )
}

/// A size gauge: an HTML `<meter>` with the warning mark at [`BUDGET_WARNING_PERCENT`].
fn gauge(id: &str, label: &str, size: usize, budget: usize, note: &str) -> String {
    let warn = budget * BUDGET_WARNING_PERCENT / 100;
    // One decimal, so a cookie just past the mark does not read "75 %".
    let percent = format!("{:.1}", size as f64 * 100.0 / budget.max(1) as f64);
    format!(
        "<div class=\"gauge{over}\">\n<label for=\"{id}\">{label}</label>\n\
         <div class=\"meter-wrap\"><meter id=\"{id}\" min=\"0\" max=\"{budget}\" low=\"{warn}\" \
         high=\"{high}\" optimum=\"0\" value=\"{size}\">{size} bytes</meter>\
         <span class=\"mark\" aria-hidden=\"true\"></span></div>\n\
         <p class=\"gauge-text\"><strong>{size_text}</strong> of {budget_text} bytes \
         (<span class=\"percent\">{percent} %</span>)<span class=\"mark-label\">warning at \
         {BUDGET_WARNING_PERCENT} %</span></p>\n<p class=\"muted\">{note}</p>\n</div>\n",
        over = if size > warn { " over" } else { "" },
        high = budget * 95 / 100,
        size_text = group_digits(size),
        budget_text = group_digits(budget),
    )
}

fn signed_in_html(main: &mut String, view: &View, s: &SignedIn) {
    let info = &s.info;
    let now = view.now;
    let user = escape_html(&s.user);
    let _ = write!(
        main,
        "<div class=\"grid\">\n<div class=\"col\">\n\
         <section class=\"card\" aria-labelledby=\"who-h\">\n\
         <h1 id=\"who-h\">Signed in as <strong class=\"user\">{user}</strong></h1>\n\
         <p class=\"muted\">Logged in at {login}. {remember}</p>\n",
        login = time_html(info.auth_time),
        remember = if info.remember {
            "Remembered: the cookie survives a browser restart."
        } else {
            "Not remembered: the cookie goes when the browser closes."
        },
    );
    if s.resigned {
        main.push_str(
            "<p class=\"resigned\" role=\"status\">Loading this page re-signed your token: it \
             was old enough for a refresh, so the server sent a new one.</p>\n",
        );
    }
    main.push_str("<div class=\"clocks\">\n");
    let exp_caption = match (&s.binding, view.dbsc_bound) {
        (Some(_), Some(bound)) => format!(
            "Bound cookie, {}. Only a proof of your browser's key extends it: your browser \
             refreshes it by itself, a copy elsewhere dies here.",
            duration_words(bound)
        ),
        _ => format!(
            "Idle timeout, {}. It slides: each refresh starts it again.",
            duration_words(view.idle_timeout)
        ),
    };
    main.push_str(&clock(
        "clock-exp",
        if s.binding.is_some() {
            "Bound cookie expires in"
        } else {
            "Token expires in"
        },
        info.expires_at,
        now,
        "expired",
        &exp_caption,
    ));
    match (&s.binding, view.dbsc_bound) {
        // A bound cookie is never re-signed by age: the idle timeout that matters is the
        // refresh credential's, counted from the last proof of the key.
        (Some(_), Some(bound)) => main.push_str(&clock(
            "clock-refresh",
            "Idle timeout in",
            info.expires_at
                .saturating_sub(bound)
                .saturating_add(view.idle_timeout)
                .min(info.absolute_deadline),
            now,
            "passed",
            &format!(
                "{} after your browser last proved its key. Each proof starts it again; \
                 requests alone do not.",
                duration_words(view.idle_timeout)
            ),
        )),
        _ => main.push_str(&clock(
            "clock-refresh",
            "Next refresh in",
            info.issued_at + view.refresh_after,
            now,
            "due now",
            &format!(
                "Then a request gets a new token. Before that ({} after signing), no cookie \
                 is sent.",
                duration_words(view.refresh_after)
            ),
        )),
    }
    main.push_str(&clock(
        "clock-abs",
        "Session ends in",
        info.absolute_deadline,
        now,
        "ended",
        &format!(
            "Absolute deadline, {} after login, whatever you do.",
            duration_words(info.absolute_deadline - info.auth_time)
        ),
    ));
    let _ = write!(
        main,
        "</div>\n<p class=\"muted small\">Session id <code>{sid}</code></p>\n</section>\n\
         <section class=\"card\" aria-labelledby=\"try-h\">\n\
         <h2 id=\"try-h\">Watch the rolling refresh</h2>\n\
         <p>This button makes a request (<code>GET /me</code>) with your cookie and tells \
         whether the server answered with a re-signed token.</p>\n\
         <p><button type=\"button\" id=\"ping\" data-iat=\"{iat}\" hidden>Make a request</button></p>\n\
         <noscript><p class=\"muted\">Without JavaScript, reload the page: each load is a \
         request, and the page says when it re-signed the token.</p></noscript>\n\
         <output id=\"ping-result\" class=\"result\" aria-live=\"polite\" for=\"ping\"></output>\n\
         </section>\n",
        sid = escape_html(&info.sid.to_string()),
        iat = info.issued_at,
    );
    if let Some(bound) = view.dbsc_bound {
        binding_html(main, s.binding.as_ref(), bound);
    }
    let csrf = csrf_field(s.csrf.as_deref());
    notes_html(main, &s.notes, &csrf);
    let _ = write!(
        main,
        "<section class=\"card\" aria-labelledby=\"out-h\">\n<h2 id=\"out-h\">Log out</h2>\n\
         <div class=\"actions\">\n\
         <form method=\"post\" action=\"/logout\">{csrf}<button type=\"submit\" class=\"secondary\">Log \
         out</button></form>\n\
         <form method=\"post\" action=\"/logout-all\">{csrf}<button type=\"submit\" class=\"danger\">Log \
         out everywhere</button></form>\n</div>\n\
         <p class=\"muted\"><strong>Log out</strong> deletes the cookie and revokes this \
         token, so even a copy stops working. <strong>Log out everywhere</strong> revokes \
         every session of this user, on every device.</p>\n</section>\n</div>\n",
    );

    let _ = write!(
        main,
        "<div class=\"col\">\n<section class=\"card\" aria-labelledby=\"size-h\">\n\
         <h2 id=\"size-h\">How large it is</h2>\n{cookie}{header}</section>\n",
        cookie = gauge(
            "cookie-size",
            "The session cookie",
            s.cookie_len,
            DEFAULT_COOKIE_BUDGET,
            "Browsers keep about 4 KB per cookie. Past 75 % the server logs a warning; a \
             change that would pass 100 % is refused and not saved.",
        ),
        header = gauge(
            "header-size",
            "The whole Cookie header (all cookies of this site)",
            view.cookie_header_len,
            DEFAULT_COOKIE_HEADER_BUDGET,
            "Proxies refuse request headers of about 8 KB; over its budget the server deletes \
             the session cookie and answers 431 rather than fail later.",
        ),
    );
    main.push_str(&super::token_view::render(&s.token, &s.keys, || {
        s.claims.clone()
    }));
    main.push_str("</div>\n</div>\n");
}

/// The device-binding card (DBSC on): whether the session is bound, to which key.
fn binding_html(
    main: &mut String,
    binding: Option<&tower_stateless_session::token::Confirmation>,
    bound: u64,
) {
    main.push_str(
        "<section class=\"card\" aria-labelledby=\"bind-h\">\n<h2 id=\"bind-h\">Device \
         binding</h2>\n",
    );
    match binding {
        Some(cnf) => {
            let _ = write!(
                main,
                "<p class=\"bound yes\"><strong id=\"binding-state\">Device-bound</strong></p>\n\
                 <p>Your browser made a key for this site that it cannot export, and proved it \
                 holds it (DBSC). The cookie now lives {every} at a time; your browser gets a \
                 new one by signing a challenge with that key. A copy of the cookie on another \
                 device stops working within {every}.</p>\n\
                 <p class=\"muted small\">Key thumbprint (RFC 7638, the token's \
                 <code>cnf.jkt</code>)<br><code id=\"jkt\">{jkt}</code></p>\n",
                every = duration_words(bound),
                jkt = escape_html(&cnf.jkt),
            );
        }
        None => main.push_str(
            "<p class=\"bound no\"><strong id=\"binding-state\">Not device-bound</strong></p>\n\
             <p>Your browser did not register a key for this session (it may not support \
             device-bound sessions). The cookie works as before: whoever holds a copy is you \
             until it expires.</p>\n",
        ),
    }
    main.push_str("</section>\n");
}

/// The hidden field that carries the session's CSRF token in a form (nothing without
/// tokens).
fn csrf_field(csrf: Option<&str>) -> String {
    csrf.map(|token| {
        format!(
            "<input type=\"hidden\" name=\"_csrf\" value=\"{}\">",
            escape_html(token)
        )
    })
    .unwrap_or_default()
}

/// The notes card: the list, escaped, and the form to add one.
fn notes_html(main: &mut String, notes: &[String], csrf: &str) {
    let _ = write!(
        main,
        "<section class=\"card\" id=\"notes\" aria-labelledby=\"notes-h\">\n\
         <h2 id=\"notes-h\">Notes <span class=\"count\">{}</span></h2>\n\
         <p class=\"muted\">Kept in the token itself: each note makes the cookie larger.</p>\n",
        notes.len()
    );
    if notes.is_empty() {
        main.push_str("<p class=\"empty\">No notes yet.</p>\n");
    } else {
        // Focusable, so the list can be scrolled from the keyboard when it overflows.
        main.push_str("<ol class=\"notes\" tabindex=\"0\" aria-labelledby=\"notes-h\">\n");
        for note in notes {
            let _ = writeln!(main, "<li>{}</li>", escape_html(note));
        }
        main.push_str("</ol>\n");
    }
    let _ = write!(
        main,
        "<form method=\"post\" action=\"/note\" class=\"stack\">{csrf}\n\
         <label for=\"note\">New note</label>\n\
         <textarea id=\"note\" name=\"note\" rows=\"3\" maxlength=\"{MAX_NOTE_BYTES}\" required>\
         </textarea>\n<button type=\"submit\">Add note</button>\n</form>\n</section>\n"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_html_neutralises_markup() {
        assert_eq!(
            escape_html(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;",
            "all five special characters are escaped"
        );
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(utc(0).0, "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_800_000_000).1, "2027-01-15T08:00:00Z");
        // 2024-02-29, a leap day.
        assert_eq!(utc(1_709_210_096).0, "2024-02-29 12:34:56 UTC");
    }

    #[test]
    fn small_formatters() {
        assert_eq!(group_digits(4096), "4,096");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1_234_567), "1,234,567");
        assert_eq!(duration_words(1800), "30 min");
        assert_eq!(duration_words(172_800), "2 days");
        assert_eq!(duration_words(3600), "1 hour");
        assert_eq!(duration_words(61), "61 s");
        assert_eq!(countdown_words(-5, "expired"), "expired");
        assert_eq!(countdown_words(1799, "x"), "29 min");
    }
}
