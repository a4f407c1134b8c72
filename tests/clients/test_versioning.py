"""Versioning through boto3, and the "empty a bucket" routine of test suites, backup tools and SDK
helpers: page through list_object_versions, delete every version and marker with delete_objects,
then delete the bucket. It must work on versioned and unversioned buckets alike."""

import pytest
from botocore.exceptions import ClientError


def empty_and_delete(s3, bucket):
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 7}):
        entries = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                   for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if entries:
            out = s3.delete_objects(Bucket=bucket, Delete={"Objects": entries, "Quiet": True})
            assert not out.get("Errors"), out
    s3.delete_bucket(Bucket=bucket)


@pytest.mark.parametrize("versioned", [True, False])
def test_empty_a_bucket_by_its_versions(s3, versioned):
    bucket = "empty-versioned" if versioned else "empty-plain"
    s3.create_bucket(Bucket=bucket)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for i in range(12):
        for n in range(3 if versioned else 1):
            s3.put_object(Bucket=bucket, Key=f"dir/{i:02}", Body=f"{i}-{n}".encode())
    s3.delete_object(Bucket=bucket, Key="dir/00")
    versions = s3.list_object_versions(Bucket=bucket)
    assert len(versions.get("Versions", [])) == (36 if versioned else 11)
    assert len(versions.get("DeleteMarkers", [])) == (1 if versioned else 0)
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "BucketNotEmpty"
    empty_and_delete(s3, bucket)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_boto3_versions_and_markers(s3):
    s3.create_bucket(Bucket="boto-versions")
    s3.put_bucket_versioning(Bucket="boto-versions", VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket="boto-versions")["Status"] == "Enabled"
    v1 = s3.put_object(Bucket="boto-versions", Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket="boto-versions", Key="k", Body=b"two")["VersionId"]
    assert s3.get_object(Bucket="boto-versions", Key="k", VersionId=v1)["Body"].read() == b"one"
    marker = s3.delete_object(Bucket="boto-versions", Key="k")
    assert marker["DeleteMarker"] is True
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="boto-versions", Key="k")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    s3.delete_object(Bucket="boto-versions", Key="k", VersionId=marker["VersionId"])
    got = s3.get_object(Bucket="boto-versions", Key="k")
    assert (got["VersionId"], got["Body"].read()) == (v2, b"two")
    s3.put_bucket_versioning(Bucket="boto-versions", VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket="boto-versions")["Status"] == "Suspended"
    empty_and_delete(s3, "boto-versions")
