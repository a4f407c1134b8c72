//! BleepStore's data plane: an S3-compatible object store with metadata in SQLite (WAL) and
//! object bytes in a blob store. `server::prepare` opens and recovers a store; `server::serve`
//! runs it.

pub mod auth;
pub mod blob;
pub mod checksum;
pub mod config;
pub mod deleter;
pub mod encryption;
pub mod error;
pub mod etag;
pub mod meta;
pub mod metrics;
pub mod mgmt;
pub mod percent;
pub mod pins;
pub mod probe;
pub mod recovery;
pub mod root;
pub mod s3;
pub mod server;
pub mod state;
pub mod tls;
