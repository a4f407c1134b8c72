//! What a SigV4 signature covers: added `x-amz-*` headers are refused (`HeadersNotSigned`) in
//! both forms and change nothing; SigV2 covers them by construction; generic signers that sign
//! the body's hash without sending `x-amz-content-sha256` are accepted, and a body that does not
//! match their signature is refused and stores nothing.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use bleepstore::auth::{sigv2, sigv4};

use crate::common::{code, TestServer, ACCESS_KEY, SECRET_KEY};
use crate::raw::{self, Auth};

const EMPTY: &str = sigv4::EMPTY_SHA256;

/// The headers an attacker adds to a request someone else signed, and what each would do.
const ADDED: [(&str, &str); 4] = [
    ("x-amz-copy-source", "/private/payroll.csv"),
    ("x-amz-acl", "public-read"),
    ("x-amz-tagging", "a=b"),
    ("x-amz-metadata-directive", "REPLACE"),
];

async fn setup(srv: &TestServer) {
    let c = srv.client();
    c.create_bucket().bucket("private").send().await.unwrap();
    c.put_object().bucket("private").key("payroll.csv").body(b"salaries".to_vec().into()).send().await.unwrap();
    c.create_bucket().bucket("drop").send().await.unwrap();
}

fn assert_refused(r: &raw::RawResponse, header: &str) {
    assert_eq!((r.status, r.code()), (403, "AccessDenied"), "{header}: {}", r.body);
    assert!(r.body.contains("There were headers present in the request which were not signed"), "{}", r.body);
    assert!(r.body.contains(&format!("<HeadersNotSigned>{header}</HeadersNotSigned>")), "{}", r.body);
}

async fn nothing_written(srv: &TestServer) {
    let listed = srv.client().list_objects_v2().bucket("drop").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0), "nothing was written or copied");
    let anonymous = reqwest::get(format!("http://{}/private/payroll.csv", srv.addr)).await.unwrap();
    assert_eq!(anonymous.status(), 403, "the private object stayed private");
}

#[tokio::test]
async fn presigned_urls_refuse_added_amz_headers() {
    let srv = TestServer::start().await;
    setup(&srv).await;
    let cfg = PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let put = srv.client().put_object().bucket("drop").key("upload").presigned(cfg.clone()).await.unwrap();
    let http = reqwest::Client::new();
    for (name, value) in ADDED {
        let resp = http.put(put.uri()).header(name, value).body("bytes").send().await.unwrap();
        let r = raw::RawResponse {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        };
        assert_refused(&r, name);
    }
    // The copy-and-publish attack of the issue, both headers at once: both are named.
    let resp = http
        .put(put.uri())
        .header("x-amz-copy-source", "/private/payroll.csv")
        .header("x-amz-acl", "public-read")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("<HeadersNotSigned>x-amz-acl, x-amz-copy-source</HeadersNotSigned>"));
    nothing_written(&srv).await;

    // Headers the signer did sign are fine; so is a value carried in the signed query.
    let signed_acl = srv.client().put_object().bucket("drop").key("signed").acl("public-read".into());
    let signed_acl = signed_acl.presigned(cfg).await.unwrap();
    let mut req = http.put(signed_acl.uri()).body("public on purpose");
    for (n, v) in signed_acl.headers() {
        req = req.header(n, v);
    }
    assert_eq!(req.send().await.unwrap().status(), 200);
    let anonymous = reqwest::get(format!("http://{}/drop/signed", srv.addr)).await.unwrap();
    assert_eq!(anonymous.status(), 200, "the signed ACL applied");
}

