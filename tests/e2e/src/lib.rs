//! End-to-end harness for the operator: a test Kubernetes API server ([`apiserver`]) and a
//! kubelet stand-in ([`kubelet`]) that runs a `bleepstore` process per StatefulSet replica.

pub mod apiserver;
pub mod kubelet;
