//! The quick start: sessions in an axum app, in one file.
//!
//! ```text
//! cargo run --example basic
//! curl -i -c jar -X POST 127.0.0.1:3000/login/ada   # sets the session cookie
//! curl -i -b jar 127.0.0.1:3000/me                  # {"sub":"ada"}
//! ```
//!
//! Keys come from `SESSION_KEYS` (`kid:base64url-secret`, make one with
//! `echo "k1:$(openssl rand -base64 32)"`); without it, a random key for this run.

use axum::{
    Json, Router,
    extract::Path,
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use tower_stateless_session::{
    ConfigError, Key, KeyRing, Session, SessionError, SessionHandle, SessionLayer,
};

#[derive(Clone, Serialize, Deserialize)]
struct User {
    sub: String,
}

async fn login(
    session: SessionHandle<User>,
    Path(name): Path<String>,
) -> Result<String, SessionError> {
    // ... check the credentials first ...
    session.login(User { sub: name.clone() })?;
    Ok(format!("welcome, {name}\n"))
}

async fn me(session: Session<User>) -> Json<Option<User>> {
    Json(session.data()) // 401 before this runs when there is no valid session
}

async fn logout(session: SessionHandle<User>) -> Result<&'static str, SessionError> {
    session.logout()?;
    Ok("bye\n")
}

fn app(keys: KeyRing) -> Result<Router, ConfigError> {
    // `Secure` cookies travel over https only: plain http on localhost needs this off.
    let sessions = SessionLayer::<User>::new(keys).with_secure(false).build()?;
    Ok(Router::new()
        .route("/login/{name}", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .layer(sessions))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let keys = match std::env::var("SESSION_KEYS") {
        Ok(spec) => spec.parse::<KeyRing>()?,
        Err(_) => KeyRing::new(Key::generate_hs256("dev")?), // sessions end with the process
    };
    let app = app(keys)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use http::{Request, StatusCode, header};
    use tower::ServiceExt;

    use super::*;

    async fn call(
        app: &Router,
        method: &str,
        uri: &str,
        cookie: Option<&str>,
    ) -> (StatusCode, Option<String>, String) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let set = response
            .headers()
            .get(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = to_bytes(response.into_body(), 1 << 16).await.unwrap();
        (status, set, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn login_me_logout() {
        let app = app(KeyRing::new(Key::generate_hs256("test").unwrap())).unwrap();
        let (status, _, _) = call(&app, "GET", "/me", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "no session yet");
        let (status, set, _) = call(&app, "POST", "/login/ada", None).await;
        assert_eq!(status, StatusCode::OK);
        let set = set.expect("login sets the cookie");
        assert!(!set.contains("Secure"), "plain http on localhost: {set}");
        let cookie = set.split(';').next().unwrap().to_owned();
        let (status, _, body) = call(&app, "GET", "/me", Some(&cookie)).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, r#"{"sub":"ada"}"#)
        );
        let (status, set, _) = call(&app, "POST", "/logout", Some(&cookie)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            set.expect("logout deletes the cookie")
                .starts_with("session=;")
        );
    }
}
