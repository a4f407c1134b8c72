//! The admin API (`/admin/v1/…`, JSON) the operator drives: access keys and their grants,
//! buckets with owners, usage. Every call needs the bearer token, compared in constant time.
//! Every call is idempotent: repeating it with the same body changes nothing. Secrets are
//! accepted, never returned or logged.

use secrecy::ExposeSecret;
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::meta::{BucketRow, CreateBucketOutcome, GRANT_OWNER, GRANT_READ, GRANT_WRITE};
use crate::s3::names::BucketName;
use crate::state::AppState;

pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin/v1/keys/{access_key}", put(put_key).get(get_key).delete(delete_key))
        .route("/admin/v1/keys/{access_key}/grants", put(put_grants))
        .route("/admin/v1/buckets/{bucket}", put(put_bucket).get(get_bucket).delete(delete_bucket))
        .route("/admin/v1/usage", get(usage))
        .route_layer(middleware::from_fn_with_state(state, require_token))
}

/// An admin error: status, a stable code and a message.
#[derive(Debug)]
struct AdminError(StatusCode, &'static str, String);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1, "message": self.2 }))).into_response()
    }
}

type AdminResult = Result<Response, AdminError>;

fn internal(e: impl std::fmt::Display) -> AdminError {
    tracing::error!(error = %e, "admin request failed");
    AdminError(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "the request failed; see the server log".into())
}

fn bad_request(message: impl Into<String>) -> AdminError {
    AdminError(StatusCode::BAD_REQUEST, "BadRequest", message.into())
}

async fn require_token(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let expected = state.config.management.admin_token.clone();
    let given = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let ok = match &expected {
        Some(token) => given.len() == token.len() && bool::from(given.as_bytes().ct_eq(token.as_bytes())),
        None => false,
    };
    if !ok {
        let message =
            if expected.is_none() { "no admin token is configured" } else { "a valid bearer token is required" };
        let mut resp = AdminError(StatusCode::UNAUTHORIZED, "Unauthorized", message.into()).into_response();
        resp.headers_mut().insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
        return resp;
    }
    next.run(req).await
}

/// Parses a JSON body with a clear 400 on failure.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AdminError> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("invalid JSON body: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    secret_key: String,
    /// The canonical user id the key acts as (defaults to the key id).
    #[serde(default)]
    owner: Option<String>,
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

fn valid_key_id(id: &str) -> Result<(), AdminError> {
    if !(3..=128).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err(bad_request("access key ids are 3 to 128 characters of letters, digits, '-', '_' and '.'"));
    }
    Ok(())
}

/// A PUT of an access key, validated: the id, the body and its secret.
fn key_request(id: &str, body: &[u8]) -> Result<KeyBody, AdminError> {
    valid_key_id(id)?;
    let body: KeyBody = parse(body)?;
    if body.secret_key.len() < 16 {
        return Err(bad_request("secret_key must be at least 16 characters"));
    }
    if matches!(body.owner.as_deref().unwrap_or(id), "anonymous" | "") {
        return Err(bad_request("owner must be a non-empty id other than \"anonymous\""));
    }
    Ok(body)
}

async fn put_key(State(state): State<Arc<AppState>>, Path(id): Path<String>, body: axum::body::Bytes) -> AdminResult {
    let body = key_request(&id, &body)?;
    let existing = state.db.get_credential(&id).await.map_err(internal)?;
    if existing.as_ref().is_some_and(|c| c.is_root) {
        return Err(AdminError(
            StatusCode::CONFLICT,
            "RootKey",
            "the root key is managed by the server's configuration".into(),
        ));
    }
    let owner = body.owner.unwrap_or_else(|| id.clone());
    let unchanged = existing.as_ref().is_some_and(|c| {
        c.secret.expose_secret() == body.secret_key && c.owner_id == owner && c.enabled == body.enabled
    });
    if !unchanged {
        state.db.put_credential(&id, &body.secret_key, &owner, body.enabled).await.map_err(internal)?;
    }
    let status = if existing.is_some() { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(json!({ "access_key": id, "owner": owner, "enabled": body.enabled }))).into_response())
}

