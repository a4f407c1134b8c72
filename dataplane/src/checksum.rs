//! The object integrity algorithms S3 clients send: CRC32, CRC32C, CRC64NVME, SHA1 and SHA256,
//! computed incrementally while a body streams, base64-encoded as on the wire.

use base64::Engine;
use sha1::Sha1;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    pub const ALL: [Self; 5] = [Self::Crc32, Self::Crc32c, Self::Crc64Nvme, Self::Sha1, Self::Sha256];

    /// The lowercase name used in `x-amz-checksum-<name>`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "crc32",
            Self::Crc32c => "crc32c",
            Self::Crc64Nvme => "crc64nvme",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }

    /// The header carrying this checksum.
    pub fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Parses `CRC32`, `crc32c`, … (the `x-amz-sdk-checksum-algorithm` spelling or the header suffix).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name().eq_ignore_ascii_case(name))
    }

    pub fn from_header(header: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.header().eq_ignore_ascii_case(header))
    }

    /// Length of the raw digest in bytes, to validate a base64 value's shape.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// A well-formed base64 value of the right length?
    pub fn valid_value(self, b64: &str) -> bool {
        base64::engine::general_purpose::STANDARD.decode(b64).is_ok_and(|raw| raw.len() == self.digest_len())
    }
}

/// An incremental checksum computation.
pub enum ChecksumHasher {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(crc64fast_nvme::Digest),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl ChecksumHasher {
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        match algorithm {
            ChecksumAlgorithm::Crc32 => Self::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => Self::Crc32c(0),
            ChecksumAlgorithm::Crc64Nvme => Self::Crc64Nvme(crc64fast_nvme::Digest::new()),
            ChecksumAlgorithm::Sha1 => Self::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha256 => Self::Sha256(Sha256::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc32(h) => h.update(data),
            Self::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            Self::Crc64Nvme(h) => h.write(data),
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
        }
    }

    /// The base64 value as it appears in `x-amz-checksum-*`.
    pub fn finish(self) -> String {
        let raw: Vec<u8> = match self {
            Self::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            Self::Crc32c(c) => c.to_be_bytes().to_vec(),
            Self::Crc64Nvme(h) => h.sum64().to_be_bytes().to_vec(),
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
        };
        base64::engine::general_purpose::STANDARD.encode(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(algorithm: ChecksumAlgorithm, parts: &[&[u8]]) -> String {
        let mut h = ChecksumHasher::new(algorithm);
        for p in parts {
            h.update(p);
        }
        h.finish()
    }

    /// Check values of "123456789" for each algorithm (the CRC catalogue's `check` field).
    #[test]
    fn known_values() {
        let b64 = |raw: &[u8]| base64::engine::general_purpose::STANDARD.encode(raw);
        assert_eq!(sum(ChecksumAlgorithm::Crc32, &[b"1234", b"56789"]), b64(&0xCBF4_3926u32.to_be_bytes()));
        assert_eq!(sum(ChecksumAlgorithm::Crc32c, &[b"123456789"]), b64(&0xE306_9283u32.to_be_bytes()));
        assert_eq!(
            sum(ChecksumAlgorithm::Crc64Nvme, &[b"123", b"456789"]),
            b64(&0xAE8B_1486_0A79_9888u64.to_be_bytes())
        );
        assert_eq!(sum(ChecksumAlgorithm::Sha1, &[b"abc"]), "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
        assert_eq!(sum(ChecksumAlgorithm::Sha256, &[b""]), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        assert_eq!(sum(ChecksumAlgorithm::Crc32, &[b"hello world"]), "DUoRhQ==");
    }

    #[test]
    fn names_and_values() {
        assert_eq!(ChecksumAlgorithm::parse("CRC64NVME"), Some(ChecksumAlgorithm::Crc64Nvme));
        assert_eq!(ChecksumAlgorithm::from_header("x-amz-checksum-sha1"), Some(ChecksumAlgorithm::Sha1));
        assert_eq!(ChecksumAlgorithm::parse("md5"), None);
        assert!(ChecksumAlgorithm::Crc32.valid_value("DUoRhQ=="));
        assert!(!ChecksumAlgorithm::Crc32.valid_value("DUoRhQDU"));
        assert!(!ChecksumAlgorithm::Sha256.valid_value("not base64!"));
    }
}
