//! What a `Bucket` becomes: the admin API request that creates it in its store.

use kube::ResourceExt;

use crate::admin::BucketRequest;
use crate::crd::Bucket;

/// The owner id of every bucket the operator creates. No access key acts as it; keys reach
/// buckets through grants, and the root key reaches everything.
pub const BUCKET_OWNER: &str = "bleepstore-operator";

/// The S3 name of a Bucket resource's bucket.
pub fn bucket_name(bucket: &Bucket) -> String {
    bucket.spec.bucket_name.clone().unwrap_or_else(|| bucket.name_any())
}

/// The body of `PUT /admin/v1/buckets/{name}`.
pub fn request(bucket: &Bucket) -> BucketRequest {
    BucketRequest {
        owner: BUCKET_OWNER.to_owned(),
        acl: bucket.spec.acl.as_str().to_owned(),
        versioning: bucket.spec.versioning.map(|v| v.as_str().to_owned()),
        tags: bucket.spec.tags.as_ref().map(|tags| tags.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect()),
    }
}
