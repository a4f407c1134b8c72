//! Entity-tag comparison (RFC 9110 §8.8.3.2), shared by the request conditions of the S3 layer
//! and the write conditions the metadata layer checks inside its transactions.
//!
//! ETags are stored unquoted; request headers carry lists of quoted tags (`"a", "b"`) or `*`.

/// Strong comparison (If-Match): does the list `header` match `etag`? A weak tag (`W/"a"`)
/// never matches strongly; `*` matches any.
pub fn list_matches(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .filter(|t| !t.starts_with("W/"))
        .map(|t| t.trim_matches('"'))
        .any(|t| t == "*" || t == etag)
}

/// Weak comparison (If-None-Match): `W/` prefixes are ignored.
pub fn list_matches_weak(header: &str, etag: &str) -> bool {
    header.split(',').map(|t| t.trim().trim_start_matches("W/").trim_matches('"')).any(|t| t == "*" || t == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strong_and_weak() {
        assert!(list_matches("\"a\", \"b\"", "b"));
        assert!(list_matches("*", "x"));
        assert!(list_matches("a", "a"));
        assert!(!list_matches("W/\"a\"", "a"));
        assert!(list_matches_weak("W/\"a\"", "a"));
        assert!(!list_matches_weak("\"b\"", "a"));
    }
}
