//! `bleepstore probe URL…`: plain-HTTP GETs that succeed only on 2xx answers, for readiness
//! checks from images that have no shell or `wget` (ours are distroless).

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;

/// GETs each URL in turn; the first failure is the error.
pub async fn all(urls: &[String]) -> Result<(), String> {
    for url in urls {
        let status = tokio::time::timeout(Duration::from_secs(10), get(url))
            .await
            .map_err(|_| format!("{url}: no answer within 10 s"))??;
        if !(200..300).contains(&status) {
            return Err(format!("{url}: answered {status}"));
        }
        println!("{url}: {status}");
    }
    Ok(())
}

async fn get(url: &str) -> Result<u16, String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("{url}: only http:// URLs are probed"));
    }
    let host = uri.host().ok_or_else(|| format!("{url}: no host"))?;
    let address = format!("{host}:{}", uri.port_u16().unwrap_or(80));
    let stream = tokio::net::TcpStream::connect(&address).await.map_err(|e| format!("{url}: {e}"))?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(io).await.map_err(|e| format!("{url}: {e}"))?;
    tokio::spawn(connection);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, address.as_str())
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("{url}: {e}"))?;
    let response = sender.send_request(request).await.map_err(|e| format!("{url}: {e}"))?;
    let status = response.status().as_u16();
    // Read the body so the answer is complete (and small: probes answer a line).
    let _ = response.into_body().collect().await;
    Ok(status)
}
