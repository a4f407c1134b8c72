//! The images the kubelet can run. There is no registry and no container engine here: an image
//! is one of this workspace's binaries, placed where its Dockerfile puts it, with the
//! Dockerfile's entrypoint and user. Any other image fails to pull, as it would without a
//! registry.

use std::path::{Path, PathBuf};

/// What a container of this image runs.
#[derive(Debug, Clone)]
pub struct Image {
    /// The binary on this machine, and where it is in the image.
    pub binary: PathBuf,
    pub path: String,
    /// The image's ENTRYPOINT (a container's `command` replaces it).
    pub entrypoint: Vec<String>,
    /// The image's USER (uid, gid), as in the Dockerfiles (distroless `nonroot`).
    pub user: (i64, i64),
}

/// `target/<profile>`, where cargo puts the workspace's binaries: the directory above the test
/// binary's `deps/`.
pub fn binary_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent().and_then(Path::parent).expect("target/<profile>").to_owned()
}

/// The image's name without registry, tag or digest: `ghcr.io/bleepstore/bleepstore:0.1.0` is
/// `bleepstore`.
pub fn short_name(reference: &str) -> &str {
    let without_digest = reference.split('@').next().unwrap_or(reference);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last.split(':').next().unwrap_or(last)
}

/// The image for `reference`, or why it cannot be pulled.
pub fn resolve(reference: &str) -> Result<Image, String> {
    let name = short_name(reference);
    let binary = match name {
        "bleepstore" | "bleepstore-operator" | "bleepstore-e2e-app" => binary_dir().join(name),
        _ => return Err(format!("image {reference} is not one of this workspace's binaries")),
    };
    if !binary.exists() {
        return Err(format!(
            "{} is missing: build the workspace's binaries first (`cargo build --workspace --bins`)",
            binary.display()
        ));
    }
    let path = format!("/usr/local/bin/{name}");
    Ok(Image { binary, entrypoint: vec![path.clone()], path, user: (65532, 65532) })
}

#[cfg(test)]
mod tests {
    use super::short_name;

    #[test]
    fn short_names_drop_registry_tag_and_digest() {
        assert_eq!(short_name("ghcr.io/bleepstore/bleepstore:0.1.0"), "bleepstore");
        assert_eq!(short_name("localhost:5000/bleepstore-operator"), "bleepstore-operator");
        assert_eq!(short_name("bleepstore-e2e-app@sha256:abc"), "bleepstore-e2e-app");
        assert_eq!(short_name("busybox"), "busybox");
    }
}
