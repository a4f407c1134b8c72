//! The request's query string, decoded once. A parameter given twice is an error, so no handler
//! ever has to guess which of two values was meant.

use std::collections::BTreeMap;

use crate::error::S3Error;
use crate::percent::decode;

/// Decoded query parameters. A parameter without `=` has an empty value (`?acl`).
#[derive(Debug, Default, Clone)]
pub struct Query {
    params: BTreeMap<String, String>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Result<Self, S3Error> {
        let mut params = BTreeMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            // Query components follow form encoding: '+' stands for a space.
            let name = decode(&name.replace('+', " "))?;
            let value = decode(&value.replace('+', " "))?;
            if params.contains_key(&name) {
                return Err(S3Error::invalid_argument(
                    &name,
                    &value,
                    format!("Query parameter {name} was given more than once."),
                ));
            }
            params.insert(name, value);
        }
        Ok(Self { params })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    pub fn has(&self, name: &str) -> bool {
        self.params.contains_key(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// An optional integer parameter within `range`; anything else is `InvalidArgument`.
    pub fn int(&self, name: &str, range: std::ops::RangeInclusive<i64>) -> Result<Option<i64>, S3Error> {
        let Some(raw) = self.get(name) else { return Ok(None) };
        match raw.parse::<i64>() {
            Ok(v) if range.contains(&v) => Ok(Some(v)),
            _ => Err(S3Error::invalid_argument(
                name,
                raw,
                format!("Argument {name} must be an integer between {} and {}", range.start(), range.end()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags_values_and_encoding() {
        let q = Query::parse(Some("acl&prefix=a%2Fb+c&max-keys=5&x-id=GetObject")).unwrap();
        assert!(q.has("acl"));
        assert_eq!(q.get("acl"), Some(""));
        assert_eq!(q.get("prefix"), Some("a/b c"));
        assert_eq!(q.int("max-keys", 0..=1000).unwrap(), Some(5));
        assert_eq!(q.int("missing", 0..=1000).unwrap(), None);
    }

    #[test]
    fn rejects_duplicates_and_bad_ints() {
        assert!(Query::parse(Some("prefix=a&prefix=b")).is_err());
        let q = Query::parse(Some("max-keys=-1")).unwrap();
        let err = q.int("max-keys", 0..=1000).unwrap_err();
        assert_eq!(err.code, crate::error::S3ErrorCode::InvalidArgument);
        let q = Query::parse(Some("max-keys=abc")).unwrap();
        assert!(q.int("max-keys", 0..=1000).is_err());
    }
}
