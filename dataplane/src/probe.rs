//! `bleepstore probe [--s3] URL…`: plain-HTTP GETs that succeed only on 2xx answers, for
//! readiness checks from images that have no shell or `wget` (ours are distroless); with `--s3`
//! also a put, get and delete through the S3 API with the credentials an AccessKey's Secret
//! gives an app (its variables, as `envFrom` sets them).

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

/// What the S3 round trip needs, from the environment a key Secret's `envFrom` gives.
#[derive(Debug)]
pub struct S3Target {
    pub endpoint: String,
    pub bucket: String,
    /// `AWS_CA_BUNDLE`'s file (PEM), for a store whose certificate a private CA signed.
    pub ca_bundle: Option<std::path::PathBuf>,
}

impl S3Target {
    /// Reads `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`), `BUCKET_NAME` and `AWS_CA_BUNDLE`;
    /// the SDK reads the keys and the region itself.
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let endpoint = var("AWS_ENDPOINT_URL_S3")
            .or_else(|| var("AWS_ENDPOINT_URL"))
            .ok_or("s3: AWS_ENDPOINT_URL is not set (give the pod the key Secret with envFrom)")?;
        let bucket = var("BUCKET_NAME").ok_or("s3: BUCKET_NAME is not set (the key must grant exactly one bucket)")?;
        Ok(Self { endpoint, bucket, ca_bundle: var("AWS_CA_BUNDLE").map(Into::into) })
    }
}

/// Puts an object, reads it back and compares, then deletes it; each step is said on stdout.
pub async fn s3_round_trip(target: &S3Target) -> Result<(), String> {
    use aws_sdk_s3::error::DisplayErrorContext;
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).endpoint_url(&target.endpoint);
    if let Some(path) = &target.ca_bundle {
        let pem = std::fs::read(path).map_err(|e| format!("s3: AWS_CA_BUNDLE {}: {e}", path.display()))?;
        loader = loader.http_client(client_trusting(pem)?);
    }
    let config = loader.load().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    let (bucket, stamp) = (&target.bucket, std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH));
    let key = format!("bleepstore-probe/{}", stamp.map_or(0, |d| d.as_nanos()));
    let body = format!("bleepstore probe {key}");
    let step = |what: &str| format!("s3 {}/{bucket}/{key}: {what}", target.endpoint);
    let within = |future| tokio::time::timeout(Duration::from_secs(20), future);
    within(s3.put_object().bucket(bucket).key(&key).body(body.clone().into_bytes().into()).send())
        .await
        .map_err(|_| step("put: no answer within 20 s"))?
        .map_err(|e| step(&format!("put: {}", DisplayErrorContext(e))))?;
    println!("{}", step("put"));
    let got = s3.get_object().bucket(bucket).key(&key).send().await;
    let got = got.map_err(|e| step(&format!("get: {}", DisplayErrorContext(e))))?;
    let read = got.body.collect().await.map_err(|e| step(&format!("get: {e}")))?.into_bytes();
    if read.as_ref() != body.as_bytes() {
        return Err(step(&format!("get: read back {} bytes that differ from the {} put", read.len(), body.len())));
    }
    println!("{}", step("get, same bytes"));
    s3.delete_object()
        .bucket(bucket)
        .key(&key)
        .send()
        .await
        .map_err(|e| step(&format!("delete: {}", DisplayErrorContext(e))))?;
    println!("{}", step("delete"));
    Ok(())
}

/// An HTTPS client that trusts only `pem`'s certificates.
fn client_trusting(pem: Vec<u8>) -> Result<aws_sdk_s3::config::SharedHttpClient, String> {
    use aws_smithy_http_client::tls;
    let trust = tls::TrustStore::empty().with_native_roots(false).with_pem_certificate(pem);
    let context =
        tls::TlsContext::builder().with_trust_store(trust).build().map_err(|e| format!("s3: AWS_CA_BUNDLE: {e}"))?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .tls_context(context)
        .build_https())
}
