//! `s3bench`: measures an S3 endpoint (or a `bleepstore` it spawns) and prints a table.
//! Bodies are prepared before the clock starts; requests are signed with SigV4 header auth and
//! `UNSIGNED-PAYLOAD`, so the client does no hashing.

mod sign;

use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use futures_util::stream::{self, StreamExt};

#[derive(Parser)]
#[command(name = "s3bench")]
struct Args {
    /// S3 endpoint, e.g. http://127.0.0.1:9000 (ignored with --spawn).
    #[arg(long, default_value = "http://127.0.0.1:9000")]
    endpoint: String,
    #[arg(long, env = "AWS_ACCESS_KEY_ID", default_value = "")]
    access_key: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", default_value = "")]
    secret_key: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Start target/release/bleepstore on a temporary data dir and measure it.
    #[arg(long)]
    spawn: bool,
    /// Size of the single-PUT and multipart objects, in MiB.
    #[arg(long, default_value_t = 1024)]
    large_mib: usize,
}

struct Target {
    http: reqwest::Client,
    endpoint: String,
    host: String,
    creds: sign::Creds,
}

impl Target {
    async fn send(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: reqwest::Body,
        len: Option<u64>,
    ) -> (u16, String) {
        let url = if query.is_empty() {
            format!("{}{path}", self.endpoint)
        } else {
            format!("{}{path}?{query}", self.endpoint)
        };
        let mut req = self.http.request(method.parse().expect("method"), url).body(body);
        let mut extra = Vec::new();
        if let Some(len) = len {
            extra.push(("content-length".to_owned(), len.to_string()));
        }
        for (n, v) in sign::headers(&self.creds, method, &self.host, path, query, &extra) {
            req = req.header(n, v);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, text)
    }
}

fn tag<'a>(xml: &'a str, name: &str) -> &'a str {
    xml.split(&format!("<{name}>")).nth(1).and_then(|s| s.split(&format!("</{name}>")).next()).unwrap_or("")
}

/// A body of `total` bytes made of `block` repeated: no copy, no allocation on the clock.
fn repeated(block: &Bytes, total: usize) -> reqwest::Body {
    let block = block.clone();
    let n = total / block.len();
    reqwest::Body::wrap_stream(stream::iter((0..n).map(move |_| Ok::<_, std::io::Error>(block.clone()))))
}

struct Row {
    name: String,
    value: String,
}

async fn single_put(t: &Target, block: &Bytes, mib: usize) -> Row {
    let total = mib * 1024 * 1024;
    let start = Instant::now();
    let (status, _) = t.send("PUT", "/bench/single", "", repeated(block, total), Some(total as u64)).await;
    assert_eq!(status, 200);
    let secs = start.elapsed().as_secs_f64();
    Row { name: format!("PUT {mib} MiB (one request)"), value: format!("{:.0} MiB/s", mib as f64 / secs) }
}

