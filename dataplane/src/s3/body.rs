//! The request body as a stream of verified data: idle timeout, size limit, aws-chunked
//! decoding, declared-length and `x-amz-content-sha256` checks. Nothing is buffered whole;
//! the final checks run when the stream ends, before anything is committed.

use std::time::Duration;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::auth::chunked::{ChunkError, ChunkedDecoder};
use crate::auth::{Payload, PendingSignature};
use crate::error::{S3Error, S3ErrorCode, S3Result};

type DataStream = http_body_util::BodyDataStream<Body>;

pub struct BodyReader {
    stream: DataStream,
    idle: Duration,
    decoder: Option<ChunkedDecoder>,
    buf: BytesMut,
    limit: u64,
    declared: Option<u64>,
    received: u64,
    sha256: Option<(Sha256, String)>,
    /// A signature over the hash of the bytes as sent, checked when they end.
    pending: Option<(Sha256, Box<PendingSignature>)>,
    eof: bool,
    finished: bool,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn parse_len(headers: &HeaderMap, name: &'static str) -> S3Result<Option<u64>> {
    header(headers, name)
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| S3Error::invalid_argument(name, v, format!("{name} is not a valid length")))
        })
        .transpose()
}

impl BodyReader {
    /// Prepares to read `body`; `limit` bounds the decoded size (`EntityTooLarge` beyond it).
    pub fn new(body: Body, payload: Payload, headers: &HeaderMap, limit: u64, idle: Duration) -> S3Result<Self> {
        // hyper knows the framed length: Content-Length, or zero for a request with neither
        // Content-Length nor Transfer-Encoding (RFC 9112 §6.3); chunked transfer has none.
        let content_length = match parse_len(headers, "content-length")? {
            Some(len) => Some(len),
            None => http_body::Body::size_hint(&body).exact(),
        };
        let aws_chunked = header(headers, "content-encoding")
            .is_some_and(|v| v.split(',').any(|e| e.trim().eq_ignore_ascii_case("aws-chunked")));
        let mut pending = None;
        let (decoder, declared, sha256) = match payload {
            Payload::Streaming { signer, trailer } => {
                let declared = parse_len(headers, "x-amz-decoded-content-length")?.ok_or_else(|| {
                    S3Error::new(S3ErrorCode::MissingContentLength)
                        .with_message("x-amz-decoded-content-length is required for streaming uploads.")
                })?;
                (Some(ChunkedDecoder::new(signer, trailer)), Some(declared), None)
            }
            other => {
                let sha = match other {
                    Payload::Sha256(hex) => Some((Sha256::new(), hex)),
                    Payload::Deferred(signature) => {
                        pending = Some((Sha256::new(), signature));
                        None
                    }
                    _ => None,
                };
                if aws_chunked {
                    // Unsigned aws-chunked without a STREAMING-* marker (some clients): decode anyway.
                    let trailer = headers.contains_key("x-amz-trailer");
                    (Some(ChunkedDecoder::new(None, trailer)), parse_len(headers, "x-amz-decoded-content-length")?, sha)
                } else {
                    (None, content_length, sha)
                }
            }
        };
        if let Some(len) = declared {
            if len > limit {
                return Err(S3Error::new(S3ErrorCode::EntityTooLarge)
                    .with_field("ProposedSize", len.to_string())
                    .with_field("MaxSizeAllowed", limit.to_string()));
            }
        }
        Ok(Self {
            stream: http_body_util::BodyDataStream::new(body),
            idle,
            decoder,
            buf: BytesMut::new(),
            limit,
            declared,
            received: 0,
            sha256,
            pending,
            eof: false,
            finished: false,
        })
    }

    /// The decoded length the client declared, if any.
    pub fn declared_len(&self) -> Option<u64> {
        self.declared
    }

    /// Trailer headers of an aws-chunked body (complete once `next` returned `None`).
    pub fn trailers(&self) -> &[(String, String)] {
        self.decoder.as_ref().map_or(&[], |d| d.trailers())
    }

