//! `aws-chunked` body decoding as a pure state machine: feed it bytes, take decoded data out.
//! Each chunk's signature (chained from the seed signature) and the trailer signature are
//! verified when the body is signed; framing errors are reported, never passed through.
//!
//! Format: `hex-size[;chunk-signature=sig]\r\n data \r\n` … `0[;chunk-signature=sig]\r\n`,
//! then either `\r\n` or trailer lines `name:value\r\n` and a final `\r\n`.

use bytes::{Buf, Bytes, BytesMut};
use sha2::{Digest, Sha256};

use super::sigv4;

/// The longest chunk header or trailer line accepted.
const MAX_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16;

/// Verifies the chained signatures of a signed streaming body.
#[derive(Debug, Clone)]
pub struct ChunkSigner {
    key: [u8; 32],
    timestamp: String,
    scope: String,
    previous: String,
}

impl ChunkSigner {
    pub fn new(key: [u8; 32], timestamp: String, scope: String, seed_signature: String) -> Self {
        Self { key, timestamp, scope, previous: seed_signature }
    }

    fn check_chunk(&mut self, data_sha256: &str, given: &str) -> bool {
        let sts = sigv4::chunk_string_to_sign(&self.timestamp, &self.scope, &self.previous, data_sha256);
        let expected = sigv4::signature(&self.key, &sts);
        let ok = sigv4::signatures_equal(&expected, given);
        self.previous = expected;
        ok
    }

    fn check_trailer(&self, trailer_sha256: &str, given: &str) -> bool {
        let sts = sigv4::trailer_string_to_sign(&self.timestamp, &self.scope, &self.previous, trailer_sha256);
        sigv4::signatures_equal(&sigv4::signature(&self.key, &sts), given)
    }
}

/// What is wrong with a chunked body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("malformed aws-chunked framing: {0}")]
    Framing(&'static str),
    #[error("a chunk signature does not match")]
    ChunkSignature,
    #[error("the trailer signature does not match")]
    TrailerSignature,
    #[error("the body ended inside a chunk")]
    Truncated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Data {
        remaining: u64,
    },
    DataEnd,
    /// After the last chunk of a body without trailers: expect the final CRLF.
    FinalCrlf,
    Trailers,
    Done,
}

pub struct ChunkedDecoder {
    state: State,
    signer: Option<ChunkSigner>,
    expects_trailer: bool,
    chunk_signature: String,
    chunk_hash: Sha256,
    trailers: Vec<(String, String)>,
    trailer_signature: Option<String>,
}

impl ChunkedDecoder {
    pub fn new(signer: Option<ChunkSigner>, expects_trailer: bool) -> Self {
        Self {
            state: State::Header,
            signer,
            expects_trailer,
            chunk_signature: String::new(),
            chunk_hash: Sha256::new(),
            trailers: Vec::new(),
            trailer_signature: None,
        }
    }

