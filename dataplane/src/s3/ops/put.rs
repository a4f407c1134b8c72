//! PutObject: headers and digests checked up front, the body streamed into a new blob, the row
//! made visible only once the blob is durable and every digest matched.

use std::sync::Arc;

use axum::response::Response;
use http::StatusCode;

use super::store::{receive, Digests, Sink};
use super::{quoted, reject_unsupported, request_acl, Req};
use crate::checksum::ChecksumAlgorithm;
use crate::error::S3Result;
use crate::meta::BucketRow;
use crate::s3::body::BodyReader;
use crate::s3::headers;
use crate::s3::names::ObjectKey;
use crate::s3::response;
use crate::state::AppState;

pub(crate) async fn put_object(
    state: &Arc<AppState>,
    bucket: &BucketRow,
    key: ObjectKey,
    req: Req,
) -> S3Result<Response> {
    let h = &req.headers;
    reject_unsupported(h)?;
    let digests = Digests::from_headers(h)?;
    let condition = headers::write_condition(h);
    let meta = headers::object_meta_from(h)?;
    let acl = request_acl(state, h).await?.to_stored();
    let limits = &state.config.limits;

    let reader = BodyReader::new(req.body, req.payload, h, limits.max_object_size, limits.body_idle_timeout())?;
    let sink = Sink::for_object(state, digests.algorithm(), reader.declared_len()).await?;
    let received = receive(reader, sink, &digests).await?;
    let row = received.object_row(&bucket.name, key.as_str(), meta, req.principal.owner_id(), acl);
    let (row, written) = received.commit(state, row, condition).await?;
    let mut resp = response::empty(StatusCode::OK);
    super::set_version_header(&mut resp, written.versioned, &written.version_id);
    response::set(&mut resp, "etag", &quoted(&row.etag));
    if let Some(c) = &row.meta.checksum {
        if let Some(a) = ChecksumAlgorithm::parse(&c.algorithm) {
            response::set(&mut resp, a.header(), &c.value);
            response::set(&mut resp, "x-amz-checksum-type", "FULL_OBJECT");
        }
    }
    Ok(resp)
}
