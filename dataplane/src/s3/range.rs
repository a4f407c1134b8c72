//! The `Range` header: one byte range (`a-b`, `a-`, `-n`), resolved against the object size.

use crate::error::{S3Error, S3ErrorCode};

/// A requested range before the size is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    FromTo(u64, u64),
    From(u64),
    Suffix(u64),
}

/// Parses a `Range` value. Syntax S3 ignores (other units, several ranges, garbage) gives `None`,
/// and the whole object is served, as RFC 9110 allows.
pub fn parse(value: &str) -> Option<ByteRange> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.trim().split_once('-')?;
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    match (a.trim(), b.trim()) {
        ("", n) => num(n).map(ByteRange::Suffix),
        (s, "") => num(s).map(ByteRange::From),
        (s, e) => {
            let (s, e) = (num(s)?, num(e)?);
            (s <= e).then_some(ByteRange::FromTo(s, e))
        }
    }
}

impl ByteRange {
    /// The half-open byte span within an object of `size` bytes, or `InvalidRange` (416).
    pub fn resolve(self, size: u64) -> Result<std::ops::Range<u64>, S3Error> {
        let span = match self {
            Self::FromTo(s, e) if s < size => Some(s..e.min(size - 1) + 1),
            Self::From(s) if s < size => Some(s..size),
            Self::Suffix(n) if n > 0 && size > 0 => Some(size.saturating_sub(n)..size),
            _ => None,
        };
        span.ok_or_else(|| {
            S3Error::new(S3ErrorCode::InvalidRange)
                .with_field("RangeRequested", self.to_string())
                .with_field("ActualObjectSize", size.to_string())
                .with_header("content-range", format!("bytes */{size}"))
        })
    }
}

impl std::fmt::Display for ByteRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::FromTo(s, e) => write!(f, "bytes={s}-{e}"),
            Self::From(s) => write!(f, "bytes={s}-"),
            Self::Suffix(n) => write!(f, "bytes=-{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_ranges() {
        assert_eq!(parse("bytes=0-9"), Some(ByteRange::FromTo(0, 9)));
        assert_eq!(parse("bytes=5-"), Some(ByteRange::From(5)));
        assert_eq!(parse("bytes=-3"), Some(ByteRange::Suffix(3)));
        for ignored in ["bytes=0-1,3-4", "items=0-1", "bytes=a-b", "bytes=5-2", "bytes=-", "bytes=+1-2"] {
            assert_eq!(parse(ignored), None, "{ignored}");
        }
    }

    #[test]
    fn resolves_against_size() {
        assert_eq!(ByteRange::FromTo(0, 9).resolve(5).unwrap(), 0..5);
        assert_eq!(ByteRange::FromTo(2, 3).resolve(5).unwrap(), 2..4);
        assert_eq!(ByteRange::From(4).resolve(5).unwrap(), 4..5);
        assert_eq!(ByteRange::Suffix(2).resolve(5).unwrap(), 3..5);
        assert_eq!(ByteRange::Suffix(10).resolve(5).unwrap(), 0..5);
        for bad in [ByteRange::From(5), ByteRange::FromTo(7, 9), ByteRange::Suffix(0)] {
            let err = bad.resolve(5).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidRange);
            assert_eq!(err.headers, vec![("content-range", "bytes */5".to_string())]);
        }
        assert!(ByteRange::From(0).resolve(0).is_err());
    }
}
