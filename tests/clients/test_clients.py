"""boto3 and the AWS CLI, with their default settings, against a real bleepstore process."""

import hashlib
import os
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError


def test_boto3_bucket_and_object_lifecycle(s3):
    s3.create_bucket(Bucket="boto-life")
    assert "boto-life" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    body = os.urandom(300_000)
    put = s3.put_object(Bucket="boto-life", Key="dir/a file+€.bin", Body=body, ContentType="application/x-test", Metadata={"k": "v"})
    assert put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    got = s3.get_object(Bucket="boto-life", Key="dir/a file+€.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"k": "v"}
    listed = s3.list_objects_v2(Bucket="boto-life", Prefix="dir/")
    assert [o["Key"] for o in listed["Contents"]] == ["dir/a file+€.bin"]
    ranged = s3.get_object(Bucket="boto-life", Key="dir/a file+€.bin", Range="bytes=10-19")
    assert ranged["Body"].read() == body[10:20]
    s3.delete_object(Bucket="boto-life", Key="dir/a file+€.bin")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="boto-life", Key="dir/a file+€.bin")
    assert e.value.response["Error"]["Code"] == "404"
    s3.delete_bucket(Bucket="boto-life")


def test_boto3_errors(s3):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="no-such-bucket-here", Key="k")
    assert e.value.response["Error"]["Code"] == "NoSuchBucket"
    s3.create_bucket(Bucket="boto-err")
    s3.put_object(Bucket="boto-err", Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="boto-err")
    assert e.value.response["Error"]["Code"] == "BucketNotEmpty"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="boto-err", Key="k", Body=b"y", IfNoneMatch="*")
    assert e.value.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.get_object(Bucket="boto-err", Key="k")["Body"].read() == b"x"


def test_boto3_delete_objects_and_copy(s3):
    s3.create_bucket(Bucket="boto-many")
    for i in range(20):
        s3.put_object(Bucket="boto-many", Key=f"k{i:02}", Body=f"body {i}".encode())
    s3.copy_object(Bucket="boto-many", Key="copied", CopySource={"Bucket": "boto-many", "Key": "k07"})
    assert s3.get_object(Bucket="boto-many", Key="copied")["Body"].read() == b"body 7"
    out = s3.delete_objects(Bucket="boto-many", Delete={"Objects": [{"Key": f"k{i:02}"} for i in range(20)]})
    assert len(out["Deleted"]) == 20
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="boto-many")["Contents"]] == ["copied"]


def test_boto3_presigned_url_sigv4(server, urlopen):
    import boto3
    from botocore.config import Config
    from conftest import ACCESS_KEY, SECRET_KEY

    v4 = boto3.client("s3", endpoint_url=server["endpoint"], aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                      region_name="us-east-1", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
                      verify=server["ca"] if server["ca"] else None)
    v4.create_bucket(Bucket="boto-pre4")
    v4.put_object(Bucket="boto-pre4", Key="a b.txt", Body=b"v4 bytes")
    url = v4.generate_presigned_url("get_object", Params={"Bucket": "boto-pre4", "Key": "a b.txt"}, ExpiresIn=60)
    assert "X-Amz-Signature=" in url
    with urlopen(url) as resp:
        assert resp.read() == b"v4 bytes"
    bad = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    with pytest.raises(urllib.error.HTTPError) as e:
        urlopen(bad)
    assert e.value.code in (400, 403)


def test_boto3_presigned_url(s3, urlopen):
    s3.create_bucket(Bucket="boto-pre")
    s3.put_object(Bucket="boto-pre", Key="shared.txt", Body=b"shared bytes")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "boto-pre", "Key": "shared.txt"}, ExpiresIn=300)
    with urlopen(url) as resp:
        assert resp.read() == b"shared bytes"
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "boto-pre", "Key": "up.txt"}, ExpiresIn=300)
    # The URL signs no Content-Type; urllib would add a form type unless told otherwise.
    req = urllib.request.Request(put_url, data=b"uploaded", method="PUT", headers={"Content-Type": ""})
    with urlopen(req) as resp:
        assert resp.status == 200
    assert s3.get_object(Bucket="boto-pre", Key="up.txt")["Body"].read() == b"uploaded"