/// Uploads `mib` MiB in parts of `part_mib` with `concurrency` in flight; returns throughput and
/// the CompleteMultipartUpload latency.
async fn multipart(
    t: &Target,
    block: &Bytes,
    key: &str,
    mib: usize,
    parts: usize,
    concurrency: usize,
) -> (f64, Duration) {
    let total = mib * 1024 * 1024;
    let part_size = total / parts;
    let (status, body) = t.send("POST", &format!("/bench/{key}"), "uploads=", reqwest::Body::from(""), Some(0)).await;
    assert_eq!(status, 200, "{body}");
    let id = tag(&body, "UploadId").to_owned();
    let part_block = Bytes::from(block.slice(..part_size.min(block.len())).to_vec());
    let start = Instant::now();
    let etags: Vec<(usize, String)> = stream::iter(1..=parts)
        .map(|n| {
            let (id, part_block) = (id.clone(), part_block.clone());
            async move {
                let query = format!("partNumber={n}&uploadId={id}");
                let body = if part_size.is_multiple_of(part_block.len()) {
                    repeated(&part_block, part_size)
                } else {
                    reqwest::Body::from(vec![7u8; part_size])
                };
                let url = format!("{}/bench/{key}?{query}", t.endpoint);
                let mut req = t.http.put(url).body(body);
                for (h, v) in sign::headers(
                    &t.creds,
                    "PUT",
                    &t.host,
                    &format!("/bench/{key}"),
                    &query,
                    &[("content-length".into(), part_size.to_string())],
                ) {
                    req = req.header(h, v);
                }
                let resp = req.send().await.expect("part");
                assert_eq!(resp.status().as_u16(), 200);
                (n, resp.headers()["etag"].to_str().expect("etag").to_owned())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let uploaded = start.elapsed();
    let mut etags = etags;
    etags.sort();
    let xml: String =
        etags.iter().map(|(n, e)| format!("<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>")).collect();
    let doc = format!("<CompleteMultipartUpload>{xml}</CompleteMultipartUpload>");
    let len = doc.len() as u64;
    let complete_start = Instant::now();
    let (status, body) =
        t.send("POST", &format!("/bench/{key}"), &format!("uploadId={id}"), reqwest::Body::from(doc), Some(len)).await;
    let complete = complete_start.elapsed();
    assert_eq!(status, 200, "{body}");
    let secs = (uploaded + complete).as_secs_f64();
    (mib as f64 / secs, complete)
}

/// `n` requests of `f(i)` with `concurrency` in flight; returns (ops/s, p50 ms, p99 ms).
async fn latency_run<F, Fut>(n: usize, concurrency: usize, f: F) -> (f64, f64, f64)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let start = Instant::now();
    let mut lat: Vec<f64> = stream::iter(0..n)
        .map(|i| {
            let fut = f(i);
            async move {
                let t = Instant::now();
                fut.await;
                t.elapsed().as_secs_f64() * 1000.0
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let secs = start.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    (n as f64 / secs, pct(0.50), pct(0.99))
}

async fn small_objects(t: &Target, rows: &mut Vec<Row>) {
    let body = Bytes::from(vec![42u8; 4096]);
    for concurrency in [1usize, 16, 64] {
        let n = if concurrency == 1 { 500 } else { 3000 };
        let (ops, p50, p99) = latency_run(n, concurrency, |i| {
            let body = body.clone();
            async move {
                let (status, _) = t
                    .send("PUT", &format!("/bench/small/c{concurrency}/{i}"), "", reqwest::Body::from(body), Some(4096))
                    .await;
                assert_eq!(status, 200);
            }
        })
        .await;
        rows.push(Row {
            name: format!("PUT 4 KiB, c={concurrency}"),
            value: format!("{ops:.0} ops/s, p50 {p50:.2} ms, p99 {p99:.2} ms"),
        });
    }
    for concurrency in [1usize, 16, 64] {
        let n = if concurrency == 1 { 500 } else { 3000 };
        let (ops, p50, p99) = latency_run(n, concurrency, |i| async move {
            let (status, body) =
                t.send("GET", &format!("/bench/small/c64/{}", i % 3000), "", reqwest::Body::from(""), None).await;
            assert_eq!((status, body.len()), (200, 4096));
        })
        .await;
        rows.push(Row {
            name: format!("GET 4 KiB, c={concurrency}"),
            value: format!("{ops:.0} ops/s, p50 {p50:.2} ms, p99 {p99:.2} ms"),
        });
    }
}

async fn big_object(t: &Target, block: &Bytes, rows: &mut Vec<Row>) {
    let total = 64 * 1024 * 1024;
    let start = Instant::now();
    let (status, _) = t.send("PUT", "/bench/big64", "", repeated(block, total), Some(total as u64)).await;
    assert_eq!(status, 200);
    rows.push(Row { name: "PUT 64 MiB".into(), value: format!("{:.0} MiB/s", 64.0 / start.elapsed().as_secs_f64()) });
    let start = Instant::now();
    let url = format!("{}/bench/big64", t.endpoint);
    let mut req = t.http.get(url);
    for (n, v) in sign::headers(&t.creds, "GET", &t.host, "/bench/big64", "", &[]) {
        req = req.header(n, v);
    }
    let mut resp = req.send().await.expect("get");
    let mut n = 0usize;
    while let Some(chunk) = resp.chunk().await.expect("chunk") {
        n += chunk.len();
    }
    assert_eq!(n, total);
    rows.push(Row { name: "GET 64 MiB".into(), value: format!("{:.0} MiB/s", 64.0 / start.elapsed().as_secs_f64()) });
}

async fn list_walk(t: &Target, rows: &mut Vec<Row>) {
    // 10,000 keys (created at concurrency 64, not timed), then a full ListObjectsV2 walk.
    let (_, _, _) = latency_run(10_000, 64, |i| async move {
        let (status, _) = t.send("PUT", &format!("/bench/list/{i:05}"), "", reqwest::Body::from(""), Some(0)).await;
        assert_eq!(status, 200);
    })
    .await;
    let start = Instant::now();
    let mut token: Option<String> = None;
    let mut keys = 0;
    loop {
        let mut query = "list-type=2&prefix=list%2F".to_owned();
        if let Some(tok) = &token {
            query = format!("continuation-token={tok}&{query}");
        }
        let (status, body) = t.send("GET", "/bench", &query, reqwest::Body::from(""), None).await;
        assert_eq!(status, 200);
        keys += body.matches("<Key>").count();
        match tag(&body, "NextContinuationToken") {
            "" => break,
            tok => token = Some(tok.to_owned()),
        }
    }
    assert_eq!(keys, 10_000);
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    rows.push(Row { name: "LIST walk of 10,000 keys".into(), value: format!("{:.2} ms / 1,000 keys", ms / 10.0) });
}

/// (user + system) CPU seconds of a process, from /proc.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn peak_rss_mib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? / 1024)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = Args::parse();
    let mut child = None;
    let _dir;
    if args.spawn {
        let dir = std::env::temp_dir().join(format!("s3bench-{}", std::process::id()));
        let mut spawned = sign::spawn_store(&dir).await;
        args.endpoint = spawned.endpoint.clone();
        args.access_key = spawned.access_key.clone();
        args.secret_key = spawned.secret_key.clone();
        child = Some(spawned.child.take().expect("child"));
        _dir = sign::DirGuard(dir);
    }
    let host = args.endpoint.split("://").nth(1).unwrap_or(&args.endpoint).trim_end_matches('/').to_owned();
    let t = Target {
        http: reqwest::Client::builder().tcp_nodelay(true).build().expect("client"),
        endpoint: args.endpoint.trim_end_matches('/').to_owned(),
        host,
        creds: sign::Creds {
            access_key: args.access_key.clone(),
            secret_key: args.secret_key.clone(),
            region: args.region.clone(),
        },
    };
    let (status, body) = t.send("PUT", "/bench", "", reqwest::Body::from(""), Some(0)).await;
    assert!(status == 200 || body.contains("BucketAlreadyOwnedByYou"), "create bench bucket: {status} {body}");
    let block = Bytes::from((0..8 * 1024 * 1024).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>());

    let mib = args.large_mib;
    let wall = Instant::now();
    let mut rows = Vec::new();
    small_objects(&t, &mut rows).await;
    big_object(&t, &block, &mut rows).await;
    list_walk(&t, &mut rows).await;
    rows.push(single_put(&t, &block, mib).await);
    let (rate, complete) = multipart(&t, &block, "mp8", mib, mib / 8, 4).await;
    rows.push(Row {
        name: format!("multipart {mib} MiB, 8 MiB parts, 4 in flight"),
        value: format!("{rate:.0} MiB/s"),
    });
    rows.push(Row {
        name: format!("  CompleteMultipartUpload ({} parts)", mib / 8),
        value: format!("{:.1} ms", complete.as_secs_f64() * 1000.0),
    });
    // S3 parts but the last are at least 5 MiB: a smaller object gets fewer than 100 parts.
    let many = 100.min(mib / 5).max(1);
    let (_, complete100) = multipart(&t, &block, "mp100", mib, many, 4).await;
    rows.push(Row {
        name: format!("CompleteMultipartUpload, {mib} MiB in {many} parts"),
        value: format!("{:.1} ms", complete100.as_secs_f64() * 1000.0),
    });
    let secs = wall.elapsed().as_secs_f64();
    if let Some(c) = &child {
        if let (Some(id), Some(rss)) = (c.id(), c.id().and_then(peak_rss_mib)) {
            rows.push(Row { name: format!("server peak RSS (pid {id})"), value: format!("{rss} MiB") });
        }
        if let Some(cpu) = c.id().and_then(cpu_secs) {
            rows.push(Row {
                name: "server CPU over the run".into(),
                value: format!("{:.0}% of one core", 100.0 * cpu / secs),
            });
        }
    }
    if let Some(cpu) = cpu_secs(std::process::id()) {
        rows.push(Row {
            name: "s3bench (client) CPU over the run".into(),
            value: format!("{:.0}% of one core", 100.0 * cpu / secs),
        });
    }
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(10);
    let vwidth = rows.iter().map(|r| r.value.len()).max().unwrap_or(10);
    println!("| {:width$} | {:>vwidth$} |", "measurement", "result");
    println!("|{}|{}|", "-".repeat(width + 2), "-".repeat(vwidth + 2));
    for r in rows {
        println!("| {:width$} | {:>vwidth$} |", r.name, r.value);
    }
    if let Some(mut c) = child {
        let _ = c.kill().await;
    }
}
