//! Reading and checking what a browser or curl sends: media types, user names, notes.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{MAX_NAME_CHARS, MAX_NOTE_BYTES};

/// A plain-text response.
pub(crate) fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

/// The media type of the request body, lowercased, without parameters.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    Some(essence.to_ascii_lowercase())
}

/// Checks a user name and returns it trimmed.
pub(crate) fn validate_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("user name must not be empty");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err("user name must be at most 64 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("user name must not contain control characters");
    }
    Ok(name.to_owned())
}

/// The JSON body of `POST /login`.
#[derive(Deserialize)]
pub(crate) struct JsonLogin {
    pub(crate) user: String,
    #[serde(default)]
    pub(crate) remember: bool,
}

/// The form body of `POST /login`: an HTML checkbox sends `remember=on` when ticked and
/// nothing otherwise.
#[derive(Deserialize)]
pub(crate) struct FormLogin {
    pub(crate) user: String,
    pub(crate) remember: Option<String>,
}

pub(crate) fn checkbox_ticked(value: Option<&str>) -> bool {
    value.is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "on" | "true" | "1" | "yes"))
}

/// The form body of `POST /note`.
#[derive(Deserialize)]
pub(crate) struct FormNote {
    pub(crate) note: String,
}

/// Checks a note and returns it trimmed, or the status and message to refuse it with.
pub(crate) fn validate_note(raw: &str) -> Result<String, (StatusCode, String)> {
    let note = raw.trim();
    if note.is_empty() {
        return Err((
            StatusCode::BAD_REQUEST,
            "a note must not be empty".to_owned(),
        ));
    }
    if note.len() > MAX_NOTE_BYTES {
        return Err(note_too_long(note.len()));
    }
    if note
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err((
            StatusCode::BAD_REQUEST,
            "a note must not contain control characters other than line breaks and tabs".to_owned(),
        ));
    }
    Ok(note.to_owned())
}

pub(crate) fn note_too_long(len: usize) -> (StatusCode, String) {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("a note may be at most {MAX_NOTE_BYTES} bytes, this one is {len}"),
    )
}
/// Whether a logout came from an HTML form (and so wants a redirect rather than JSON).
pub(crate) fn is_form_post(headers: &HeaderMap) -> bool {
    match media_type(headers).as_deref() {
        Some("application/x-www-form-urlencoded") => true,
        Some(_) => false,
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.to_ascii_lowercase().contains("text/html")),
    }
}
