//! XML in and out: a small writer for response documents (text escaped by quick-xml) and typed
//! parsing of request bodies (quick-xml's serde support). Malformed input is `MalformedXML`.

use serde::de::DeserializeOwned;

use crate::error::{S3Error, S3ErrorCode};

/// The namespace every S3 response document carries.
pub const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Builds an XML document with escaped text; element names are static and trusted.
pub struct XmlWriter {
    buf: String,
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    pub fn new() -> Self {
        let mut buf = String::with_capacity(512);
        buf.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        Self { buf }
    }

    /// Opens the root element with the S3 namespace.
    pub fn root(&mut self, name: &str) {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push_str(" xmlns=\"");
        self.buf.push_str(S3_NS);
        self.buf.push_str("\">");
    }

    pub fn open(&mut self, name: &str) {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
    }

    pub fn close(&mut self, name: &str) {
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
    }

    pub fn elem(&mut self, name: &str, text: &str) {
        self.open(name);
        self.buf.push_str(&quick_xml::escape::escape(text));
        self.close(name);
    }

    /// Writes the raw, already well-formed XML fragment `xml`.
    pub fn raw(&mut self, xml: &str) {
        self.buf.push_str(xml);
    }

    pub fn finish(self) -> String {
        self.buf
    }
}

/// Parses a request body into `T`; any syntax or shape error is `MalformedXML`.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, S3Error> {
    let text = std::str::from_utf8(body).map_err(|e| S3Error::new(S3ErrorCode::MalformedXML).with_source(e))?;
    quick_xml::de::from_str(text).map_err(|e| S3Error::new(S3ErrorCode::MalformedXML).with_source(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        let mut w = XmlWriter::new();
        w.root("R");
        w.elem("Key", "a<b>&\"c'");
        w.close("R");
        let out = w.finish();
        assert!(out.contains("<Key>a&lt;b&gt;&amp;&quot;c&apos;</Key>"), "{out}");
        assert!(out.contains("xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""));
    }

    #[test]
    fn malformed_body_is_malformed_xml() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Doc {
            #[serde(rename = "A")]
            a: String,
        }
        let err = parse::<Doc>(b"<Doc><A>x</Doc>").unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MalformedXML);
        let err = parse::<Doc>(&[0xff, 0xfe]).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MalformedXML);
        assert_eq!(parse::<Doc>(b"<Doc><A>x</A></Doc>").unwrap().a, "x");
    }
}
