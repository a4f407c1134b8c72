//! Blobs as objects in a remote S3 bucket (AWS, or any S3-compatible service), through
//! aws-sdk-s3: `<prefix><id>`. A blob is buffered up to one part; a blob that fits is written
//! with one PutObject at commit, a larger one becomes a multipart upload whose parts go out as
//! they fill and which is completed at commit, so the remote object appears whole or not at all.
//! An abandoned writer aborts its upload; start-up recovery aborts any left by a crash.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::{is_blob_id, new_blob_id, BlobError, BlobResult, BlobStore, BlobStream, BlobWriter};
use crate::config::S3BackendConfig;
use secrecy::ExposeSecret;

pub struct S3BlobStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    bucket: String,
    prefix: String,
    part_size: usize,
}

impl Inner {
    fn key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }
}

/// Classifies a remote failure: no answer, or a 5xx/throttling answer, is `Unavailable` (the
/// client may retry); anything else is an internal error of this store.
fn remote<E>(op: &'static str, e: &SdkError<E, HttpResponse>) -> BlobError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    let message = format!("{op}: {}", DisplayErrorContext(e));
    let unavailable = match e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => true,
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => status.is_some_and(|s| s >= 500 || s == 429),
        _ => false,
    };
    tracing::error!(operation = op, error = %message, "remote S3 blob store failed");
    if unavailable {
        BlobError::Unavailable(message)
    } else {
        BlobError::Remote(message)
    }
}

impl S3BlobStore {
    /// Builds the client: region, endpoint and credentials from `cfg` where given, else from
    /// the standard AWS chain (environment, profile, web identity, instance metadata).
    pub async fn connect(cfg: &S3BackendConfig) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(120))
                    .build(),
            )
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3));
        if let Some(region) = &cfg.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(endpoint) = &cfg.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let (Some(id), Some(secret)) = (&cfg.access_key_id, &cfg.secret_access_key) {
            loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                id,
                secret.expose_secret(),
                None,
                None,
                "bleepstore-config",
            ));
        }
        let shared = loader.load().await;
        let conf = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(cfg.force_path_style)
            // Checksums only where the API requires them: not every S3-compatible service
            // accepts the SDK's default aws-chunked trailers.
            .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired)
            .build();
        Self {
            inner: Arc::new(Inner {
                client: Client::from_conf(conf),
                bucket: cfg.bucket.clone(),
                prefix: cfg.prefix.clone(),
                part_size: cfg.part_size as usize,
            }),
        }
    }
}

struct S3Writer {
    inner: Arc<Inner>,
    id: String,
    buf: BytesMut,
    /// The multipart upload, once the blob outgrew one part.
    upload: Option<Upload>,
}

struct Upload {
    id: String,
    parts: Vec<CompletedPart>,
}

impl S3Writer {
    async fn send_part(&mut self, body: Bytes) -> BlobResult<()> {
        let inner = &self.inner;
        let key = inner.key(&self.id);
        if self.upload.is_none() {
            let created = inner
                .client
                .create_multipart_upload()
                .bucket(&inner.bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| remote("CreateMultipartUpload", &e))?;
            let id = created.upload_id().ok_or_else(|| BlobError::Remote("no UploadId in the answer".into()))?;
            self.upload = Some(Upload { id: id.to_owned(), parts: Vec::new() });
        }
        let upload = self.upload.as_mut().ok_or_else(|| BlobError::Remote("upload vanished".into()))?;
        let number = upload.parts.len() as i32 + 1;
        let sent = inner
            .client
            .upload_part()
            .bucket(&inner.bucket)
            .key(&key)
            .upload_id(&upload.id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| remote("UploadPart", &e))?;
        upload
            .parts
            .push(CompletedPart::builder().part_number(number).set_e_tag(sent.e_tag().map(String::from)).build());
        Ok(())
    }
}

