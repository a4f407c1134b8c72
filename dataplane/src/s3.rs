//! The S3 REST surface: request parsing into typed values, authorization, the operations, and
//! the wire format of answers and errors.

pub mod acl;
mod authorize;
pub mod body;
pub mod conditional;
mod dispatch;
pub mod endpoint;
pub mod headers;
#[cfg(any(test, feature = "hostile-input"))]
pub mod hostile;
pub mod names;
mod ops;
pub mod path;
pub mod query;
pub mod range;
mod response;
pub mod tagging;
pub mod xml;

pub use dispatch::handle;