    /// The next piece of verified body data; `None` at the end, after every check passed.
    pub async fn next(&mut self) -> S3Result<Option<Bytes>> {
        loop {
            if self.finished {
                return Ok(None);
            }
            if let Some(dec) = &mut self.decoder {
                if let Some(data) = dec.decode(&mut self.buf).map_err(|e| chunk_error(&e))? {
                    return self.account(data).map(Some);
                }
            }
            if self.eof {
                self.finish()?;
                return Ok(None);
            }
            match tokio::time::timeout(self.idle, self.stream.next()).await {
                Err(_) => return Err(S3ErrorCode::RequestTimeout.into()),
                Ok(None) => self.eof = true,
                Ok(Some(Err(e))) => return Err(S3Error::new(S3ErrorCode::IncompleteBody).with_source(e)),
                Ok(Some(Ok(data))) if self.pending.is_some() && self.decoder.is_some() => {
                    self.hash_as_sent(&data);
                    self.buf.extend_from_slice(&data);
                }
                Ok(Some(Ok(data))) if self.pending.is_some() => {
                    self.hash_as_sent(&data);
                    return self.account(data).map(Some);
                }
                // The decoder drains `buf` on every call (header lines are bounded), so it never
                // holds more than one partial line plus one frame.
                Ok(Some(Ok(data))) if self.decoder.is_some() => self.buf.extend_from_slice(&data),
                Ok(Some(Ok(data))) => return self.account(data).map(Some),
            }
        }
    }

    /// Reads the whole body; more than `max` bytes is `too_big`. For small documents only; the
    /// trailers stay readable afterwards.
    pub async fn read_all(&mut self, max: usize, too_big: S3ErrorCode) -> S3Result<Bytes> {
        let refuse = || S3Error::new(too_big).with_message(format!("The request body exceeds {max} bytes."));
        if self.declared.is_some_and(|d| d > max as u64) {
            return Err(refuse());
        }
        let mut out = BytesMut::new();
        while let Some(data) = self.next().await? {
            if out.len() + data.len() > max {
                return Err(refuse());
            }
            out.extend_from_slice(&data);
        }
        Ok(out.freeze())
    }

    fn hash_as_sent(&mut self, data: &[u8]) {
        if let Some((hasher, _)) = &mut self.pending {
            hasher.update(data);
        }
    }

    fn account(&mut self, data: Bytes) -> S3Result<Bytes> {
        self.received += data.len() as u64;
        if self.received > self.limit {
            return Err(S3Error::new(S3ErrorCode::EntityTooLarge).with_field("MaxSizeAllowed", self.limit.to_string()));
        }
        if self.declared.is_some_and(|d| self.received > d) {
            return Err(
                S3Error::new(S3ErrorCode::IncompleteBody).with_message("The body is longer than the declared length.")
            );
        }
        if let Some((hasher, _)) = &mut self.sha256 {
            hasher.update(&data);
        }
        Ok(data)
    }

    fn finish(&mut self) -> S3Result<()> {
        self.finished = true;
        // The signature first: until it holds, nothing about this body is the caller's.
        if let Some((hasher, signature)) = self.pending.take() {
            signature.verify(&hex::encode(hasher.finalize()))?;
        }
        if let Some(dec) = &self.decoder {
            dec.finish().map_err(|e| chunk_error(&e))?;
        }
        if let Some(declared) = self.declared {
            if self.received != declared {
                return Err(S3ErrorCode::IncompleteBody.into());
            }
        }
        if let Some((hasher, expected)) = self.sha256.take() {
            let actual = hex::encode(hasher.finalize());
            if actual != expected {
                return Err(S3Error::new(S3ErrorCode::XAmzContentSHA256Mismatch)
                    .with_field("ClientComputedContentSHA256", expected)
                    .with_field("S3ComputedContentSHA256", actual));
            }
        }
        Ok(())
    }
}

fn chunk_error(e: &ChunkError) -> S3Error {
    match e {
        ChunkError::ChunkSignature | ChunkError::TrailerSignature => {
            S3Error::new(S3ErrorCode::SignatureDoesNotMatch).with_message(e.to_string())
        }
        ChunkError::Truncated => S3Error::new(S3ErrorCode::IncompleteBody).with_message(e.to_string()),
        ChunkError::Framing(_) => S3Error::new(S3ErrorCode::InvalidRequest).with_message(e.to_string()),
    }
}
