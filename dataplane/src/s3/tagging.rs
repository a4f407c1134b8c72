//! Tag sets of objects and buckets: read from the `x-amz-tagging` header (URL-encoded query
//! pairs) or a `<Tagging>` document, checked against S3's rules, and written back as XML.
//!
//! The rules (AWS "Categorizing your storage using tags" and the tagging API pages): at most 10
//! tags on an object and 50 on a bucket (more is `BadRequest`); keys of 1 to 128 and values of up
//! to 256 Unicode characters, made of letters, digits, spaces and `+ - = . _ : / @`; no key
//! twice; no key beginning `aws:` (reserved); each violation is `InvalidTag`. In the header, a
//! repeated key or text that is not UTF-8 once decoded is `InvalidArgument`, as S3 answers.

use serde::Deserialize;

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::s3::xml::{self, XmlWriter};

/// A tag set: (key, value) pairs in the order given.
pub type Tags = Vec<(String, String)>;

/// What carries the tags, which decides the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagScope {
    Object,
    Bucket,
}

impl TagScope {
    fn limit(self) -> usize {
        match self {
            Self::Object => 10,
            Self::Bucket => 50,
        }
    }
}

const MAX_KEY: usize = 128;
const MAX_VALUE: usize = 256;

/// Tags from an `x-amz-tagging` header: `k1=v1&k2=v2`, form-URL-encoded (`+` is a space).
pub fn from_header(value: &str) -> S3Result<Tags> {
    let malformed = || {
        S3Error::invalid_argument(
            "x-amz-tagging",
            value,
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without \
             tag name duplicates.",
        )
    };
    let decode = |text: &str| -> S3Result<String> {
        let spaced = text.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced).decode_utf8().map(|c| c.into_owned()).map_err(|_| malformed())
    };
    let mut tags = Tags::new();
    for pair in value.split('&').filter(|p| !p.is_empty()) {
        let (key, val) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, val) = (decode(key)?, decode(val)?);
        if tags.iter().any(|(k, _)| *k == key) {
            return Err(malformed());
        }
        tags.push((key, val));
    }
    check(&tags, TagScope::Object)?;
    Ok(tags)
}

#[derive(Deserialize)]
struct Tagging {
    #[serde(rename = "TagSet")]
    tag_set: TagSetDoc,
}

#[derive(Deserialize)]
struct TagSetDoc {
    #[serde(rename = "Tag", default)]
    tags: Vec<TagDoc>,
}

#[derive(Deserialize)]
struct TagDoc {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value")]
    value: String,
}

/// Tags from a `<Tagging><TagSet><Tag><Key/><Value/></Tag>…</TagSet></Tagging>` body.
pub fn from_xml(body: &[u8], scope: TagScope) -> S3Result<Tags> {
    let doc: Tagging = xml::parse(body)?;
    let tags: Tags = doc.tag_set.tags.into_iter().map(|t| (t.key, t.value)).collect();
    check(&tags, scope)?;
    Ok(tags)
}