async fn get_key(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> AdminResult {
    let cred = state
        .db
        .get_credential(&id)
        .await
        .map_err(internal)?
        .ok_or_else(|| AdminError(StatusCode::NOT_FOUND, "NoSuchKey", format!("no access key {id}")))?;
    let grants: Vec<serde_json::Value> = state
        .db
        .grants_of(&id)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|(bucket, flags)| json!({ "bucket": bucket, "access": access_name(flags) }))
        .collect();
    Ok(Json(json!({ "access_key": cred.access_key, "owner": cred.owner_id, "enabled": cred.enabled,
        "root": cred.is_root, "grants": grants }))
    .into_response())
}

async fn delete_key(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> AdminResult {
    if state.db.get_credential(&id).await.map_err(internal)?.is_some_and(|c| c.is_root) {
        return Err(AdminError(
            StatusCode::CONFLICT,
            "RootKey",
            "the root key is managed by the server's configuration".into(),
        ));
    }
    state.db.delete_credential(&id).await.map_err(internal)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantsBody {
    grants: Vec<GrantEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantEntry {
    bucket: String,
    access: String,
}

fn access_flags(access: &str) -> Option<u8> {
    match access {
        "read" => Some(GRANT_READ),
        "write" => Some(GRANT_WRITE),
        "readwrite" => Some(GRANT_READ | GRANT_WRITE),
        "owner" => Some(GRANT_OWNER),
        _ => None,
    }
}

fn access_name(flags: u8) -> &'static str {
    match flags {
        f if f & GRANT_OWNER != 0 => "owner",
        f if f == GRANT_READ | GRANT_WRITE => "readwrite",
        GRANT_WRITE => "write",
        _ => "read",
    }
}

/// A PUT of a key's grants, validated: (bucket, access flags) pairs.
fn grants_request(body: &[u8]) -> Result<Vec<(String, u8)>, AdminError> {
    let body: GrantsBody = parse(body)?;
    let mut grants = Vec::new();
    for g in body.grants {
        BucketName::parse(&g.bucket).map_err(|e| bad_request(format!("bucket {}: {}", g.bucket, e.message)))?;
        let flags = access_flags(&g.access)
            .ok_or_else(|| bad_request(format!("access must be read, write, readwrite or owner, not {}", g.access)))?;
        grants.push((g.bucket, flags));
    }
    Ok(grants)
}

/// Replaces a key's grants with exactly the ones given.
async fn put_grants(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> AdminResult {
    let grants = grants_request(&body)?;
    if state.db.get_credential(&id).await.map_err(internal)?.is_none() {
        return Err(AdminError(StatusCode::NOT_FOUND, "NoSuchKey", format!("no access key {id}")));
    }
    state.db.replace_grants(&id, grants).await.map_err(internal)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BucketBody {
    owner: String,
    #[serde(default)]
    acl: Option<String>,
    /// `Enabled` or `Suspended`; absent leaves the bucket's versioning as it is.
    #[serde(default)]
    versioning: Option<String>,
    /// The bucket's tags, key to value: replaces them (`{}` removes them all); absent leaves
    /// them as they are. S3's rules apply (s3-api.md §17).
    #[serde(default)]
    tags: Option<std::collections::BTreeMap<String, String>>,
}

/// The tag set a bucket body asks for, checked: stored in key order.
fn requested_tags(body: &BucketBody) -> Result<Option<crate::s3::tagging::Tags>, AdminError> {
    let Some(map) = &body.tags else { return Ok(None) };
    let tags: crate::s3::tagging::Tags = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    crate::s3::tagging::check(&tags, crate::s3::tagging::TagScope::Bucket)
        .map_err(|e| AdminError(StatusCode::BAD_REQUEST, "InvalidTag", format!("tags: {}", e.message)))?;
    Ok(Some(tags))
}

/// A bucket's tags as the admin API shows them: key to value, or null for none.
async fn bucket_tags(state: &AppState, name: &str) -> Result<serde_json::Value, AdminError> {
    let doc = state.db.bucket_config(name, crate::meta::ConfigKind::Tagging).await.map_err(internal)?;
    let Some(doc) = doc else { return Ok(serde_json::Value::Null) };
    let tags = crate::s3::tagging::from_stored(&doc).map_err(|e| internal(e.message))?;
    Ok(serde_json::Value::Object(tags.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect()))
}

/// The versioning a bucket body asks for.
fn requested_versioning(body: &BucketBody) -> Result<Option<crate::meta::Versioning>, AdminError> {
    match body.versioning.as_deref() {
        None => Ok(None),
        Some("Enabled") => Ok(Some(crate::meta::Versioning::Enabled)),
        Some("Suspended") => Ok(Some(crate::meta::Versioning::Suspended)),
        Some(other) => Err(bad_request(format!("versioning must be Enabled or Suspended, not {other}"))),
    }
}

/// A PUT of a bucket, validated: the name, the body, and the ACL as it is stored.
fn bucket_request(name: &str, body: &[u8]) -> Result<(BucketBody, String), AdminError> {
    BucketName::parse(name).map_err(|e| bad_request(e.message.to_string()))?;
    let body: BucketBody = parse(body)?;
    if body.owner.is_empty() || body.owner == "anonymous" {
        return Err(bad_request("owner must be a non-empty id other than \"anonymous\""));
    }
    let requested = body.acl.as_deref().unwrap_or("private");
    // Stored as S3 stores it (e.g. bucket-owner-full-control is private for a bucket).
    let acl = crate::s3::acl::Acl::canned(requested)
        .map(|a| a.for_bucket().to_stored())
        .ok_or_else(|| bad_request(format!("acl must be a canned ACL, not {requested}")))?;
    requested_versioning(&body)?;
    requested_tags(&body)?;
    Ok((body, acl))
}

/// Hostile-input entry point (fuzz target `admin_json`, property test below): the first line is
/// the id or bucket name from the path, the rest a request body, through every validating
/// parser of the admin API. Each must answer with a value or a 400, never panic.
#[cfg(any(test, feature = "hostile-input"))]
pub fn hostile_input(data: &[u8]) {
    let (path, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    let path = String::from_utf8_lossy(path);
    for r in [key_request(&path, body).map(drop), grants_request(body).map(drop), bucket_request(&path, body).map(drop)]
    {
        if let Err(AdminError(status, ..)) = r {
            assert_eq!(status, StatusCode::BAD_REQUEST, "validation answers 400");
        }
    }
}

async fn put_bucket(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> AdminResult {
    let (body, acl) = bucket_request(&name, &body)?;
    let row = BucketRow {
        name: name.clone(),
        region: state.config.region.clone(),
        owner: body.owner.clone(),
        acl: acl.clone(),
        created_ms: crate::meta::now_ms(),
        versioning: crate::meta::Versioning::Unversioned,
    };
    let status = match state.db.create_bucket(row).await.map_err(internal)? {
        CreateBucketOutcome::Created => {
            state.metrics.buckets.inc();
            StatusCode::CREATED
        }
        CreateBucketOutcome::AlreadyOwned => {
            state.db.set_bucket_acl(&name, &body.owner, acl.clone()).await.map_err(internal)?;
            StatusCode::OK
        }
        CreateBucketOutcome::AlreadyExists => {
            return Err(AdminError(
                StatusCode::CONFLICT,
                "BucketOwnedByAnother",
                format!("bucket {name} exists with another owner"),
            ))
        }
    };
    if let Some(versioning) = requested_versioning(&body)? {
        state.db.set_versioning(&name, versioning).await.map_err(internal)?;
    }
    if let Some(tags) = requested_tags(&body)? {
        let doc = (!tags.is_empty()).then(|| crate::s3::tagging::to_stored(&tags));
        state.db.set_bucket_config(&name, crate::meta::ConfigKind::Tagging, doc).await.map_err(internal)?;
    }
    let versioning = state.db.get_bucket(&name).await.map_err(internal)?.and_then(|b| b.versioning.status());
    let tags = bucket_tags(&state, &name).await?;
    Ok((status, Json(json!({ "name": name, "owner": body.owner, "acl": acl, "versioning": versioning, "tags": tags })))
        .into_response())
}

async fn get_bucket(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> AdminResult {
    let row = state
        .db
        .get_bucket(&name)
        .await
        .map_err(internal)?
        .ok_or_else(|| AdminError(StatusCode::NOT_FOUND, "NoSuchBucket", format!("no bucket {name}")))?;
    let (objects, bytes) = state.db.bucket_usage(&name).await.map_err(internal)?;
    let tags = bucket_tags(&state, &name).await?;
    Ok(Json(json!({ "name": row.name, "owner": row.owner, "region": row.region, "acl": row.acl,
        "versioning": row.versioning.status(), "tags": tags, "usage": { "objects": objects, "bytes": bytes } }))
    .into_response())
}

#[derive(Deserialize)]
struct DeleteQuery {
    #[serde(default)]
    purge: bool,
}

async fn delete_bucket(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> AdminResult {
    if state.db.get_bucket(&name).await.map_err(internal)?.is_none() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let (objects, _) = state.db.bucket_usage(&name).await.map_err(internal)?;
    if q.purge {
        let removed = state.db.purge_bucket(&name).await.map_err(internal)?;
        state.metrics.objects.sub(removed as i64);
        state.metrics.buckets.dec();
        state.deleter.notify_one();
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    match state.db.delete_bucket(&name).await.map_err(internal)? {
        crate::meta::DeleteBucketOutcome::Deleted => {
            state.metrics.buckets.dec();
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        crate::meta::DeleteBucketOutcome::NoSuchBucket => Ok(StatusCode::NO_CONTENT.into_response()),
        crate::meta::DeleteBucketOutcome::NotEmpty => Err(AdminError(
            StatusCode::CONFLICT,
            "BucketNotEmpty",
            format!(
                "bucket {name} holds {objects} objects or unfinished uploads; delete with ?purge=true to remove them"
            ),
        )),
    }
}

async fn usage(State(state): State<Arc<AppState>>) -> AdminResult {
    let (buckets, objects, bytes) = state.db.totals().await.map_err(internal)?;
    Ok(Json(json!({ "buckets": buckets, "objects": objects, "bytes": bytes })).into_response())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn seeded() -> impl Strategy<Value = Vec<u8>> {
        let seeds: Vec<&'static [u8]> = vec![
            b"app-key\n{\"secret_key\":\"0123456789abcdef0123\",\"owner\":\"team-a\",\"enabled\":false}",
            b"k\n{\"grants\":[{\"bucket\":\"logs\",\"access\":\"readwrite\"},{\"bucket\":\"b-2\",\"access\":\"owner\"}]}",
            b"my-bucket\n{\"owner\":\"team-a\",\"acl\":\"public-read\"}",
            b"x\n{\"owner\":\"\\u0000\",\"acl\":null,\"grants\":[[]]}",
        ];
        (proptest::sample::select(seeds), proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8)).prop_map(
            |(seed, edits)| {
                let mut v = seed.to_vec();
                for (at, byte) in edits {
                    let i = at % (v.len() + 1);
                    if byte % 3 == 0 && i < v.len() {
                        v.remove(i);
                    } else {
                        v.insert(i, byte);
                    }
                }
                v
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn admin_json_never_panics(data in prop_oneof![seeded(), proptest::collection::vec(any::<u8>(), 0..512)]) {
            hostile_input(&data)
        }
    }

    #[test]
    fn validation_refuses_what_it_should() {
        assert!(key_request("ok-key", br#"{"secret_key":"0123456789abcdef"}"#).is_ok());
        for (id, body) in [
            ("ok-key", &br#"{"secret_key":"short"}"#[..]),
            ("no", br#"{"secret_key":"0123456789abcdef"}"#),
            ("bad/id", br#"{"secret_key":"0123456789abcdef"}"#),
            ("ok-key", br#"{"secret_key":"0123456789abcdef","owner":"anonymous"}"#),
            ("ok-key", br#"{"secret_key":"0123456789abcdef","extra":1}"#),
            ("ok-key", b"{"),
        ] {
            assert_eq!(key_request(id, body).map(drop).unwrap_err().0, StatusCode::BAD_REQUEST, "{id} {body:?}");
        }
        assert_eq!(
            grants_request(br#"{"grants":[{"bucket":"b","access":"read"}]}"#).unwrap_err().0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            grants_request(br#"{"grants":[{"bucket":"bkt","access":"all"}]}"#).unwrap_err().0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            grants_request(br#"{"grants":[{"bucket":"bkt","access":"owner"}]}"#).unwrap(),
            [("bkt".to_owned(), GRANT_OWNER)]
        );
        assert_eq!(bucket_request("bkt", br#"{"owner":"o","acl":"bucket-owner-full-control"}"#).unwrap().1, "private");
        assert!(bucket_request("Bad_Name", br#"{"owner":"o"}"#).is_err());
        assert!(bucket_request("bkt", br#"{"owner":"o","acl":"everyone"}"#).is_err());
    }
}
