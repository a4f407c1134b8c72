//! `s3bench`: measures an S3 endpoint (or a `bleepstore` it spawns) and prints a table.
//! Bodies are prepared before the clock starts; requests are signed with SigV4 header auth and
//! `UNSIGNED-PAYLOAD`, so the client does no hashing.

mod sign;
mod soak;

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
    #[arg(long, default_value_t = 256)]
    large_mib: usize,
    /// The server's pid, to report its peak RSS and CPU (set by itself with --spawn).
    #[arg(long)]
    pid: Option<u32>,
    /// Which groups of rows to run (comma-separated). `small-get` reads what `small-put` wrote,
    /// so run it alone only against a store that a `small-put` run already filled. `flood` (GETs
    /// with and without a bad-signature flood beside them) and `soak` (the mixed workload for
    /// `--soak-secs`, RSS and open fds sampled) run only when named.
    #[arg(long, value_delimiter = ',', default_value = "small-put,small-get,large,list,multipart")]
    only: Vec<Group>,
    /// Length of the `soak` group, in seconds.
    #[arg(long, default_value_t = 600)]
    soak_secs: u64,
    /// Concurrency of the `soak` group.
    #[arg(long, default_value_t = 64)]
    soak_concurrency: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Group {
    SmallPut,
    SmallGet,
    Large,
    List,
    Multipart,
    Flood,
    Soak,
}

struct Target {
    http: reqwest::Client,
    endpoint: String,
    host: String,
    creds: sign::Creds,
    server: Option<u32>,
}

/// CPU seconds of the server and of this client at one instant, with the wall clock.
#[derive(Clone, Copy)]
struct Mark {
    at: Instant,
    server: Option<f64>,
    client: Option<f64>,
}

impl Target {
    fn mark(&self) -> Mark {
        Mark { at: Instant::now(), server: self.server.and_then(cpu_secs), client: cpu_secs(std::process::id()) }
    }

