//! Blobs as block blobs in an Azure Blob Storage container, through azure_storage_blob (the
//! official Azure SDK for Rust, stable 1.x, the maintained successor of the legacy
//! azure_storage_blobs line): `<prefix><id>`. A blob is buffered up to one block; a blob that
//! fits is written with one Put Blob at commit, a larger one is staged block by block as they
//! fill and committed with one Put Block List, so the blob appears whole or not at all.
//!
//! Authentication: the crate signs requests only with Entra ID tokens, so the store puts a SAS
//! in the container URL's query string and passes no credential. A configured SAS is used as
//! given; an account key becomes an account SAS signed here (the crate has no Shared Key
//! signing), valid 24 h and re-signed when less than an hour of it is left. Requests carry the
//! SAS, so URLs are never logged and error texts have the signature blanked.

use std::num::NonZero;
use std::ops::Range;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use azure_core::error::ErrorKind;
use azure_core::http::{ExponentialRetryOptions, RetryOptions, StatusCode, Url};
use azure_storage_blob::models::{
    BlobClientDeleteOptions, BlobClientDownloadOptions, BlobClientUploadOptions, BlobContainerClientListBlobsOptions,
    BlockLookupList, DeleteSnapshotsOptionType, HttpRange, StorageErrorCode,
};
use azure_storage_blob::{BlobClient, BlobContainerClient, BlobContainerClientOptions, StorageError};
use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt};

use super::{azure_sas, is_blob_id, new_blob_id, BlobError, BlobResult, BlobStore, BlobStream, BlobWriter};
use crate::config::AzureBackendConfig;
use secrecy::ExposeSecret;

/// Lifetime of an account SAS signed from the account key.
const SAS_VALIDITY: Duration = Duration::from_secs(24 * 3600);
/// An account SAS with less validity than this left is replaced before the next request.
const SAS_MIN_LEFT: Duration = Duration::from_secs(3600);
/// Larger than any blob: a download asks for its whole range in one GET, so the SDK's
/// partitioned downloader hands the response body over as it arrives instead of buffering
/// partitions.
const ONE_PARTITION: NonZero<usize> = match NonZero::new(usize::MAX >> 1) {
    Some(n) => n,
    None => NonZero::<usize>::MIN,
};

pub struct AzureBlobStore {
    inner: Arc<Inner>,
}

/// What requests are authorized with.
enum Credential {
    /// A SAS from the configuration or the environment, used as given.
    Sas(String),
    /// The account key: the store signs its own account SAS.
    AccountKey { account: String, key: String },
}

/// The container client, bound to the SAS in its URL.
struct Signed {
    client: Arc<BlobContainerClient>,
    /// When to sign a new SAS (`None`: a fixed SAS, never renewed here).
    renew_at: Option<Instant>,
}

struct Inner {
    /// `<endpoint>/<container>`, without a query.
    container_url: Url,
    credential: Credential,
    signed: RwLock<Signed>,
    prefix: String,
    block_size: usize,
}

