//! The OpenAPI 3 document of the management port (probes, metrics, the admin API) and of the
//! S3 surface on the S3 port, written by hand so it says exactly what is served.

use serde_json::{json, Value};

fn json_body(schema: &str) -> Value {
    json!({ "required": true,
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn ok(description: &str) -> Value {
    json!({ "description": description })
}

fn admin_errors() -> Value {
    json!({
        "400": { "description": "Invalid path or body",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/AdminError" } } } },
        "401": { "description": "Missing or wrong bearer token",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/AdminError" } } } }
    })
}

fn with_errors(mut responses: Value) -> Value {
    if let (Some(r), Some(e)) = (responses.as_object_mut(), admin_errors().as_object()) {
        for (k, v) in e {
            r.insert(k.clone(), v.clone());
        }
    }
    responses
}

fn param(name: &str, location: &str, description: &str) -> Value {
    json!({ "name": name, "in": location, "required": location == "path", "description": description,
        "schema": { "type": "string" } })
}

/// The document served at `/openapi.json`.
pub(super) fn document() -> Value {
    let key = param("access_key", "path", "Access key id");
    let bucket = param("bucket", "path", "Bucket name");
    let s3_key = param("key", "path", "Object key");
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "BleepStore",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The management port (probes, metrics, admin API) and, under the `s3` tag, the S3 REST \
                surface served on the S3 port with SigV4 authentication."
        },
        "servers": [{ "url": "/", "description": "management port" }],
        "tags": [
            { "name": "probes" }, { "name": "admin" },
            { "name": "s3",
                "description": "Served on the S3 port; requests are signed with AWS SigV4. See specs/s3-api.md." }
        ],
        "paths": {
            "/healthz": { "get": { "tags": ["probes"], "operationId": "liveness", "summary": "The process serves",
                "responses": { "200": ok("alive") } } },
            "/readyz": { "get": { "tags": ["probes"], "operationId": "readiness",
                "summary": "SQLite answers and the data volume accepts a write",
                "responses": { "200": ok("ready"), "503": ok("not ready; the body says why") } } },
            "/health": { "get": { "tags": ["probes"], "operationId": "health",
                "summary": "Per-component health as JSON",
                "responses": { "200": ok("all components ok"), "503": ok("a component is failing") } } },
            "/metrics": { "get": { "tags": ["probes"], "operationId": "metrics",
                "summary": "Prometheus text exposition", "responses": { "200": ok("metrics") } } },
            "/openapi.json": { "get": { "tags": ["probes"], "operationId": "openapi", "summary": "This document",
                "responses": { "200": ok("OpenAPI 3 document") } } },
            "/docs": { "get": { "tags": ["probes"], "operationId": "docs", "summary": "Interactive API page",
                "responses": { "200": ok("HTML") } } },
            "/admin/v1/keys/{access_key}": {
                "parameters": [key],
                "get": { "tags": ["admin"], "operationId": "getKey",
                    "summary": "An access key and its grants (never the secret)",
                    "security": [{ "bearer": [] }], "responses": with_errors(json!({ "200": ok("the key"),
                        "404": ok("no such key") })) },
                "put": { "tags": ["admin"], "operationId": "putKey",
                    "summary": "Create or update an access key (idempotent)",
                    "security": [{ "bearer": [] }], "requestBody": json_body("KeyRequest"),
                    "responses": with_errors(json!({ "200": ok("updated or unchanged"), "201": ok("created"),
                        "409": ok("the root key cannot be managed here") })) },
                "delete": { "tags": ["admin"], "operationId": "deleteKey",
                    "summary": "Delete an access key and its grants",
                    "security": [{ "bearer": [] }],
                        "responses": with_errors(json!({ "204": ok("deleted (or already absent)"),
                            "409": ok("the root key cannot be managed here") })) }
            },
            "/admin/v1/keys/{access_key}/grants": {
                "parameters": [key],
                "put": { "tags": ["admin"], "operationId": "putGrants", "summary": "Replace a key's per-bucket grants",
                    "security": [{ "bearer": [] }], "requestBody": json_body("GrantsRequest"),
                    "responses": with_errors(json!({ "204": ok("grants replaced"), "404": ok("no such key") })) }
            },
            "/admin/v1/buckets/{bucket}": {
                "parameters": [bucket],
                "get": { "tags": ["admin"], "operationId": "getBucket", "summary": "A bucket and its usage",
                    "security": [{ "bearer": [] }], "responses": with_errors(json!({ "200": ok("the bucket"),
                        "404": ok("no such bucket") })) },
                "put": { "tags": ["admin"], "operationId": "putBucket",
                    "summary": "Create a bucket with an owner (idempotent)",
                    "security": [{ "bearer": [] }], "requestBody": json_body("BucketRequest"),
                    "responses": with_errors(json!({ "200": ok("exists with this owner"), "201": ok("created"),
                        "409": ok("exists with another owner") })) },
                "delete": { "tags": ["admin"], "operationId": "deleteBucket",
                    "summary": "Delete a bucket; refused when not empty unless purge=true",
                    "security": [{ "bearer": [] }],
                    "parameters": [{ "name": "purge", "in": "query", "required": false,
                        "schema": { "type": "boolean" } }],
                    "responses": with_errors(json!({ "204": ok("deleted (or already absent)"),
                        "409": ok("not empty") })) }
            },
            "/admin/v1/usage": {
                "get": { "tags": ["admin"], "operationId": "usage", "summary": "Store totals",
                    "security": [{ "bearer": [] }],
                    "responses": with_errors(json!({ "200": ok("buckets, objects, bytes") })) }
            },
            "/s3/": { "get": { "tags": ["s3"], "operationId": "ListBuckets", "summary": "ListBuckets (S3 port: GET /)",
                "responses": { "200": ok("ListAllMyBucketsResult") } } },
            "/s3/{bucket}": {
                "parameters": [bucket],
                "put": { "tags": ["s3"], "operationId": "CreateBucket", "summary": "CreateBucket; ?acl PutBucketAcl; ?versioning; ?tagging PutBucketTagging",
                    "responses": { "200": ok("created") } },
                "head": { "tags": ["s3"], "operationId": "HeadBucket", "summary": "HeadBucket",
                    "responses": { "200": ok("exists") } },
                "get": { "tags": ["s3"], "operationId": "ListObjects",
                    "summary": "ListObjects / ListObjectsV2 (list-type=2); ?location ?versioning ?versions ?acl ?uploads ?tagging",
                        "responses": { "200": ok("ListBucketResult") } },
                "delete": { "tags": ["s3"], "operationId": "DeleteBucket", "summary": "DeleteBucket; ?tagging DeleteBucketTagging",
                    "responses": { "204": ok("deleted") } },
                "post": { "tags": ["s3"], "operationId": "DeleteObjects", "summary": "DeleteObjects (?delete)",
                    "responses": { "200": ok("DeleteResult") } }
            },
            "/s3/{bucket}/{key}": {
                "parameters": [param("bucket", "path", "Bucket name"), s3_key],
                "put": { "tags": ["s3"], "operationId": "PutObject",
                    "summary": "PutObject; CopyObject (x-amz-copy-source); UploadPart(Copy) (?partNumber&uploadId); \
                        ?acl PutObjectAcl; ?tagging PutObjectTagging", "responses": { "200": ok("stored") } },
                "get": { "tags": ["s3"], "operationId": "GetObject",
                    "summary": "GetObject (Range, partNumber, conditions, versionId); ?uploadId ListParts; ?acl GetObjectAcl; \
                        ?attributes GetObjectAttributes; ?tagging GetObjectTagging",
                        "responses": { "200": ok("object"), "206": ok("range") } },
                "head": { "tags": ["s3"], "operationId": "HeadObject", "summary": "HeadObject",
                    "responses": { "200": ok("object headers") } },
                "delete": { "tags": ["s3"], "operationId": "DeleteObject",
                    "summary": "DeleteObject; ?uploadId AbortMultipartUpload; ?tagging DeleteObjectTagging", "responses": { "204": ok("deleted") } },
                "post": { "tags": ["s3"], "operationId": "MultipartUpload",
                    "summary": "?uploads CreateMultipartUpload; ?uploadId CompleteMultipartUpload",
                        "responses": { "200": ok("XML result") } }
            }
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "AdminError": { "type": "object", "required": ["error", "message"],
                    "properties": { "error": { "type": "string" }, "message": { "type": "string" } } },
                "KeyRequest": { "type": "object", "required": ["secret_key"], "additionalProperties": false,
                    "properties": {
                    "secret_key": { "type": "string", "minLength": 16 },
                    "owner": { "type": "string",
                        "description": "Canonical user id the key acts as; defaults to the key id" },
                    "enabled": { "type": "boolean", "default": true } } },
                "GrantsRequest": { "type": "object", "required": ["grants"], "additionalProperties": false,
                    "properties": {
                    "grants": { "type": "array", "items": { "type": "object", "required": ["bucket", "access"],
                        "additionalProperties": false, "properties": {
                        "bucket": { "type": "string" },
                        "access": { "type": "string", "enum": ["read", "write", "readwrite", "owner"] } } } } } },
                "BucketRequest": { "type": "object", "required": ["owner"], "additionalProperties": false,
                    "properties": {
                    "owner": { "type": "string" },
                    "acl": { "type": "string", "enum": ["private", "public-read", "public-read-write",
                        "authenticated-read", "aws-exec-read", "bucket-owner-read", "bucket-owner-full-control",
                        "log-delivery-write"] },
                    "versioning": { "type": "string", "enum": ["Enabled", "Suspended"],
                        "description": "Absent leaves the bucket's versioning as it is; a bucket never returns \
                            to unversioned" },
                    "tags": { "type": "object", "maxProperties": 50, "additionalProperties": { "type": "string" },
                        "description": "The bucket's tags, replacing them ({} removes all); absent leaves them \
                            as they are. S3's tag rules apply." } } }
            }
        }
    })
}
