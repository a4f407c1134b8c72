//! Prometheus metrics with an owned registry (no globals), and a body wrapper that counts bytes
//! as they stream so sizes are measured without buffering. Labels come only from fixed sets:
//! operation names, HTTP methods, status codes.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub request_size: Histogram,
    pub response_size: Histogram,
    pub s3_operations: IntCounterVec,
    pub objects: IntGauge,
    pub buckets: IntGauge,
    pub bytes_received: IntCounter,
    pub bytes_sent: IntCounter,
}

const DURATION_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
const SIZE_BUCKETS: [f64; 10] =
    [256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0, 67108864.0];

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("bleepstore_http_requests_total", "S3 HTTP requests by method, operation and status"),
            &["method", "operation", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new("bleepstore_http_request_duration_seconds", "Time to the response head")
                .buckets(DURATION_BUCKETS.to_vec()),
            &["method", "operation"],
        )?;
        let request_size = Histogram::with_opts(
            HistogramOpts::new("bleepstore_http_request_size_bytes", "Request body bytes")
                .buckets(SIZE_BUCKETS.to_vec()),
        )?;
        let response_size = Histogram::with_opts(
            HistogramOpts::new("bleepstore_http_response_size_bytes", "Response body bytes")
                .buckets(SIZE_BUCKETS.to_vec()),
        )?;
        let s3_operations = IntCounterVec::new(
            Opts::new("bleepstore_s3_operations_total", "S3 operations by name and outcome (HTTP status)"),
            &["operation", "status"],
        )?;
        let objects = IntGauge::new("bleepstore_objects", "Objects stored")?;
        let buckets = IntGauge::new("bleepstore_buckets", "Buckets")?;
        let bytes_received = IntCounter::new("bleepstore_bytes_received_total", "Request body bytes received")?;
        let bytes_sent = IntCounter::new("bleepstore_bytes_sent_total", "Response body bytes sent")?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(request_size.clone()))?;
        registry.register(Box::new(response_size.clone()))?;
        registry.register(Box::new(s3_operations.clone()))?;
        registry.register(Box::new(objects.clone()))?;
        registry.register(Box::new(buckets.clone()))?;
        registry.register(Box::new(bytes_received.clone()))?;
        registry.register(Box::new(bytes_sent.clone()))?;
        registry.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))?;
        Ok(Self {
            registry,
            http_requests,
            http_duration,
            request_size,
            response_size,
            s3_operations,
            objects,
            buckets,
            bytes_received,
            bytes_sent,
        })
    }

    /// The text exposition format of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// A fixed label for a request method.
pub fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::PUT => "PUT",
        http::Method::POST => "POST",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Which way a counted body flows.
#[derive(Clone, Copy)]
pub enum Direction {
    Received,
    Sent,
}

/// Wraps a body and counts the bytes that pass; observes the size histogram once, at the end.
pub struct CountingBody<B> {
    inner: B,
    metrics: Arc<Metrics>,
    direction: Direction,
    total: u64,
    observed: bool,
}

impl<B> CountingBody<B> {
    pub fn new(inner: B, metrics: Arc<Metrics>, direction: Direction) -> Self {
        Self { inner, metrics, direction, total: 0, observed: false }
    }

    fn observe(&mut self) {
        if !self.observed {
            self.observed = true;
            match self.direction {
                Direction::Received => self.metrics.request_size.observe(self.total as f64),
                Direction::Sent => self.metrics.response_size.observe(self.total as f64),
            }
        }
    }
}

impl<B> Drop for CountingBody<B> {
    fn drop(&mut self) {
        self.observe();
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for CountingBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let n = data.len() as u64;
                    this.total += n;
                    match this.direction {
                        Direction::Received => this.metrics.bytes_received.inc_by(n),
                        Direction::Sent => this.metrics.bytes_sent.inc_by(n),
                    }
                }
            }
            Poll::Ready(None) => this.observe(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn counting_body_counts_and_observes_once() {
        let m = Arc::new(Metrics::new().unwrap());
        let body =
            CountingBody::new(http_body_util::Full::new(Bytes::from_static(b"hello")), m.clone(), Direction::Sent);
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(&collected[..], b"hello");
        assert_eq!(m.bytes_sent.get(), 5);
        assert_eq!(m.response_size.get_sample_count(), 1);
        assert!(m.render().contains("bleepstore_bytes_sent_total 5"));
        assert!(m.render().contains("process_resident_memory_bytes"));
    }
}
