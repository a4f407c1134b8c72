//! The app of the end-to-end suite (image `bleepstore-e2e-app`): an S3 client configured only by
//! its environment, as an app reading an AccessKey's Secret through `envFrom` is: the AWS SDK's
//! own variables (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`)
//! and `BUCKET_NAME`. It writes an object, reads it back, lists it, and exits 0 only if all
//! three agree; a Job's completion is the verdict.

use std::process::ExitCode;

use aws_sdk_s3::primitives::ByteStream;

async fn run() -> Result<(), String> {
    let bucket = std::env::var("BUCKET_NAME").map_err(|_| "BUCKET_NAME is not set".to_owned())?;
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "app".to_owned());
    let shared = aws_config::load_from_env().await;
    // Path-style: an in-cluster endpoint is a Service name, with no wildcard DNS for buckets.
    let config = aws_sdk_s3::config::Builder::from(&shared).force_path_style(true).build();
    let s3 = aws_sdk_s3::Client::from_conf(config);
    let key = format!("e2e-app/{host}.txt");
    let body = format!("written by {host}");
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .body(ByteStream::from(body.clone().into_bytes()))
        .send()
        .await
        .map_err(|e| format!("PutObject: {e:?}"))?;
    let got = s3.get_object().bucket(&bucket).key(&key).send().await.map_err(|e| format!("GetObject: {e:?}"))?;
    let bytes = got.body.collect().await.map_err(|e| format!("GetObject body: {e}"))?.into_bytes();
    if bytes.as_ref() != body.as_bytes() {
        return Err(format!("read back {} bytes that differ from what was written", bytes.len()));
    }
    let listed = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("e2e-app/")
        .send()
        .await
        .map_err(|e| format!("ListObjectsV2: {e:?}"))?;
    if !listed.contents().iter().any(|o| o.key() == Some(key.as_str())) {
        return Err(format!("{key} is not listed"));
    }
    println!("ok: wrote, read back and listed s3://{bucket}/{key}");
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bleepstore-e2e-app: {e}");
            ExitCode::FAILURE
        }
    }
}
