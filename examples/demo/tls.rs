//! HTTPS for the demo: `DEMO_TLS_CERT` and `DEMO_TLS_KEY` (PEM files) make it serve TLS
//! with rustls (through tokio-rustls and hyper). Browsers speak DBSC only over HTTPS they
//! trust, so this is how to try device-bound sessions locally (see the README).

use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

/// The TLS settings from `DEMO_TLS_CERT` and `DEMO_TLS_KEY`: `None` when neither is set.
pub(crate) fn from_lookup(
    mut lookup: impl FnMut(&str) -> Result<Option<String>, String>,
) -> Result<Option<tokio_rustls::TlsAcceptor>, String> {
    let cert = lookup("DEMO_TLS_CERT")?.filter(|v| !v.trim().is_empty());
    let key = lookup("DEMO_TLS_KEY")?.filter(|v| !v.trim().is_empty());
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => acceptor(cert.trim(), key.trim()).map(Some),
        _ => Err("DEMO_TLS_CERT and DEMO_TLS_KEY go together: set both, or neither".to_owned()),
    }
}

/// A TLS acceptor for the certificate chain in `cert` and the private key in `key` (PEM).
pub(crate) fn acceptor(cert: &str, key: &str) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("DEMO_TLS_CERT {cert:?}: {e}"))?;
    if chain.is_empty() {
        return Err(format!("DEMO_TLS_CERT {cert:?} holds no certificate"));
    }
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("DEMO_TLS_KEY {key:?}: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("DEMO_TLS_CERT and DEMO_TLS_KEY do not make a server: {e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves `router` over TLS on `listener` until `shutdown` completes. Each request carries
/// the `https` scheme in its extensions (DPoP compares `htu` with it).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    acceptor: tokio_rustls::TlsAcceptor,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::service::TowerToHyperService;

    let router = router.layer(axum::middleware::map_request(
        |mut request: axum::extract::Request| async move {
            request
                .extensions_mut()
                .insert(axum::http::uri::Scheme::HTTPS);
            request
        },
    ));
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    eprintln!("accept failed: {error}");
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            // A browser that does not trust the certificate closes the handshake: not ours
            // to report.
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}
