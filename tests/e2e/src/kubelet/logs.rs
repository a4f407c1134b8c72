//! The kubelet's HTTPS port (10250), for `kubectl logs`: the API server proxies
//! `GET /containerLogs/<ns>/<pod>/<container>` here (`tailLines` and `limitBytes` honoured;
//! `follow` answers what is logged so far). Requests are not authorized here: only the API
//! server, inside the sandbox, can reach the port.

use std::sync::Arc;

use anyhow::{Context, Result};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::Shared;
use crate::sandbox::NODE_IP;

/// The port the API server calls.
pub(crate) const PORT: u16 = 10250;

fn answer(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

/// The log text a request asks for.
fn logs(shared: &Shared, request: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ["containerLogs", namespace, pod, container] = parts.as_slice() else {
        return answer(
            StatusCode::NOT_FOUND,
            format!("{path}: only /containerLogs/<ns>/<pod>/<container> is served\n"),
        );
    };
    let uid = shared.pods.state().into_iter().find_map(|p| {
        (p.metadata.namespace.as_deref() == Some(*namespace) && p.metadata.name.as_deref() == Some(*pod))
            .then(|| p.metadata.uid.clone())?
    });
    let Some(uid) = uid else {
        return answer(StatusCode::NOT_FOUND, format!("pod {namespace}/{pod} is not on this node\n"));
    };
    let file = shared.work.join("pods").join(format!("{namespace}_{pod}_{uid}")).join(format!("{container}.log"));
    let Ok(text) = std::fs::read_to_string(&file) else {
        return answer(StatusCode::NOT_FOUND, format!("container {container} of {namespace}/{pod} has not started\n"));
    };
    let query: Vec<(String, String)> = request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    let number = |name: &str| query.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.parse::<usize>().ok());
    let mut lines: Vec<&str> = text.lines().collect();
    if let Some(tail) = number("tailLines") {
        lines = lines.split_off(lines.len().saturating_sub(tail));
    }
    let mut body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    if let Some(limit) = number("limitBytes") {
        let mut end = limit.min(body.len());
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        body.truncate(end);
    }
    answer(StatusCode::OK, body)
}

/// Serves the port until the task is aborted.
pub(crate) async fn serve(shared: Arc<Shared>, cert_pem: String, key_pem: String) -> Result<()> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect::<Result<_, _>>().context("the kubelet's cert")?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).context("the kubelet's key")?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind((NODE_IP, PORT)).await.context("listen on the kubelet port")?;
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let (acceptor, shared) = (acceptor.clone(), shared.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else { return };
            let service = hyper::service::service_fn(move |request| {
                let response = logs(&shared, &request);
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            let io = hyper_util::rt::TokioIo::new(tls);
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
        });
    }
}
