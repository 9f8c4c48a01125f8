//! The HTML page at `GET /`.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use tower_stateless_session::{DEFAULT_COOKIE_BUDGET, Session};

use crate::{DemoSession, MAX_NOTE_BYTES};

/// Escapes text for an HTML element body or a quoted attribute.
fn escape_html(text: &str) -> String {
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

/// `t` relative to `now`, in words.
fn relative(t: u64, now: u64) -> String {
    if t >= now {
        format!("in {} s", t - now)
    } else {
        format!("{} s ago", now - t)
    }
}

/// `GET /`: the session as the server sees it, and forms to change it.
pub(crate) async fn index(session: Option<Session<DemoSession>>) -> Response {
    let details = session.as_ref().and_then(|s| {
        let info = s.info()?;
        let (sub, notes) = s.with(|d| (d.sub.clone(), d.notes.clone()))?;
        // The layer's clock: a ManualClock in the tests.
        Some((info, sub, notes, s.now(), s.token_size()))
    });
    let status = match details {
        Some((info, sub, notes, now, token_size)) => {
            let row = |label: &str, t: u64| {
                format!(
                    "<tr><th>{label}</th><td>{t}</td><td>{}</td></tr>\n",
                    relative(t, now)
                )
            };
            format!(
                "<p>Signed in as <strong>{user}</strong>.</p>\n\
                 <table>\n\
                 <tr><th>session id</th><td colspan=\"2\"><code>{sid}</code></td></tr>\n\
                 <tr><th>remember me</th><td colspan=\"2\">{remember}</td></tr>\n\
                 {authenticated}{issued}{expires}{deadline}\
                 <tr><th>cookie size</th><td colspan=\"2\">{size}</td></tr>\n\
                 </table>\n\
                 <h2>Notes</h2>\n\
                 {notes}\
                 <form method=\"post\" action=\"/note\">\n\
                 <label>Note <textarea name=\"note\" maxlength=\"{MAX_NOTE_BYTES}\" required></textarea></label>\n\
                 <button type=\"submit\">Add note</button>\n\
                 </form>\n\
                 <form method=\"post\" action=\"/logout\"><button type=\"submit\">Log out</button></form>\n\
                 <form method=\"post\" action=\"/logout-all\"><button type=\"submit\">Log out everywhere</button></form>\n",
                user = escape_html(&sub),
                sid = escape_html(&info.sid.to_string()),
                remember = if info.remember { "yes" } else { "no" },
                authenticated = row("logged in at", info.auth_time),
                issued = row("token issued at", info.issued_at),
                expires = row("token expires at", info.expires_at),
                deadline = row("absolute deadline", info.absolute_deadline),
                // The demo keeps the layer's default budget.
                size = match token_size {
                    Some(size) => format!(
                        "{size} of {DEFAULT_COOKIE_BUDGET} bytes ({}%)",
                        size * 100 / DEFAULT_COOKIE_BUDGET
                    ),
                    None => "unknown".to_owned(),
                },
                notes = notes_html(&notes),
            )
        }
        None => "<p>No session: you are not signed in.</p>\n".to_owned(),
    };
    let page = format!(
        "<!doctype html>\n\
         <html lang=\"en\">\n\
         <head><meta charset=\"utf-8\"><title>tower-stateless-session demo</title></head>\n\
         <body>\n\
         <h1>tower-stateless-session demo</h1>\n\
         {status}\
         <p>Times are shown as Unix seconds and relative to now.</p>\n\
         <h2>Log in</h2>\n\
         <form method=\"post\" action=\"/login\">\n\
         <label>User <input name=\"user\" maxlength=\"64\" required></label>\n\
         <label><input type=\"checkbox\" name=\"remember\"> remember me</label>\n\
         <button type=\"submit\">Log in</button>\n\
         </form>\n\
         </body>\n\
         </html>\n"
    );
    ([(header::CACHE_CONTROL, "no-store")], Html(page)).into_response()
}

/// The session's notes as an HTML list, escaped.
fn notes_html(notes: &[String]) -> String {
    if notes.is_empty() {
        return "<p>No notes yet.</p>\n".to_owned();
    }
    let mut html = String::from("<ol>\n");
    for note in notes {
        html.push_str("<li style=\"white-space: pre-wrap\">");
        html.push_str(&escape_html(note));
        html.push_str("</li>\n");
    }
    html.push_str("</ol>\n");
    html
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
}
