//! Integration tests: the real server on 127.0.0.1:0 driven by aws-sdk-s3 and raw HTTP.
//! One test binary (modules below) so the SDK is linked once.

mod acl_grants;
mod attributes;
mod auth_streams;
mod backends;
mod buckets;
mod common;
mod conditional_writes;
mod copy_delete;
mod crash_loop;
mod errors;
mod faults;
mod https;
mod limits;
mod listing;
mod management;
mod migration;
mod multipart;
mod objects;
mod process;
mod raw;
mod remotes;
mod s3_answers;
mod signed_headers;
mod tagging;
mod versioning;
mod vhost;
