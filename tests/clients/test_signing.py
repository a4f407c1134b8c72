"""What real Python signers send: botocore's plain SigV4Auth (no x-amz-content-sha256), presigned
URLs with headers added after signing, and non-ASCII user metadata through boto3."""

import hashlib
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ACCESS_KEY, SECRET_KEY


def _generic_signed(server, method, path, body=b"", headers=None):
    """A request signed the way generic SigV4 tools do: the body's SHA-256 is signed, but no
    x-amz-content-sha256 header is sent."""
    request = AWSRequest(method=method, url=server["endpoint"] + path, data=body, headers=headers or {})
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(request)
    prepared = request.prepare()
    assert "X-Amz-Content-SHA256" not in prepared.headers and "x-amz-content-sha256" not in prepared.headers
    return urllib.request.Request(prepared.url, data=body if method == "PUT" else None, method=method,
                                  headers=dict(prepared.headers))


def test_botocore_plain_sigv4auth_puts_and_gets(s3, server, urlopen):
    s3.create_bucket(Bucket="generic-signer")
    body = b"signed by botocore's plain SigV4Auth"
    with urlopen(_generic_signed(server, "PUT", "/generic-signer/k", body)) as resp:
        assert resp.status == 200
    with urlopen(_generic_signed(server, "GET", "/generic-signer/k")) as resp:
        assert resp.read() == body
    # The signature covers the body: another body is refused, and nothing is stored.
    req = _generic_signed(server, "PUT", "/generic-signer/tampered", body)
    req.data = b"X" + body[1:]
    with pytest.raises(urllib.error.HTTPError) as e:
        urlopen(req)
    assert e.value.code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in e.value.read()
    listed = s3.list_objects_v2(Bucket="generic-signer")
    assert [o["Key"] for o in listed["Contents"]] == ["k"]


def test_presigned_put_with_added_headers_is_refused(s3, server, urlopen):
    import boto3
    from botocore.config import Config

    v4 = boto3.client("s3", endpoint_url=server["endpoint"], aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                      region_name="us-east-1", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
                      verify=server["ca"] if server["ca"] else None)
    s3.create_bucket(Bucket="presigned-attack")
    s3.put_object(Bucket="presigned-attack", Key="secret", Body=b"private bytes")
    params = {"Bucket": "presigned-attack", "Key": "upload"}
    # SigV4 names the unsigned headers; SigV2 (boto3's default here) signs every x-amz-* header,
    # so an added one breaks the signature.
    for client, code in ((v4, "AccessDenied"), (s3, "SignatureDoesNotMatch")):
        url = client.generate_presigned_url("put_object", Params=params, ExpiresIn=300)
        for extra in ({"x-amz-copy-source": "/presigned-attack/secret", "x-amz-acl": "public-read"},
                      {"x-amz-acl": "public-read-write"}):
            req = urllib.request.Request(url, data=b"", method="PUT", headers={"Content-Type": "", **extra})
            with pytest.raises(urllib.error.HTTPError) as e:
                urlopen(req)
            assert e.value.code == 403
            body = e.value.read().decode()
            assert f"<Code>{code}</Code>" in body, body
            if code == "AccessDenied":
                assert "<HeadersNotSigned>" in body
    assert "Contents" not in s3.list_objects_v2(Bucket="presigned-attack", Prefix="upload")


def test_non_ascii_metadata_round_trips(s3, server, urlopen):
    """boto3 refuses non-ASCII metadata itself; botocore's signer and Python's http.client (which
    sends header text as Latin-1) carry it, and get back exactly what they sent."""
    s3.create_bucket(Bucket="meta-unicode")
    meta = {"x-amz-meta-city": "Zürich", "x-amz-meta-plain": "ascii"}
    with urlopen(_generic_signed(server, "PUT", "/meta-unicode/k", b"x", meta)) as resp:
        assert resp.status == 200
    with urlopen(_generic_signed(server, "GET", "/meta-unicode/k")) as resp:
        assert resp.headers["x-amz-meta-city"] == "Zürich"
        assert resp.read() == b"x"
    assert s3.head_object(Bucket="meta-unicode", Key="k")["Metadata"] == {"city": "Zürich", "plain": "ascii"}
    assert hashlib.md5(b"x").hexdigest() in s3.head_object(Bucket="meta-unicode", Key="k")["ETag"]
