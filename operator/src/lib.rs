//! The BleepStore operator: custom resource types, pure builders of the Kubernetes objects a
//! store needs, and the reconcilers that apply them and talk to each store's admin API.

pub mod access_key;
pub mod admin;
pub mod api;
pub mod bucket;
pub mod build;
pub mod conditions;
pub mod context;
pub mod crd;
pub mod dependent;
pub mod error;
pub mod generate;
pub mod http;
pub mod metrics;
pub mod quantity;
pub mod run;
pub mod store;