impl Inner {
    fn name(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    /// The container client, re-signed first when its account SAS runs out within the hour.
    fn container(&self) -> BlobResult<Arc<BlobContainerClient>> {
        let due = |s: &Signed| s.renew_at.is_some_and(|at| Instant::now() >= at);
        {
            let signed = self.signed.read().unwrap_or_else(PoisonError::into_inner);
            if !due(&signed) {
                return Ok(signed.client.clone());
            }
        }
        let mut signed = self.signed.write().unwrap_or_else(PoisonError::into_inner);
        if due(&signed) {
            *signed = sign(&self.container_url, &self.credential)?;
        }
        Ok(signed.client.clone())
    }

    fn blob(&self, id: &str) -> BlobResult<BlobClient> {
        Ok(self.container()?.blob_client(&self.name(id)))
    }
}

/// Builds a container client whose URL carries a SAS from `credential`.
fn sign(container_url: &Url, credential: &Credential) -> BlobResult<Signed> {
    let (sas, renew_at) = match credential {
        Credential::Sas(sas) => (sas.clone(), None),
        Credential::AccountKey { account, key } => {
            let sas = azure_sas::account_sas(account, key, time::OffsetDateTime::now_utc(), SAS_VALIDITY)
                .map_err(|e| BlobError::Remote(format!("backend.azure: {e}")))?;
            (sas, Some(Instant::now() + (SAS_VALIDITY - SAS_MIN_LEFT)))
        }
    };
    let mut url = container_url.clone();
    url.set_query(Some(&sas));
    let mut options = BlobContainerClientOptions::default();
    // Three attempts in all, like the S3 backend (the SDK default is nine over a minute).
    options.client_options.retry =
        RetryOptions::exponential(ExponentialRetryOptions { max_retries: 2, ..Default::default() });
    // The SDK's error would quote the URL, SAS included: report it without.
    let client = BlobContainerClient::new(url, None, Some(options))
        .map_err(|_| BlobError::Remote("backend.azure: the container URL was refused".into()))?;
    Ok(Signed { client: Arc::new(client), renew_at })
}

/// Error text with every SAS signature blanked: transport errors quote the request URL, and
/// the URL carries the SAS.
fn redact(text: &str) -> String {
    const SIG: &str = "sig=";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(SIG) {
        let (head, tail) = rest.split_at(at + SIG.len());
        out.push_str(head);
        out.push_str("REDACTED");
        let end = tail.find(|c: char| matches!(c, '&' | ')' | '"' | '\'' | '>') || c.is_whitespace());
        rest = &tail[end.unwrap_or(tail.len())..];
    }
    out.push_str(rest);
    out
}

/// The error and its causes on one line, signature blanked.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    redact(&text)
}

/// A 404 for the blob itself. A missing container is a misconfiguration, not a missing blob.
fn is_not_found(e: &azure_core::Error) -> bool {
    match e.kind() {
        ErrorKind::HttpResponse { status, error_code, .. } => {
            *status == StatusCode::NotFound
                && error_code.as_deref() != Some(StorageErrorCode::ContainerNotFound.as_ref())
        }
        _ => false,
    }
}

/// What an error says, on one line: for an HTTP answer, its status, Azure error code and
/// message; else the error and its causes.
fn describe_error(e: azure_core::Error) -> String {
    let ErrorKind::HttpResponse { status, error_code, .. } = e.kind() else { return describe(&e) };
    let head = format!("HTTP {status} {}", error_code.as_deref().unwrap_or("(no error code)"));
    match StorageError::try_from(e).ok().and_then(|s| s.message) {
        Some(message) => redact(&format!("{head}: {}", message.split_whitespace().collect::<Vec<_>>().join(" "))),
        None => head,
    }
}

/// Classifies a remote failure: no answer, or a 5xx/throttling answer, is `Unavailable` (the
/// client may retry); anything else is an internal error of this store.
fn remote(op: &'static str, e: azure_core::Error) -> BlobError {
    let unavailable = match e.http_status() {
        Some(status) => u16::from(status) >= 500 || status == StatusCode::TooManyRequests,
        None => matches!(e.kind(), ErrorKind::Connection | ErrorKind::Io),
    };
    let message = format!("{op}: {}", describe_error(e));
    tracing::error!(operation = op, error = %message, "remote Azure blob store failed");
    if unavailable {
        BlobError::Unavailable(message)
    } else {
        BlobError::Remote(message)
    }
}