def test_boto3_listing_pagination(s3):
    s3.create_bucket(Bucket="boto-pages")
    keys = [f"p{d}/f{i:03}" for d in range(3) for i in range(40)] + [f"top{i}" for i in range(15)]
    for k in keys:
        s3.put_object(Bucket="boto-pages", Key=k, Body=b"")
    seen, prefixes = [], []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="boto-pages", Delimiter="/", PaginationConfig={"PageSize": 4}):
        seen += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    assert seen == sorted(k for k in keys if "/" not in k)
    assert prefixes == ["p0/", "p1/", "p2/"]
    v1 = [o["Key"] for page in s3.get_paginator("list_objects").paginate(Bucket="boto-pages", PaginationConfig={"PageSize": 7}) for o in page["Contents"]]
    assert v1 == sorted(keys)


def test_aws_cli_cp_ls_sync_rm(aws, tmp_path):
    aws("s3", "mb", "s3://cli-bucket")
    src = tmp_path / "up.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    aws("s3", "cp", str(src), "s3://cli-bucket/one/up.bin")
    assert "up.bin" in aws("s3", "ls", "s3://cli-bucket/one/")
    down = tmp_path / "down.bin"
    aws("s3", "cp", "s3://cli-bucket/one/up.bin", str(down))
    assert down.read_bytes() == src.read_bytes()
    tree = tmp_path / "tree"
    for rel in ["a.txt", "sub/b.txt", "sub/deeper/c d.txt"]:
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(os.urandom(1000))
    aws("s3", "sync", str(tree), "s3://cli-bucket/tree")
    back = tmp_path / "back"
    aws("s3", "sync", "s3://cli-bucket/tree", str(back))
    for rel in ["a.txt", "sub/b.txt", "sub/deeper/c d.txt"]:
        assert (back / rel).read_bytes() == (tree / rel).read_bytes(), rel
    aws("s3", "rm", "--recursive", "s3://cli-bucket")
    aws("s3", "rb", "s3://cli-bucket")
    assert "cli-bucket" not in aws("s3", "ls")


def test_boto3_upload_file_20_mib_and_download(s3, tmp_path):
    """upload_file with default settings: 20 MiB goes as a multipart upload (8 MiB threshold)."""
    s3.create_bucket(Bucket="boto-xfer")
    src = tmp_path / "twenty.bin"
    src.write_bytes(os.urandom(20 * 1024 * 1024))
    s3.upload_file(str(src), "boto-xfer", "twenty.bin")
    head = s3.head_object(Bucket="boto-xfer", Key="twenty.bin")
    assert head["ContentLength"] == 20 * 1024 * 1024
    assert head["ETag"].endswith('-3"'), head["ETag"]
    dst = tmp_path / "back.bin"
    s3.download_file("boto-xfer", "twenty.bin", str(dst))
    assert hashlib.md5(dst.read_bytes()).digest() == hashlib.md5(src.read_bytes()).digest()


def test_transfer_manager_200_mib_over_https(https_server, tmp_path):
    """boto3's transfer manager with 8 MiB threshold and chunks moves 200 MiB byte-identical."""
    from boto3.s3.transfer import TransferConfig

    from conftest import boto3_client

    s3 = boto3_client(https_server)
    cfg = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024)
    s3.create_bucket(Bucket="boto-big")
    src = tmp_path / "big.bin"
    block = os.urandom(1024 * 1024)
    with open(src, "wb") as f:
        for i in range(200):
            f.write(i.to_bytes(4, "little") + block[4:])
    s3.upload_file(str(src), "boto-big", "big.bin", Config=cfg)
    assert s3.head_object(Bucket="boto-big", Key="big.bin")["ETag"].endswith('-25"')
    dst = tmp_path / "big.back"
    s3.download_file("boto-big", "big.bin", str(dst), Config=cfg)
    digest = lambda p: hashlib.file_digest(open(p, "rb"), "sha256").hexdigest()  # noqa: E731
    assert digest(dst) == digest(src)


def test_openapi_document_is_valid_openapi_3(server):
    """The management port's /openapi.json passes an independent validator and lists every admin route."""
    import json

    from openapi_spec_validator import validate

    with urllib.request.urlopen(server["management"] + "/openapi.json") as resp:
        doc = json.load(resp)
    validate(doc)
    for path in ["/admin/v1/keys/{access_key}", "/admin/v1/keys/{access_key}/grants", "/admin/v1/buckets/{bucket}", "/admin/v1/usage"]:
        assert path in doc["paths"], path
