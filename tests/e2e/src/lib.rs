//! End-to-end harness for the operator on a real Kubernetes control plane.
//!
//! Everything runs inside private network, mount and PID namespaces ([`sandbox`]): etcd and the
//! Kubernetes control plane built from source ([`controlplane`]), a kubelet that runs the pods of
//! our images as local processes, each in a network namespace of its own on a bridge
//! ([`kubelet`]), a Service proxy and `/etc/hosts` for cluster DNS names ([`services`]), and a
//! volume provisioner and resizer ([`storage`]). The suite in `tests/cluster/` installs the
//! operator with `helm install` and drives it with `kubectl`, as a user would.

mod cache;
pub mod cluster;
pub mod controlplane;
pub mod images;
pub mod kubelet;
pub mod pki;
pub mod sandbox;
pub mod services;
pub mod storage;