impl AzureBlobStore {
    /// Builds the container client: endpoint from `cfg` (default
    /// `https://<account>.blob.core.windows.net`), SAS from `cfg.sas_token` or an account SAS
    /// signed with `cfg.account_key`, each falling back to `AZURE_STORAGE_SAS_TOKEN` /
    /// `AZURE_STORAGE_KEY`. Sends no request.
    pub fn connect(cfg: &AzureBackendConfig) -> BlobResult<Self> {
        let nonempty = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        // Tolerate a SAS copied with its leading '?'.
        let sas = |v| nonempty(v).map(|s| Credential::Sas(s.trim_start_matches('?').to_owned()));
        let key = |v| nonempty(v).map(|key| Credential::AccountKey { account: cfg.account.clone(), key });
        let exposed = |v: &Option<secrecy::SecretString>| v.as_ref().map(|s| s.expose_secret().to_owned());
        let credential = sas(exposed(&cfg.sas_token))
            .or_else(|| key(exposed(&cfg.account_key)))
            .or_else(|| sas(std::env::var("AZURE_STORAGE_SAS_TOKEN").ok()))
            .or_else(|| key(std::env::var("AZURE_STORAGE_KEY").ok()))
            .ok_or_else(|| {
                BlobError::Remote(
                    "backend.azure needs account_key or sas_token (or AZURE_STORAGE_KEY / AZURE_STORAGE_SAS_TOKEN)"
                        .into(),
                )
            })?;
        let endpoint = match &cfg.endpoint {
            Some(endpoint) => endpoint.clone(),
            None => format!("https://{}.blob.core.windows.net", cfg.account),
        };
        let mut container_url = Url::parse(&endpoint)
            .map_err(|e| BlobError::Remote(format!("backend.azure.endpoint is not a valid URL: {e}")))?;
        if !matches!(container_url.scheme(), "http" | "https") || container_url.query().is_some() {
            return Err(BlobError::Remote("backend.azure.endpoint must be an http(s) URL without a query".into()));
        }
        container_url
            .path_segments_mut()
            .map_err(|()| BlobError::Remote("backend.azure.endpoint must be an http(s) URL".into()))?
            .pop_if_empty()
            .push(&cfg.container);
        let signed = sign(&container_url, &credential)?;
        Ok(Self {
            inner: Arc::new(Inner {
                container_url,
                credential,
                signed: RwLock::new(signed),
                prefix: cfg.prefix.clone(),
                block_size: cfg.block_size as usize,
            }),
        })
    }
}

struct AzureWriter {
    inner: Arc<Inner>,
    id: String,
    buf: BytesMut,
    /// Ids of the blocks staged so far, once the blob outgrew one block.
    blocks: Vec<Vec<u8>>,
}

impl AzureWriter {
    async fn stage(&mut self, body: Bytes) -> BlobResult<()> {
        // Azure wants every block id of a blob the same length: a fixed-width counter.
        let block_id = (self.blocks.len() as u64).to_be_bytes().to_vec();
        let len = body.len() as u64;
        self.inner
            .blob(&self.id)?
            .block_blob_client()
            .stage_block(&block_id, len, body.into(), None)
            .await
            .map_err(|e| remote("PutBlock", e))?;
        self.blocks.push(block_id);
        Ok(())
    }
}