    /// True once the final chunk (and trailers) were read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Trailer headers (`x-amz-checksum-*`), available when done.
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    /// Consumes framing from `buf` and returns the next piece of decoded data, or `None` when
    /// `buf` holds no complete piece (feed more) or the body is done.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, ChunkError> {
        loop {
            match self.state {
                State::Header => {
                    let Some(line) = take_line(buf)? else { return Ok(None) };
                    self.start_chunk(&line)?;
                }
                State::Data { remaining } => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = (buf.len() as u64).min(remaining) as usize;
                    let data = buf.split_to(n).freeze();
                    if self.signer.is_some() {
                        self.chunk_hash.update(&data);
                    }
                    let remaining = remaining - n as u64;
                    self.state = if remaining == 0 { State::DataEnd } else { State::Data { remaining } };
                    return Ok(Some(data));
                }
                State::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(None);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(ChunkError::Framing("chunk data not followed by CRLF"));
                    }
                    buf.advance(2);
                    self.finish_chunk()?;
                    self.state = State::Header;
                }
                State::FinalCrlf => {
                    if buf.len() < 2 {
                        return Ok(None);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(ChunkError::Framing("final chunk not followed by CRLF"));
                    }
                    buf.advance(2);
                    self.state = State::Done;
                }
                State::Trailers => {
                    let Some(line) = take_line(buf)? else { return Ok(None) };
                    if line.is_empty() {
                        self.finish_trailers()?;
                        self.state = State::Done;
                    } else {
                        self.add_trailer(&line)?;
                    }
                }
                State::Done => {
                    if !buf.is_empty() {
                        return Err(ChunkError::Framing("data after the final chunk"));
                    }
                    return Ok(None);
                }
            }
        }
    }

    /// Called at end of input: the body must have ended exactly after the framing.
    pub fn finish(&self) -> Result<(), ChunkError> {
        if self.state == State::Done {
            Ok(())
        } else {
            Err(ChunkError::Truncated)
        }
    }

    fn start_chunk(&mut self, line: &str) -> Result<(), ChunkError> {
        let (size, ext) = line.split_once(';').unwrap_or((line, ""));
        if size.is_empty() || size.len() > 16 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ChunkError::Framing("chunk size is not hexadecimal"));
        }
        let size = u64::from_str_radix(size, 16).map_err(|_| ChunkError::Framing("chunk size is not hexadecimal"))?;
        if self.signer.is_some() {
            let sig = ext
                .strip_prefix("chunk-signature=")
                .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or(ChunkError::Framing("signed chunk without a valid chunk-signature"))?;
            self.chunk_signature = sig.to_ascii_lowercase();
        }
        if size == 0 {
            self.finish_chunk()?;
            self.state = if self.expects_trailer { State::Trailers } else { State::FinalCrlf };
        } else {
            self.state = State::Data { remaining: size };
        }
        Ok(())
    }

    fn finish_chunk(&mut self) -> Result<(), ChunkError> {
        if let Some(signer) = &mut self.signer {
            let hash = hex::encode(std::mem::take(&mut self.chunk_hash).finalize());
            if !signer.check_chunk(&hash, &self.chunk_signature) {
                return Err(ChunkError::ChunkSignature);
            }
        }
        Ok(())
    }

    fn add_trailer(&mut self, line: &str) -> Result<(), ChunkError> {
        let (name, value) = line.split_once(':').ok_or(ChunkError::Framing("trailer line without ':'"))?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim().to_owned();
        if name == "x-amz-trailer-signature" {
            self.trailer_signature = Some(value.to_ascii_lowercase());
        } else {
            if self.trailers.len() == MAX_TRAILERS {
                return Err(ChunkError::Framing("too many trailer headers"));
            }
            self.trailers.push((name, value));
        }
        Ok(())
    }

    fn finish_trailers(&mut self) -> Result<(), ChunkError> {
        let Some(signer) = &self.signer else { return Ok(()) };
        let given = self.trailer_signature.as_deref().ok_or(ChunkError::TrailerSignature)?;
        let canonical: String = self.trailers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
        if signer.check_trailer(&sigv4::sha256_hex(canonical.as_bytes()), given) {
            Ok(())
        } else {
            Err(ChunkError::TrailerSignature)
        }
    }
}

