//! The operator end to end on a real control plane, installed cluster-wide by `helm install` of
//! the chart into `bleepstore-system` (two replicas, leader election), its pods run by the
//! process kubelet with the chart's ServiceAccount, so the chart's RBAC meets the real
//! authorizer. Each scenario works in a namespace of its own, concurrently with the others.
//!
//! Run one by hand: `cargo test -p bleepstore-e2e --test cluster -- <name>` (see tests/README.md).

#[path = "../support/mod.rs"]
mod support;

mod apps;
mod failures;
mod lifecycle;
mod resources;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Result};
use futures::FutureExt;
use support::{image_values, wait_for, Scenario, World, CHART, STORE};

/// The release: its name is the chart's, so its objects are `bleepstore-operator`.
pub(crate) const RELEASE: &str = "bleepstore-operator";
pub(crate) const RELEASE_NS: &str = "bleepstore-system";

fn bucket(name: &str, policy: &str) -> String {
    format!(
        "apiVersion: bleepstore.io/v1alpha1\nkind: Bucket\nmetadata:\n  name: {name}\nspec:\n  store: demo\n  \
        deletionPolicy: {policy}\n"
    )
}

fn key(name: &str, bucket: &str, access: &str) -> String {
    format!(
        "apiVersion: bleepstore.io/v1alpha1\nkind: AccessKey\nmetadata:\n  name: {name}\nspec:\n  store: demo\n  \
            buckets:\n  - bucket: {bucket}\n    access: {access}\n"
    )
}

/// `helm install` of the chart, cluster-wide, and its Deployment available.
async fn install(world: Arc<World>) -> Result<()> {
    let system = world.namespace(RELEASE_NS).await?;
    let mut args = vec!["install", RELEASE, CHART, "--namespace", RELEASE_NS, "--wait", "--timeout", "3m"];
    args.extend(image_values());
    let out = world.cluster.helm(&args);
    if !out.status.success() {
        bail!(
            "helm install failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            system.kubectl_ok(&["get", "pods", "-o", "wide"]).unwrap_or_default()
        );
    }
    wait_for("the operator Deployment to be available", || async {
        let d = system.get("apps", "deployments", RELEASE).await.ok()??;
        (d["status"]["availableReplicas"] == 2).then_some(())
    })
    .await
}

fn scenarios() -> Vec<Scenario> {
    vec![
        ("helm_install_and_helm_test", |w| lifecycle::helm_install_and_helm_test(w).boxed()),
        ("examples_apply_with_validation_and_an_app_job_works", |w| apps::examples_and_an_app_job(w).boxed()),
        ("a_store_is_ready_owned_protected_and_grows", |w| resources::a_store_is_ready_and_grows(w).boxed()),
        ("a_volume_that_cannot_grow_is_explained_and_reverts", |w| resources::a_volume_that_cannot_grow(w).boxed()),
        ("a_read_only_grant_refuses_writes_and_deleting_the_key_revokes_it", |w| apps::read_only_and_revoke(w).boxed()),
        ("bucket_deletion_policies", |w| resources::bucket_deletion_policies(w).boxed()),
        ("a_killed_or_deleted_store_pod_keeps_every_acknowledged_object", |w| failures::killed_store(w).boxed()),
        ("a_gitops_resync_and_an_operator_restart_change_nothing", |w| lifecycle::resync_changes_nothing(w).boxed()),
        ("bad_manifests_are_refused_or_explained", |w| failures::bad_manifests(w).boxed()),
        ("only_the_leader_acts_and_a_standby_takes_over", |w| lifecycle::leader_failover(w).boxed()),
        ("a_gateway_store_keeps_its_blobs_in_a_remote_bucket", |w| apps::gateway_store(w).boxed()),
        ("another_field_manager_cannot_take_the_operators_fields", |w| failures::field_manager_conflict(w).boxed()),
        ("a_deleted_and_re_created_store_keeps_its_buckets_and_objects", |w| {
            resources::a_re_created_store_keeps_its_data(w).boxed()
        }),
        ("a_bucket_changed_outside_its_resource_is_put_back", |w| resources::bucket_drift_is_put_back(w).boxed()),
        ("a_key_rotates_without_a_failed_request", |w| apps::rotation_without_downtime(w).boxed()),
        ("boto3_the_aws_cli_and_rclone_work_from_the_key_secret", |w| apps::every_client_from_the_secret(w).boxed()),
        ("a_tls_store_s_ca_reaches_apps_and_a_renewed_certificate_is_served", |w| {
            apps::tls_store_with_a_private_ca(w).boxed()
        }),
    ]
}

fn main() -> ExitCode {
    support::main("cluster", scenarios(), install)
}
