//! Reading and checking what a browser or curl sends: media types, user names, notes.

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;

use super::{MAX_NAME_CHARS, MAX_NOTE_BYTES};

/// A checked `POST /login` body.
pub(crate) struct Login {
    /// The user name, trimmed.
    pub(crate) user: String,
    pub(crate) remember: bool,
    /// Sent as JSON (answered with JSON), not as a form (answered with a redirect).
    pub(crate) json: bool,
}

/// Reads `POST /login` as JSON `{"user","remember"}` or as a form `user=..&remember=on`,
/// by its `Content-Type`; the refusal (415, 400) otherwise.
pub(crate) async fn read_login(request: Request) -> Result<Login, Response> {
    let json = match media_type(request.headers()).as_deref() {
        Some("application/json") => true,
        Some("application/x-www-form-urlencoded") => false,
        _ => {
            return Err(plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send application/json or application/x-www-form-urlencoded",
            ));
        }
    };
    let (user, remember) = if json {
        match Json::<JsonLogin>::from_request(request, &()).await {
            Ok(Json(body)) => (body.user, body.remember),
            Err(rejection) => {
                let message = format!("invalid JSON body: {}", rejection.body_text());
                return Err(plain(StatusCode::BAD_REQUEST, &message));
            }
        }
    } else {
        match Form::<FormLogin>::from_request(request, &()).await {
            Ok(Form(body)) => {
                let remember = checkbox_ticked(body.remember.as_deref());
                (body.user, remember)
            }
            Err(rejection) => {
                let message = format!("invalid form body: {}", rejection.body_text());
                return Err(plain(StatusCode::BAD_REQUEST, &message));
            }
        }
    };
    let user = validate_name(&user).map_err(|message| plain(StatusCode::BAD_REQUEST, message))?;
    Ok(Login {
        user,
        remember,
        json,
    })
}

/// A checked `POST /note` body.
pub(crate) struct Note {
    /// The note, trimmed.
    pub(crate) text: String,
    /// Sent as a form (answered with a redirect), not as plain text (answered with JSON).
    pub(crate) form: bool,
}

/// Reads `POST /note` as `text/plain` or as a form `note=...`, by its `Content-Type`; the
/// refusal (415, 413, 400) otherwise. The route's `DefaultBodyLimit` caps what is read.
pub(crate) async fn read_note(request: Request) -> Result<Note, Response> {
    let form = match media_type(request.headers()).as_deref() {
        Some("text/plain") => false,
        Some("application/x-www-form-urlencoded") => true,
        _ => {
            return Err(plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the note as text/plain, or as a form field `note`",
            ));
        }
    };
    let raw = if form {
        read_form::<FormNote>(request).await?.map(|form| form.note)
    } else {
        String::from_request(request, &())
            .await
            .map_err(|rejection| (rejection.status(), rejection.body_text()))
    };
    let checked = match raw {
        Ok(raw) => validate_note(&raw),
        Err((StatusCode::PAYLOAD_TOO_LARGE, _)) => Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a note may be at most {MAX_NOTE_BYTES} bytes"),
        )),
        Err((_, text)) => Err((StatusCode::BAD_REQUEST, format!("invalid note: {text}"))),
    };
    match checked {
        Ok(text) => Ok(Note { text, form }),
        Err((status, message)) => Err(plain(status, &message)),
    }
}

/// Reads a form body: through `CsrfForm` with the `csrf` feature, which checks the `_csrf`
/// field when the layer has CSRF tokens on (`SESSION_CSRF=token`) and answers the layer's
/// 403 when it is missing or wrong; as axum's `Form` otherwise. `Err` is a refusal to send
/// as it is; `Ok(Err)` a status and message for the caller to word.
async fn read_form<T: serde::de::DeserializeOwned>(
    request: Request,
) -> Result<Result<T, (StatusCode, String)>, Response> {
    #[cfg(feature = "csrf")]
    {
        use tower_stateless_session::server::csrf::CsrfForm;
        match CsrfForm::<T>::from_request(request, &()).await {
            Ok(CsrfForm(form)) => Ok(Ok(form)),
            Err(rejection) if rejection.status() == StatusCode::FORBIDDEN => {
                Err(rejection.into_response())
            }
            Err(rejection) => Ok(Err((rejection.status(), rejection.to_string()))),
        }
    }
    #[cfg(not(feature = "csrf"))]
    Ok(Form::<T>::from_request(request, &())
        .await
        .map(|Form(form)| form)
        .map_err(|rejection| (rejection.status(), rejection.body_text())))
}

/// For a form post that carries nothing else (logout): its `_csrf` field checked, as
/// [`read_form`] does; any other request passes (the layer checked what it could).
pub(crate) async fn check_form(request: Request) -> Result<(), Response> {
    if media_type(request.headers()).as_deref() != Some("application/x-www-form-urlencoded") {
        return Ok(());
    }
    match read_form::<serde::de::IgnoredAny>(request).await? {
        Ok(_) => Ok(()),
        Err((status, message)) => Err(plain(status, &message)),
    }
}

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