#[async_trait]
impl BlobWriter for AzureWriter {
    async fn write(&mut self, data: Bytes) -> BlobResult<()> {
        self.buf.extend_from_slice(&data);
        while self.buf.len() >= self.inner.block_size {
            let block = self.buf.split_to(self.inner.block_size).freeze();
            self.stage(block).await?;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> BlobResult<String> {
        let rest = self.buf.split().freeze();
        if self.blocks.is_empty() {
            // One Put Blob: the upload stays a single request while it fits one partition.
            let options = BlobClientUploadOptions {
                parallel: Some(NonZero::<usize>::MIN),
                partition_size: NonZero::new(self.inner.block_size.max(rest.len()) as u64),
                ..Default::default()
            };
            self.inner.blob(&self.id)?.upload(rest.into(), Some(options)).await.map_err(|e| remote("PutBlob", e))?;
            return Ok(std::mem::take(&mut self.id));
        }
        if !rest.is_empty() {
            self.stage(rest).await?;
        }
        let list = BlockLookupList { latest: Some(std::mem::take(&mut self.blocks)), ..Default::default() };
        let list = list.try_into().map_err(|e| remote("PutBlockList", e))?;
        self.inner
            .blob(&self.id)?
            .block_blob_client()
            .commit_block_list(list, None)
            .await
            .map_err(|e| remote("PutBlockList", e))?;
        Ok(std::mem::take(&mut self.id))
    }
}

#[async_trait]
impl BlobStore for AzureBlobStore {
    async fn create(&self) -> BlobResult<Box<dyn BlobWriter>> {
        Ok(Box::new(AzureWriter {
            inner: self.inner.clone(),
            id: new_blob_id(),
            buf: BytesMut::new(),
            blocks: Vec::new(),
        }))
    }

    async fn open(&self, id: &str, range: Option<Range<u64>>) -> BlobResult<BlobStream> {
        if !is_blob_id(id) {
            return Err(BlobError::NotFound(id.to_owned()));
        }
        if range.as_ref().is_some_and(|r| r.start >= r.end) {
            return Ok(futures_util::stream::empty().boxed());
        }
        let options = BlobClientDownloadOptions {
            range: range.map(HttpRange::from),
            parallel: Some(NonZero::<usize>::MIN),
            partition_size: Some(ONE_PARTITION),
            ..Default::default()
        };
        let body = match self.inner.blob(id)?.download(Some(options)).await {
            Ok(downloaded) => downloaded.body,
            Err(e) if is_not_found(&e) => return Err(BlobError::NotFound(id.to_owned())),
            Err(e) => return Err(remote("GetBlob", e)),
        };
        Ok(body.map_err(|e| std::io::Error::other(describe(&e))).boxed())
    }

    async fn delete(&self, id: &str) -> BlobResult<()> {
        if !is_blob_id(id) {
            return Ok(());
        }
        // Snapshots (ours has none, a backup tool's may) would otherwise make the delete fail.
        let options = BlobClientDeleteOptions {
            delete_snapshots: Some(DeleteSnapshotsOptionType::Include),
            ..Default::default()
        };
        match self.inner.blob(id)?.delete(Some(options)).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(remote("DeleteBlob", e)),
        }
    }

    async fn clean_temp(&self) -> BlobResult<usize> {
        // Nothing to clean: blocks staged by an unfinished write are never visible as a blob
        // (only Put Block List makes them one), and Azure discards uncommitted blocks after
        // seven days.
        Ok(0)
    }

    async fn list_ids(&self) -> BlobResult<Vec<String>> {
        let inner = &self.inner;
        let options = BlobContainerClientListBlobsOptions {
            prefix: Some(inner.prefix.clone()).filter(|p| !p.is_empty()),
            ..Default::default()
        };
        let mut pages = inner.container()?.list_blobs(Some(options)).map_err(|e| remote("ListBlobs", e))?.into_pages();
        let mut ids = Vec::new();
        while let Some(page) = pages.try_next().await.map_err(|e| remote("ListBlobs", e))? {
            let page = page.into_model().map_err(|e| remote("ListBlobs", e))?;
            for item in page.blob_items {
                match item.name.as_deref().and_then(|n| n.strip_prefix(inner.prefix.as_str())) {
                    Some(id) if is_blob_id(id) => ids.push(id.to_owned()),
                    _ => tracing::warn!(
                        name = item.name.as_deref().unwrap_or(""),
                        "ignoring a remote blob that is not ours"
                    ),
                }
            }
        }
        Ok(ids)
    }

    async fn probe(&self) -> BlobResult<()> {
        let inner = &self.inner;
        // One List Blobs page of at most one name: it fails unless the container exists and
        // the SAS admits it. Not Get Container Properties: a container-scoped service SAS,
        // enough for everything else here, does not grant it.
        let options = BlobContainerClientListBlobsOptions {
            prefix: Some(inner.prefix.clone()).filter(|p| !p.is_empty()),
            maxresults: Some(1),
            ..Default::default()
        };
        let mut pages = inner.container()?.list_blobs(Some(options)).map_err(|e| remote("ListBlobs", e))?.into_pages();
        pages.try_next().await.map_err(|e| remote("ListBlobs", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_blanks_every_signature() {
        let text = "error sending request for url (http://127.0.0.1:10000/acct/c/x?sv=2019-12-12&sig=abc%2Bdef&se=1): \
            refused, sig=zzz";
        let redacted = redact(text);
        assert_eq!(
            redacted,
            "error sending request for url (http://127.0.0.1:10000/acct/c/x?sv=2019-12-12&sig=REDACTED&se=1): refused, \
                sig=REDACTED"
        );
        assert_eq!(redact("no secret here"), "no secret here");
        assert_eq!(redact("ends with sig=abc"), "ends with sig=REDACTED");
    }
}