/// Takes one CRLF-terminated line (without the CRLF) from `buf`.
fn take_line(buf: &mut BytesMut) -> Result<Option<String>, ChunkError> {
    let Some(pos) = buf.windows(2).position(|w| w == b"\r\n") else {
        if buf.len() > MAX_LINE {
            return Err(ChunkError::Framing("chunk header line too long"));
        }
        return Ok(None);
    };
    if pos > MAX_LINE {
        return Err(ChunkError::Framing("chunk header line too long"));
    }
    let line = buf.split_to(pos);
    buf.advance(2);
    String::from_utf8(line.to_vec()).map(Some).map_err(|_| ChunkError::Framing("chunk header is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `body` fed in pieces of `step` bytes.
    fn decode_all(dec: &mut ChunkedDecoder, body: &[u8], step: usize) -> Result<Vec<u8>, ChunkError> {
        let mut out = Vec::new();
        let mut buf = BytesMut::new();
        for piece in body.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            while let Some(data) = dec.decode(&mut buf)? {
                out.extend_from_slice(&data);
            }
        }
        dec.finish()?;
        Ok(out)
    }

    fn docs_signer() -> ChunkSigner {
        let key = sigv4::signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3");
        ChunkSigner::new(
            key,
            "20130524T000000Z".into(),
            "20130524/us-east-1/s3/aws4_request".into(),
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9".into(),
        )
    }

    /// The chunked PUT example from the S3 documentation, byte for byte.
    fn docs_body() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(
            b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n",
        );
        body.extend_from_slice(&[b'a'; 65536]);
        body.extend_from_slice(
            b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n",
        );
        body.extend_from_slice(&[b'a'; 1024]);
        body.extend_from_slice(
            b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n",
        );
        body
    }

    #[test]
    fn s3_docs_signed_body_decodes_in_any_split() {
        let body = docs_body();
        assert_eq!(body.len(), 66824, "the docs' Content-Length");
        for step in [1, 7, 100, 65536, body.len()] {
            let out = decode_all(&mut ChunkedDecoder::new(Some(docs_signer()), false), &body, step).unwrap();
            assert_eq!(out.len(), 66560);
            assert!(out.iter().all(|b| *b == b'a'));
        }
    }

    #[test]
    fn tampered_chunk_is_rejected() {
        let mut body = docs_body();
        body[200] = b'b';
        let err = decode_all(&mut ChunkedDecoder::new(Some(docs_signer()), false), &body, 4096).unwrap_err();
        assert_eq!(err, ChunkError::ChunkSignature);
    }

    #[test]
    fn unsigned_trailer_body() {
        let body = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
        for step in [1, 3, body.len()] {
            let mut dec = ChunkedDecoder::new(None, true);
            assert_eq!(decode_all(&mut dec, body, step).unwrap(), b"hello world");
            assert_eq!(dec.trailers(), [("x-amz-checksum-crc32".to_string(), "DUoRhQ==".to_string())]);
        }
    }

    #[test]
    fn signed_trailer_is_verified() {
        let mut signer = docs_signer();
        let c1 = {
            let sts = sigv4::chunk_string_to_sign(
                "20130524T000000Z",
                "20130524/us-east-1/s3/aws4_request",
                &signer.previous,
                &sigv4::sha256_hex(b"abc"),
            );
            sigv4::signature(&signer.key, &sts)
        };
        assert!(signer.check_chunk(&sigv4::sha256_hex(b"abc"), &c1));
        let c0 = {
            let sts = sigv4::chunk_string_to_sign(
                "20130524T000000Z",
                "20130524/us-east-1/s3/aws4_request",
                &c1,
                sigv4::EMPTY_SHA256,
            );
            sigv4::signature(&signer.key, &sts)
        };
        let trailer = "x-amz-checksum-crc32:NSRBwg==\n";
        let ts = sigv4::trailer_string_to_sign(
            "20130524T000000Z",
            "20130524/us-east-1/s3/aws4_request",
            &c0,
            &sigv4::sha256_hex(trailer.as_bytes()),
        );
        let tsig = sigv4::signature(&signer.key, &ts);
        let good = format!("3;chunk-signature={c1}\r\nabc\r\n0;chunk-signature={c0}\r\nx-amz-checksum-crc32:NSRBwg==\r\nx-amz-trailer-signature:{tsig}\r\n\r\n");
        let mut dec = ChunkedDecoder::new(Some(docs_signer()), true);
        assert_eq!(decode_all(&mut dec, good.as_bytes(), 5).unwrap(), b"abc");
        let bad = good.replace("NSRBwg==", "AAAAAA==");
        let err = decode_all(&mut ChunkedDecoder::new(Some(docs_signer()), true), bad.as_bytes(), 5).unwrap_err();
        assert_eq!(err, ChunkError::TrailerSignature);
    }

    #[test]
    fn malformed_framing() {
        let cases: [(&[u8], ChunkError); 6] = [
            (b"zz\r\nabc\r\n0\r\n\r\n", ChunkError::Framing("chunk size is not hexadecimal")),
            (b"3\r\nabcX\r\n0\r\n\r\n", ChunkError::Framing("chunk data not followed by CRLF")),
            (b"3\r\nabc\r\n0\r\n\r\nextra", ChunkError::Framing("data after the final chunk")),
            (b"3\r\nab", ChunkError::Truncated),
            (b"3\r\nabc\r\n0\r\n", ChunkError::Truncated),
            (b"11111111111111111\r\n", ChunkError::Framing("chunk size is not hexadecimal")),
        ];
        for (body, want) in cases {
            let got = decode_all(&mut ChunkedDecoder::new(None, false), body, 2).unwrap_err();
            assert_eq!(got, want, "{}", String::from_utf8_lossy(body));
        }
        let long = vec![b'1'; MAX_LINE + 10];
        assert!(decode_all(&mut ChunkedDecoder::new(None, false), &long, 100).is_err());
        let unsigned_chunk = b"3\r\nabc\r\n0\r\n\r\n";
        assert!(decode_all(&mut ChunkedDecoder::new(Some(docs_signer()), false), unsigned_chunk, 4).is_err());
    }
}
