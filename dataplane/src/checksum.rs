//! The object integrity algorithms S3 clients send: CRC32, CRC32C, CRC64NVME, SHA1 and SHA256,
//! computed incrementally while a body streams, base64-encoded as on the wire; and the two ways
//! a multipart object's checksum is made from its parts' (`ChecksumType`).

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

/// How a multipart object's checksum relates to its parts' (S3's `ChecksumType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumType {
    /// The checksum of the whole object's bytes; for multipart objects the CRCs of the parts
    /// combined (CRCs only).
    FullObject,
    /// The checksum of the concatenated raw part checksums, written `<base64>-<parts>`.
    Composite,
}

impl ChecksumType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FullObject => "FULL_OBJECT",
            Self::Composite => "COMPOSITE",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::FullObject, Self::Composite].into_iter().find(|t| t.as_str().eq_ignore_ascii_case(value.trim()))
    }

    /// The type a stored checksum value has: composite values end in `-<parts>`.
    pub fn of_value(value: &str) -> Self {
        if value.contains('-') {
            Self::Composite
        } else {
            Self::FullObject
        }
    }
}

impl ChecksumAlgorithm {
    /// The type a multipart upload gets when CreateMultipartUpload names none (AWS's defaults).
    pub fn default_type(self) -> ChecksumType {
        match self {
            Self::Crc64Nvme => ChecksumType::FullObject,
            _ => ChecksumType::Composite,
        }
    }

    /// May a multipart upload with this algorithm have this type? Full-object checksums need a
    /// CRC (whose values combine); CRC64NVME is full-object only.
    pub fn allows(self, t: ChecksumType) -> bool {
        !matches!(
            (self, t),
            (Self::Crc64Nvme, ChecksumType::Composite) | (Self::Sha1 | Self::Sha256, ChecksumType::FullObject)
        )
    }

    fn crc(self) -> Option<crc_fast::CrcAlgorithm> {
        match self {
            Self::Crc32 => Some(crc_fast::CrcAlgorithm::Crc32IsoHdlc),
            Self::Crc32c => Some(crc_fast::CrcAlgorithm::Crc32Iscsi),
            Self::Crc64Nvme => Some(crc_fast::CrcAlgorithm::Crc64Nvme),
            Self::Sha1 | Self::Sha256 => None,
        }
    }

    fn encode_crc(self, crc: u64) -> String {
        let raw =
            if self == Self::Crc64Nvme { crc.to_be_bytes().to_vec() } else { (crc as u32).to_be_bytes().to_vec() };
        base64::engine::general_purpose::STANDARD.encode(raw)
    }

    fn decode_crc(self, b64: &str) -> Option<u64> {
        let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        match (self, raw.len()) {
            (Self::Crc64Nvme, 8) => Some(u64::from_be_bytes(raw.try_into().ok()?)),
            (Self::Crc32 | Self::Crc32c, 4) => Some(u64::from(u32::from_be_bytes(raw.try_into().ok()?))),
            _ => None,
        }
    }

    /// The full-object CRC of a multipart object from its parts' CRCs (base64) and sizes, in
    /// part order; `None` for a SHA or a malformed part value.
    pub fn combine_parts<'a>(self, parts: impl IntoIterator<Item = (&'a str, u64)>) -> Option<String> {
        let crc = self.crc()?;
        let mut total: Option<u64> = None;
        for (value, len) in parts {
            let part = self.decode_crc(value)?;
            total = Some(match total {
                None => part,
                Some(acc) => crc_fast::checksum_combine(crc, acc, part, len),
            });
        }
        Some(self.encode_crc(total.unwrap_or_else(|| crc_fast::checksum(crc, b""))))
    }
}

/// An incremental checksum computation.
pub enum ChecksumHasher {
    Crc(ChecksumAlgorithm, crc_fast::Digest),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl ChecksumHasher {
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        match algorithm.crc() {
            Some(crc) => Self::Crc(algorithm, crc_fast::Digest::new(crc)),
            None if algorithm == ChecksumAlgorithm::Sha1 => Self::Sha1(Sha1::new()),
            None => Self::Sha256(Sha256::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc(_, h) => h.update(data),
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
        }
    }

    /// The base64 value as it appears in `x-amz-checksum-*`.
    pub fn finish(self) -> String {
        match self {
            Self::Crc(algorithm, h) => algorithm.encode_crc(h.finalize()),
            Self::Sha1(h) => base64::engine::general_purpose::STANDARD.encode(h.finalize()),
            Self::Sha256(h) => base64::engine::general_purpose::STANDARD.encode(h.finalize()),
        }
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

    /// A multipart object's full-object CRC equals the CRC of its bytes, however they were cut.
    #[test]
    fn combined_part_crcs_are_the_whole_object_crc() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for algorithm in [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Crc64Nvme] {
            let whole = sum(algorithm, &[&data]);
            for cuts in [&[5000][..], &[1, 2, 9998], &[3333, 6666, 9999]] {
                let mut bounds = vec![0];
                bounds.extend_from_slice(cuts);
                bounds.push(data.len());
                let parts: Vec<(String, u64)> =
                    bounds.windows(2).map(|w| (sum(algorithm, &[&data[w[0]..w[1]]]), (w[1] - w[0]) as u64)).collect();
                let combined = algorithm.combine_parts(parts.iter().map(|(v, n)| (v.as_str(), *n)));
                assert_eq!(combined.as_deref(), Some(whole.as_str()), "{algorithm:?} cut at {cuts:?}");
            }
        }
        assert_eq!(ChecksumAlgorithm::Sha256.combine_parts([("x", 1)]), None);
    }

    #[test]
    fn checksum_types() {
        assert_eq!(ChecksumAlgorithm::Crc64Nvme.default_type(), ChecksumType::FullObject);
        assert_eq!(ChecksumAlgorithm::Crc32.default_type(), ChecksumType::Composite);
        assert!(!ChecksumAlgorithm::Crc64Nvme.allows(ChecksumType::Composite));
        assert!(!ChecksumAlgorithm::Sha256.allows(ChecksumType::FullObject));
        assert!(ChecksumAlgorithm::Crc32c.allows(ChecksumType::FullObject));
        assert_eq!(ChecksumType::parse("full_object"), Some(ChecksumType::FullObject));
        assert_eq!(ChecksumType::of_value("AAAAAA==-3"), ChecksumType::Composite);
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
