//! The operator's one error type. Each variant knows its metric label; none carries a secret.

use crate::admin::AdminError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// A store's admin API call failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// Adding or removing a finalizer failed.
    #[error("finalizer: {0}")]
    Finalizer(String),
    /// Deletion must wait; the resource's `DeletionBlocked` condition says why.
    #[error("deletion blocked: {0}")]
    DeletionBlocked(String),
    /// An object lacks something it must have (e.g. a namespace).
    #[error("{0}")]
    Invariant(&'static str),
}

impl Error {
    /// A bounded label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::Admin(_) => "admin_api",
            Self::Finalizer(_) => "finalizer",
            Self::DeletionBlocked(_) => "deletion_blocked",
            Self::Invariant(_) => "invariant",
        }
    }

    /// Folds kube-runtime's finalizer error into ours, keeping the reconciler's own error.
    pub fn from_finalizer(error: kube::runtime::finalizer::Error<Error>) -> Self {
        use kube::runtime::finalizer::Error as F;
        match error {
            F::ApplyFailed(e) | F::CleanupFailed(e) => e,
            F::AddFinalizer(e) | F::RemoveFinalizer(e) => Self::Finalizer(e.to_string()),
            F::UnnamedObject => Self::Invariant("object has no name"),
            F::InvalidFinalizer => Self::Invariant("invalid finalizer name"),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