/// Checks a tag set against S3's rules for `scope`.
pub fn check(tags: &Tags, scope: TagScope) -> S3Result<()> {
    if tags.len() > scope.limit() {
        let what = match scope {
            TagScope::Object => "Object",
            TagScope::Bucket => "Bucket",
        };
        return Err(S3Error::new(S3ErrorCode::BadRequest)
            .with_message(format!("{what} tags cannot be greater than {}", scope.limit())));
    }
    let invalid = |message: &'static str| S3Error::new(S3ErrorCode::InvalidTag).with_message(message);
    for (i, (key, value)) in tags.iter().enumerate() {
        let key_chars = key.chars().count();
        if key_chars == 0 || key_chars > MAX_KEY || !key.chars().all(allowed) {
            return Err(invalid("The TagKey you have provided is invalid"));
        }
        if value.chars().count() > MAX_VALUE || !value.chars().all(allowed) {
            return Err(invalid("The TagValue you have provided is invalid"));
        }
        if key.starts_with("aws:") {
            return Err(invalid("Your TagKey cannot be prefixed with aws:"));
        }
        if tags[..i].iter().any(|(k, _)| k == key) {
            return Err(invalid("Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(())
}

/// Letters and digits of any script, spaces, and `+ - = . _ : / @`.
fn allowed(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "+-=._:/@".contains(c)
}

/// The `<Tagging>` document of a tag set (empty `<TagSet/>` for none).
pub fn to_xml(tags: &Tags) -> String {
    let mut w = XmlWriter::new();
    w.root("Tagging");
    w.open("TagSet");
    for (key, value) in tags {
        w.open("Tag");
        w.elem("Key", key);
        w.elem("Value", value);
        w.close("Tag");
    }
    w.close("TagSet");
    w.close("Tagging");
    w.finish()
}

/// A bucket's tag set as stored (`bucket_config`, kind `tagging`).
pub fn to_stored(tags: &Tags) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".to_owned())
}

/// Reads the stored form; an unreadable document is an internal error, never an empty set.
pub fn from_stored(doc: &str) -> S3Result<Tags> {
    serde_json::from_str(doc).map_err(S3Error::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn header_pairs_decode_in_order() {
        assert_eq!(
            from_header("a=1&b=two%20words&c=x+y&d=").unwrap(),
            tags(&[("a", "1"), ("b", "two words"), ("c", "x y"), ("d", "")])
        );
        assert_eq!(from_header("k%C3%A9=v%C3%A9").unwrap(), tags(&[("ké", "vé")]));
        assert_eq!(from_header("").unwrap(), Tags::new());
        assert_eq!(from_header("alone").unwrap(), tags(&[("alone", "")]));
    }

    #[test]
    fn header_errors_are_s3s() {
        let code = |v: &str| from_header(v).unwrap_err().code;
        assert_eq!(code("a=1&a=2"), S3ErrorCode::InvalidArgument, "a key twice");
        assert_eq!(code("a=%FF"), S3ErrorCode::InvalidArgument, "not UTF-8");
        assert_eq!(code("a=%5B%7B"), S3ErrorCode::InvalidTag, "characters outside the set");
        let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        let err = from_header(&eleven.join("&")).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_ref()),
            (S3ErrorCode::BadRequest, "Object tags cannot be greater than 10")
        );
    }

    #[test]
    fn limits_hold_at_the_edge() {
        let k128 = "k".repeat(128);
        let v256 = "é".repeat(256);
        assert!(check(&tags(&[(&k128, &v256)]), TagScope::Object).is_ok(), "counted in characters");
        let k129 = "k".repeat(129);
        let v257 = "v".repeat(257);
        assert_eq!(check(&tags(&[(&k129, "")]), TagScope::Object).unwrap_err().code, S3ErrorCode::InvalidTag);
        assert_eq!(check(&tags(&[("k", &v257)]), TagScope::Object).unwrap_err().code, S3ErrorCode::InvalidTag);
        assert_eq!(check(&tags(&[("", "v")]), TagScope::Object).unwrap_err().code, S3ErrorCode::InvalidTag);
        let err = check(&tags(&[("aws:x", "v")]), TagScope::Bucket).unwrap_err();
        assert_eq!(err.message, "Your TagKey cannot be prefixed with aws:");
        let err = check(&tags(&[("k", "1"), ("k", "2")]), TagScope::Object).unwrap_err();
        assert_eq!(err.message, "Cannot provide multiple Tags with the same key");
        let fifty: Tags = (0..50).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(check(&fifty, TagScope::Bucket).is_ok());
        let mut fifty_one = fifty;
        fifty_one.push(("k50".into(), String::new()));
        let err = check(&fifty_one, TagScope::Bucket).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_ref()),
            (S3ErrorCode::BadRequest, "Bucket tags cannot be greater than 50")
        );
        assert!(check(&tags(&[("Projet Été", "a+b-c=d.e_f:g/h@i 9")]), TagScope::Object).is_ok());
    }

    #[test]
    fn xml_round_trips_and_refuses_bad_documents() {
        let set = tags(&[("a", "1"), ("b<&>", "")]);
        assert!(check(&set, TagScope::Object).is_err(), "< and & are outside the set");
        let set = tags(&[("a", "1"), ("b", "")]);
        let doc = to_xml(&set);
        assert!(doc.contains("<TagSet><Tag><Key>a</Key><Value>1</Value></Tag>"), "{doc}");
        assert_eq!(from_xml(doc.as_bytes(), TagScope::Object).unwrap(), set);
        let empty = from_xml(b"<Tagging><TagSet></TagSet></Tagging>", TagScope::Object).unwrap();
        assert!(empty.is_empty());
        for bad in
            [&b"<Tagging></Tagging>"[..], b"<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>", b"nope"]
        {
            assert_eq!(from_xml(bad, TagScope::Object).unwrap_err().code, S3ErrorCode::MalformedXML);
        }
        assert_eq!(from_stored(&to_stored(&set)).unwrap(), set);
    }
}