#[async_trait]
impl BlobWriter for S3Writer {
    async fn write(&mut self, data: Bytes) -> BlobResult<()> {
        self.buf.extend_from_slice(&data);
        while self.buf.len() >= self.inner.part_size {
            let part = self.buf.split_to(self.inner.part_size).freeze();
            self.send_part(part).await?;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> BlobResult<String> {
        let inner = self.inner.clone();
        let key = inner.key(&self.id);
        let rest = self.buf.split().freeze();
        if self.upload.is_none() {
            inner
                .client
                .put_object()
                .bucket(&inner.bucket)
                .key(&key)
                .body(ByteStream::from(rest))
                .send()
                .await
                .map_err(|e| remote("PutObject", &e))?;
            return Ok(std::mem::take(&mut self.id));
        }
        if !rest.is_empty() {
            self.send_part(rest).await?;
        }
        let upload = self.upload.take().ok_or_else(|| BlobError::Remote("upload vanished".into()))?;
        let done = inner
            .client
            .complete_multipart_upload()
            .bucket(&inner.bucket)
            .key(&key)
            .upload_id(&upload.id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(upload.parts)).build())
            .send()
            .await;
        if let Err(e) = done {
            self.upload = Some(Upload { id: upload.id, parts: Vec::new() });
            return Err(remote("CompleteMultipartUpload", &e));
        }
        Ok(std::mem::take(&mut self.id))
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        // An abandoned multipart upload is aborted in the background; if this process dies
        // first, start-up recovery aborts it (`clean_temp`).
        let (Some(upload), Ok(handle)) = (self.upload.take(), tokio::runtime::Handle::try_current()) else { return };
        let (inner, key) = (self.inner.clone(), self.inner.key(&self.id));
        handle.spawn(async move {
            let aborted = inner
                .client
                .abort_multipart_upload()
                .bucket(&inner.bucket)
                .key(&key)
                .upload_id(&upload.id)
                .send()
                .await;
            if let Err(e) = aborted {
                tracing::warn!(key, error = %DisplayErrorContext(e),
                    "could not abort an abandoned remote upload; start-up recovery will");
            }
        });
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn create(&self) -> BlobResult<Box<dyn BlobWriter>> {
        Ok(Box::new(S3Writer { inner: self.inner.clone(), id: new_blob_id(), buf: BytesMut::new(), upload: None }))
    }

    async fn open(&self, id: &str, range: Option<Range<u64>>) -> BlobResult<BlobStream> {
        if !is_blob_id(id) {
            return Err(BlobError::NotFound(id.to_owned()));
        }
        let inner = &self.inner;
        let mut get = inner.client.get_object().bucket(&inner.bucket).key(inner.key(id));
        if let Some(r) = &range {
            if r.start >= r.end {
                return Ok(futures_util::stream::empty().boxed());
            }
            get = get.range(format!("bytes={}-{}", r.start, r.end - 1));
        }
        let out = match get.send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Err(BlobError::NotFound(id.to_owned()))
            }
            Err(e) => return Err(remote("GetObject", &e)),
        };
        let body = out.body;
        Ok(futures_util::stream::unfold(body, |mut body| async move {
            body.next().await.map(|chunk| (chunk.map_err(std::io::Error::other), body))
        })
        .boxed())
    }

    async fn delete(&self, id: &str) -> BlobResult<()> {
        if !is_blob_id(id) {
            return Ok(());
        }
        let inner = &self.inner;
        // S3 answers 204 whether or not the key existed.
        inner
            .client
            .delete_object()
            .bucket(&inner.bucket)
            .key(inner.key(id))
            .send()
            .await
            .map_err(|e| remote("DeleteObject", &e))?;
        Ok(())
    }

    async fn clean_temp(&self) -> BlobResult<usize> {
        let inner = &self.inner;
        let mut aborted = 0;
        let mut markers: (Option<String>, Option<String>) = (None, None);
        loop {
            let page = inner
                .client
                .list_multipart_uploads()
                .bucket(&inner.bucket)
                .prefix(&inner.prefix)
                .set_key_marker(markers.0.take())
                .set_upload_id_marker(markers.1.take())
                .send()
                .await
                .map_err(|e| remote("ListMultipartUploads", &e))?;
            for upload in page.uploads() {
                let (Some(key), Some(upload_id)) = (upload.key(), upload.upload_id()) else { continue };
                if !key.strip_prefix(inner.prefix.as_str()).is_some_and(is_blob_id) {
                    continue;
                }
                inner
                    .client
                    .abort_multipart_upload()
                    .bucket(&inner.bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .send()
                    .await
                    .map_err(|e| remote("AbortMultipartUpload", &e))?;
                aborted += 1;
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            markers = (page.next_key_marker().map(String::from), page.next_upload_id_marker().map(String::from));
            if markers.0.is_none() {
                break;
            }
        }
        Ok(aborted)
    }

    async fn list_ids(&self) -> BlobResult<Vec<String>> {
        let inner = &self.inner;
        let mut ids = Vec::new();
        let mut pages =
            inner.client.list_objects_v2().bucket(&inner.bucket).prefix(&inner.prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| remote("ListObjectsV2", &e))?;
            for object in page.contents() {
                match object.key().and_then(|k| k.strip_prefix(inner.prefix.as_str())) {
                    Some(id) if is_blob_id(id) => ids.push(id.to_owned()),
                    _ => {
                        tracing::warn!(key = object.key().unwrap_or(""), "ignoring a remote object that is not a blob")
                    }
                }
            }
        }
        Ok(ids)
    }

    async fn probe(&self) -> BlobResult<()> {
        let inner = &self.inner;
        inner.client.head_bucket().bucket(&inner.bucket).send().await.map_err(|e| remote("HeadBucket", &e))?;
        Ok(())
    }
}