#[tokio::test]
async fn header_signed_requests_refuse_added_amz_headers() {
    let srv = TestServer::start().await;
    setup(&srv).await;
    for (name, value) in ADDED {
        // Signed over host;x-amz-content-sha256;x-amz-date, then replayed with one more header.
        let mut all = Vec::new();
        raw::sign(
            srv.addr,
            "PUT",
            "/drop/replayed",
            &mut all,
            (ACCESS_KEY, SECRET_KEY),
            EMPTY,
            time::OffsetDateTime::now_utc(),
        );
        all.push((name.to_owned(), value.to_owned()));
        let r = raw::send_raw(srv.addr, "PUT", "/drop/replayed", &all, vec![]).await;
        assert_refused(&r, name);
    }
    nothing_written(&srv).await;
    // The same headers, signed, do what they say.
    let r = raw::send(
        srv.addr,
        "PUT",
        "/drop/copied",
        &[("x-amz-copy-source", "/private/payroll.csv")],
        vec![],
        Auth::root(EMPTY),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// SigV2 signs every `x-amz-*` header: one added to a signed request breaks the signature.
#[tokio::test]
async fn sigv2_covers_every_amz_header() {
    let srv = TestServer::start().await;
    setup(&srv).await;
    let expires = (time::OffsetDateTime::now_utc().unix_timestamp() + 300).to_string();
    let sts = sigv2::string_to_sign("PUT", "", "", &expires, &[], "/drop/v2");
    let sig = sigv2::signature(SECRET_KEY, &sts);
    let enc = |s: &str| sigv4::uri_encode(s.as_bytes(), false);
    let url =
        format!("http://{}/drop/v2?AWSAccessKeyId={ACCESS_KEY}&Expires={expires}&Signature={}", srv.addr, enc(&sig));
    let http = reqwest::Client::new();
    let resp = http.put(&url).header("x-amz-copy-source", "/private/payroll.csv").send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("<Code>SignatureDoesNotMatch</Code>"));
    nothing_written(&srv).await;
    assert_eq!(http.put(&url).body("v2").send().await.unwrap().status(), 200, "the URL itself works");
}

/// botocore's plain `SigV4Auth`, requests-aws4auth and aws4 sign the SHA-256 of the body and
/// send no x-amz-content-sha256.
#[tokio::test]
async fn generic_signers_without_a_payload_hash_header() {
    let srv = TestServer::start().await;
    srv.client().create_bucket().bucket("gen").send().await.unwrap();
    let body = b"signed by a generic SigV4 signer".to_vec();
    let put = |path: &'static str, body: Vec<u8>, signed_as: Vec<u8>| {
        let addr = srv.addr;
        async move {
            let mut all = vec![("content-type".to_owned(), "text/plain".to_owned())];
            raw::sign_generic(addr, "PUT", path, &mut all, &sigv4::sha256_hex(&signed_as));
            raw::send_raw(addr, "PUT", path, &all, body).await
        }
    };
    let r = put("/gen/ok", body.clone(), body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut all = Vec::new();
    raw::sign_generic(srv.addr, "GET", "/gen/ok", &mut all, EMPTY);
    let r = raw::send_raw(srv.addr, "GET", "/gen/ok", &all, vec![]).await;
    assert_eq!((r.status, r.body.as_bytes()), (200, &body[..]));

    // A body other than the one signed: refused, and nothing stored.
    let r = put("/gen/tampered", b"tampered body, same length!!!!!!".to_vec(), body.clone()).await;
    assert_eq!((r.status, r.code()), (403, "SignatureDoesNotMatch"), "{}", r.body);
    let err = srv.client().head_object().bucket("gen").key("tampered").send().await.unwrap_err();
    assert_eq!(crate::common::status(&err), 404);
    assert_eq!(srv.temp_files(), 0);
    // A large body streams: the signature is checked when it ends, before the object exists.
    let big = crate::common::data(3 << 20, 7);
    let r = put("/gen/big", big.clone(), big.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut bad = big.clone();
    bad[1 << 20] ^= 1;
    let r = put("/gen/big-bad", bad, big).await;
    assert_eq!(r.code(), "SignatureDoesNotMatch");
    assert!(srv.client().head_object().bucket("gen").key("big-bad").send().await.is_err());

    // An operation that does not stream object bytes checks the signature before acting.
    let doc = b"<Delete><Object><Key>ok</Key></Object></Delete>".to_vec();
    let md5 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, {
        use md5::Digest;
        md5::Md5::digest(&doc)
    });
    let mut all = vec![("content-md5".to_owned(), md5)];
    raw::sign_generic(
        srv.addr,
        "POST",
        "/gen?delete",
        &mut all,
        &sigv4::sha256_hex(b"<Delete>something else</Delete>"),
    );
    let r = raw::send_raw(srv.addr, "POST", "/gen?delete", &all, doc.clone()).await;
    assert_eq!(r.code(), "SignatureDoesNotMatch");
    srv.client().head_object().bucket("gen").key("ok").send().await.expect("the refused delete deleted nothing");
    let mut all = vec![("content-md5".to_owned(), all[0].1.clone())];
    raw::sign_generic(srv.addr, "POST", "/gen?delete", &mut all, &sigv4::sha256_hex(&doc));
    let r = raw::send_raw(srv.addr, "POST", "/gen?delete", &all, doc).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let err = srv.client().head_object().bucket("gen").key("ok").send().await.unwrap_err();
    assert_eq!(code(&err), "NotFound");
}
