"""Tagging through boto3 and the AWS CLI: tags at upload (boto3 encodes `Tagging` itself, and
the CLI's `s3 cp` does not tag), Put/Get/DeleteObjectTagging, copies keeping or replacing tags,
bucket tags, and the errors SDKs surface for broken tag sets."""

import json

import pytest
from botocore.exceptions import ClientError


def tag_set(pairs):
    return {"TagSet": [{"Key": k, "Value": v} for k, v in pairs]}


def error(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"], e.value.response["Error"]["Code"]


def test_boto3_object_tags(s3):
    s3.create_bucket(Bucket="boto-tags")
    s3.put_object(Bucket="boto-tags", Key="k", Body=b"x", Tagging="team=data eng&cost=42")
    got = s3.get_object_tagging(Bucket="boto-tags", Key="k")["TagSet"]
    assert [(t["Key"], t["Value"]) for t in got] == [("team", "data eng"), ("cost", "42")]
    assert s3.head_object(Bucket="boto-tags", Key="k")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "2"
    s3.put_object_tagging(Bucket="boto-tags", Key="k", Tagging=tag_set([("only", "one")]))
    assert s3.get_object(Bucket="boto-tags", Key="k")["TagCount"] == 1
    s3.copy_object(Bucket="boto-tags", Key="copy", CopySource={"Bucket": "boto-tags", "Key": "k"})
    assert s3.get_object_tagging(Bucket="boto-tags", Key="copy")["TagSet"] == [{"Key": "only", "Value": "one"}]
    s3.copy_object(Bucket="boto-tags", Key="copy2", CopySource={"Bucket": "boto-tags", "Key": "k"},
                   TaggingDirective="REPLACE", Tagging="fresh=yes")
    assert s3.get_object_tagging(Bucket="boto-tags", Key="copy2")["TagSet"] == [{"Key": "fresh", "Value": "yes"}]
    s3.delete_object_tagging(Bucket="boto-tags", Key="k")
    assert s3.get_object_tagging(Bucket="boto-tags", Key="k")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket="boto-tags", Key="k")


def test_boto3_tag_errors(s3):
    s3.create_bucket(Bucket="boto-tag-errors")
    s3.put_object(Bucket="boto-tag-errors", Key="k", Body=b"x")
    put = s3.put_object_tagging
    eleven = tag_set([(f"k{i}", "v") for i in range(11)])
    assert error(put, Bucket="boto-tag-errors", Key="k", Tagging=eleven) == (400, "BadRequest")
    assert error(put, Bucket="boto-tag-errors", Key="k", Tagging=tag_set([("k" * 129, "v")])) == (400, "InvalidTag")
    assert error(put, Bucket="boto-tag-errors", Key="k", Tagging=tag_set([("k", "1"), ("k", "2")])) == (400, "InvalidTag")
    assert error(put, Bucket="boto-tag-errors", Key="missing", Tagging=tag_set([])) == (404, "NoSuchKey")
    assert error(s3.put_object, Bucket="boto-tag-errors", Key="n", Body=b"x", Tagging="a=1&a=2") == (400, "InvalidArgument")
    assert error(s3.head_object, Bucket="boto-tag-errors", Key="n")[0] == 404


def test_boto3_bucket_tags(s3):
    s3.create_bucket(Bucket="boto-bucket-tags")
    assert error(s3.get_bucket_tagging, Bucket="boto-bucket-tags") == (404, "NoSuchTagSet")
    s3.put_bucket_tagging(Bucket="boto-bucket-tags", Tagging=tag_set([("env", "prod"), ("owner", "team-a")]))
    got = s3.get_bucket_tagging(Bucket="boto-bucket-tags")["TagSet"]
    assert [(t["Key"], t["Value"]) for t in got] == [("env", "prod"), ("owner", "team-a")]
    too_many = tag_set([(f"k{i}", "v") for i in range(51)])
    assert error(s3.put_bucket_tagging, Bucket="boto-bucket-tags", Tagging=too_many) == (400, "BadRequest")
    s3.delete_bucket_tagging(Bucket="boto-bucket-tags")
    assert error(s3.get_bucket_tagging, Bucket="boto-bucket-tags") == (404, "NoSuchTagSet")


def test_cli_object_tagging(aws, tmp_path):
    aws("s3", "mb", "s3://cli-tags")
    src = tmp_path / "f.txt"
    src.write_text("tagged")
    aws("s3", "cp", str(src), "s3://cli-tags/f.txt")
    aws("s3api", "put-object-tagging", "--bucket", "cli-tags", "--key", "f.txt",
        "--tagging", json.dumps(tag_set([("from", "cli")])))
    out = json.loads(aws("s3api", "get-object-tagging", "--bucket", "cli-tags", "--key", "f.txt"))
    assert out["TagSet"] == [{"Key": "from", "Value": "cli"}]