    /// A result row, with the CPU both sides used since `from` (in % of one core).
    fn row(&self, from: Mark, name: impl Into<String>, value: String) -> Row {
        let now = self.mark();
        let secs = now.at.duration_since(from.at).as_secs_f64().max(1e-9);
        let pct = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => format!("{:.0}%", 100.0 * (b - a) / secs),
            _ => "-".into(),
        };
        Row {
            name: name.into(),
            value,
            server_cpu: pct(from.server, now.server),
            client_cpu: pct(from.client, now.client),
        }
    }
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
        self.send_as(&self.creds, method, path, query, body, len).await
    }

    /// `send`, signed with `creds`.
    async fn send_as(
        &self,
        creds: &sign::Creds,
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
        for (n, v) in sign::headers(creds, method, &self.host, path, query, &extra) {
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
    server_cpu: String,
    client_cpu: String,
}

async fn single_put(t: &Target, block: &Bytes, mib: usize) -> Row {
    let total = mib * 1024 * 1024;
    let mark = t.mark();
    let (status, _) = t.send("PUT", "/bench/single", "", repeated(block, total), Some(total as u64)).await;
    assert_eq!(status, 200);
    let secs = mark.at.elapsed().as_secs_f64();
    t.row(mark, format!("PUT {mib} MiB (one request)"), format!("{:.0} MiB/s", mib as f64 / secs))
}

/// Uploads `mib` MiB in `parts` parts with `concurrency` in flight; returns when it started,
/// the throughput and the CompleteMultipartUpload latency.
async fn multipart(
    t: &Target,
    block: &Bytes,
    key: &str,
    mib: usize,
    parts: usize,
    concurrency: usize,
) -> (Mark, f64, Duration) {
    let total = mib * 1024 * 1024;
    let part_size = total / parts;
    let (status, body) = t.send("POST", &format!("/bench/{key}"), "uploads=", reqwest::Body::from(""), Some(0)).await;
    assert_eq!(status, 200, "{body}");
    let id = tag(&body, "UploadId").to_owned();
    let part_block = Bytes::from(block.slice(..part_size.min(block.len())).to_vec());
    let mark = t.mark();
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
    let uploaded = mark.at.elapsed();
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
    (mark, mib as f64 / secs, complete)
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

async fn small_puts(t: &Target, rows: &mut Vec<Row>) {
    let body = Bytes::from(vec![42u8; 4096]);
    for concurrency in [1usize, 16, 64] {
        let n = if concurrency == 1 { 500 } else { 3000 };
        let mark = t.mark();
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
        rows.push(t.row(
            mark,
            format!("PUT 4 KiB, c={concurrency}"),
            format!("{ops:.0} ops/s, p50 {p50:.2} ms, p99 {p99:.2} ms"),
        ));
    }
}

async fn small_gets(t: &Target, rows: &mut Vec<Row>) {
    for concurrency in [1usize, 16, 64] {
        let n = if concurrency == 1 { 500 } else { 3000 };
        let mark = t.mark();
        let (ops, p50, p99) = latency_run(n, concurrency, |i| async move {
            let (status, body) =
                t.send("GET", &format!("/bench/small/c64/{}", i % 3000), "", reqwest::Body::from(""), None).await;
            assert_eq!((status, body.len()), (200, 4096));
        })
        .await;
        rows.push(t.row(
            mark,
            format!("GET 4 KiB, c={concurrency}"),
            format!("{ops:.0} ops/s, p50 {p50:.2} ms, p99 {p99:.2} ms"),
        ));
    }
}

async fn big_object(t: &Target, block: &Bytes, rows: &mut Vec<Row>) {
    let total = 64 * 1024 * 1024;
    let mark = t.mark();
    let (status, _) = t.send("PUT", "/bench/big64", "", repeated(block, total), Some(total as u64)).await;
    assert_eq!(status, 200);
    rows.push(t.row(mark, "PUT 64 MiB", format!("{:.0} MiB/s", 64.0 / mark.at.elapsed().as_secs_f64())));
    let mark = t.mark();
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
    rows.push(t.row(mark, "GET 64 MiB", format!("{:.0} MiB/s", 64.0 / mark.at.elapsed().as_secs_f64())));
}

async fn list_walk(t: &Target, rows: &mut Vec<Row>) {
    // 10,000 keys (created at concurrency 64, not timed), then a full ListObjectsV2 walk.
    let (_, _, _) = latency_run(10_000, 64, |i| async move {
        let (status, _) = t.send("PUT", &format!("/bench/list/{i:05}"), "", reqwest::Body::from(""), Some(0)).await;
        assert_eq!(status, 200);
    })
    .await;
    let mark = t.mark();
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
    let ms = mark.at.elapsed().as_secs_f64() * 1000.0;
    rows.push(t.row(mark, "LIST walk of 10,000 keys", format!("{:.2} ms / 1,000 keys", ms / 10.0)));
}

/// (user + system) CPU seconds of a process, from /proc.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

pub(crate) fn peak_rss_mib(pid: u32) -> Option<u64> {
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
    let server = args.pid.or(child.as_ref().and_then(|c: &tokio::process::Child| c.id()));
    let host = args.endpoint.split("://").nth(1).unwrap_or(&args.endpoint).trim_end_matches('/').to_owned();
    let t = Target {
        http: reqwest::Client::builder().tcp_nodelay(true).build().expect("client"),
        endpoint: args.endpoint.trim_end_matches('/').to_owned(),
        host,
        creds: sign::Creds::new(&args.access_key, &args.secret_key, &args.region),
        server,
    };
    let (status, body) = t.send("PUT", "/bench", "", reqwest::Body::from(""), Some(0)).await;
    assert!(status == 200 || body.contains("BucketAlreadyOwnedByYou"), "create bench bucket: {status} {body}");
    let block = Bytes::from((0..8 * 1024 * 1024).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>());

    let mib = args.large_mib;
    let run = |g: Group| args.only.contains(&g);
    let whole = t.mark();
    let mut rows = Vec::new();
    if run(Group::SmallPut) {
        small_puts(&t, &mut rows).await;
    }
    if run(Group::SmallGet) {
        small_gets(&t, &mut rows).await;
    }
    if run(Group::Large) {
        big_object(&t, &block, &mut rows).await;
        rows.push(single_put(&t, &block, mib).await);
    }
    if run(Group::List) {
        list_walk(&t, &mut rows).await;
    }
    if run(Group::Multipart) {
        let (mark, rate, complete) = multipart(&t, &block, "mp8", mib, mib / 8, 4).await;
        rows.push(t.row(mark, format!("multipart {mib} MiB, 8 MiB parts, 4 in flight"), format!("{rate:.0} MiB/s")));
        rows.push(Row {
            name: format!("  CompleteMultipartUpload ({} parts)", mib / 8),
            value: format!("{:.1} ms", complete.as_secs_f64() * 1000.0),
            server_cpu: String::new(),
            client_cpu: String::new(),
        });
        // S3 parts but the last are at least 5 MiB: a smaller object gets fewer than 100 parts.
        let many = 100.min(mib / 5).max(1);
        let (_, _, complete100) = multipart(&t, &block, "mp100", mib, many, 4).await;
        rows.push(Row {
            name: format!("CompleteMultipartUpload, {mib} MiB in {many} parts"),
            value: format!("{:.1} ms", complete100.as_secs_f64() * 1000.0),
            server_cpu: String::new(),
            client_cpu: String::new(),
        });
    }
    if run(Group::Flood) {
        soak::flood(&t, &args, &mut rows).await;
    }
    if run(Group::Soak) {
        soak::soak(&t, args.soak_secs, args.soak_concurrency, &mut rows).await;
    }
    let mut total = t.row(whole, "whole run", String::new());
    if let Some(rss) = server.and_then(peak_rss_mib) {
        total.value = format!("server peak RSS {rss} MiB");
    }
    rows.push(total);
    print_table(&rows);
    if let Some(mut c) = child {
        let _ = c.kill().await;
    }
}

fn print_table(rows: &[Row]) {
    let head = ["measurement", "result", "server CPU", "client CPU"];
    let w = [
        rows.iter().map(|r| r.name.len()).chain([head[0].len()]).max().unwrap_or(0),
        rows.iter().map(|r| r.value.len()).chain([head[1].len()]).max().unwrap_or(0),
        head[2].len(),
        head[3].len(),
    ];
    println!(
        "| {:w0$} | {:>w1$} | {:>w2$} | {:>w3$} |",
        head[0],
        head[1],
        head[2],
        head[3],
        w0 = w[0],
        w1 = w[1],
        w2 = w[2],
        w3 = w[3]
    );
    println!(
        "|{}|{}:|{}:|{}:|",
        "-".repeat(w[0] + 2),
        "-".repeat(w[1] + 1),
        "-".repeat(w[2] + 1),
        "-".repeat(w[3] + 1)
    );
    for r in rows {
        println!(
            "| {:w0$} | {:>w1$} | {:>w2$} | {:>w3$} |",
            r.name,
            r.value,
            r.server_cpu,
            r.client_cpu,
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        );
    }
    println!("\nCPU columns: % of one core used during that row (this machine: {} cores).", cores());
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
