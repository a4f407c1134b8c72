//! The `flood` and `soak` groups: valid GETs beside a flood of bad signatures, and the mixed
//! workload run for minutes with the server's RSS and open file descriptors sampled.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};

use crate::{latency_run, sign, Args, Row, Target};

/// GET 4 KiB at c=16 alone, then with 16 connections sending requests whose signature is wrong
/// (the right access key, the wrong secret: each costs the server a full SigV4 check).
pub(crate) async fn flood(t: &Target, args: &Args, rows: &mut Vec<Row>) {
    let body = Bytes::from(vec![42u8; 4096]);
    let _ = latency_run(1000, 16, |i| {
        let body = body.clone();
        async move {
            let (status, _) =
                t.send("PUT", &format!("/bench/flood/{i}"), "", reqwest::Body::from(body), Some(4096)).await;
            assert_eq!(status, 200);
        }
    })
    .await;
    let get = |i: usize| async move {
        let (status, body) =
            t.send("GET", &format!("/bench/flood/{}", i % 1000), "", reqwest::Body::from(""), None).await;
        assert_eq!((status, body.len()), (200, 4096));
    };
    let mark = t.mark();
    let (ops, p50, p99) = latency_run(6000, 16, get).await;
    rows.push(t.row(mark, "GET 4 KiB, c=16, alone", format!("{ops:.0} ops/s, p50 {p50:.2} ms, p99 {p99:.2} ms")));

    let bad = sign::Creds::new(&args.access_key, "not-the-secret-key-of-this-access-key", &args.region);
    let done = std::cell::Cell::new(false);
    let refused = std::cell::Cell::new(0usize);
    let mark = t.mark();
    let flood = stream::iter(0..)
        .take_while(|_| std::future::ready(!done.get()))
        .map(|i| {
            let bad = &bad;
            async move {
                t.send_as(bad, "GET", &format!("/bench/flood/{}", i % 1000), "", reqwest::Body::from(""), None).await
            }
        })
        .buffer_unordered(16)
        .for_each(|(status, body)| {
            assert!(status == 403 && body.contains("SignatureDoesNotMatch"), "{status} {body}");
            refused.set(refused.get() + 1);
            std::future::ready(())
        });
    let measured = async {
        let r = latency_run(6000, 16, get).await;
        done.set(true);
        r
    };
    let started = Instant::now();
    let ((ops, p50, p99), ()) = futures_util::join!(measured, flood);
    let flood_rate = refused.get() as f64 / started.elapsed().as_secs_f64();
    rows.push(t.row(
        mark,
        "GET 4 KiB, c=16, beside a bad-signature flood (c=16)",
        format!("{ops:.0} ops/s, p50 {p50:.2} ms, p99 {p99:.2} ms; flood refused {flood_rate:.0}/s"),
    ));
}

#[derive(Default)]
struct Window {
    ops: usize,
    misses: usize,
    errors: BTreeMap<String, usize>,
}

/// One operation of the mixed workload, chosen by `i`: PUT 4 KiB (35%), GET (40%), DELETE (12%),
/// LIST of 100 keys (5%), PUT 1 MiB (5%), overwrite-by-copy (3%), over 10,000 keys.
async fn mixed_op(t: &Target, i: u64, small: &Bytes, large: &Bytes, w: &RefCell<Window>) {
    let mut x = i.wrapping_mul(0x9e3779b97f4a7c15) ^ 0x2545f4914f6cdd1d;
    x ^= x >> 31;
    x = x.wrapping_mul(0xbf58476d1ce4e5b9);
    x ^= x >> 29;
    let index = (x >> 8) % 10_000;
    let key = format!("/bench/soak/{index:05}");
    let roll = x % 100;
    let (what, (status, body)) = match roll {
        0..=34 => ("PUT 4 KiB", t.send("PUT", &key, "", reqwest::Body::from(small.clone()), Some(4096)).await),
        35..=74 => ("GET", t.send("GET", &key, "", reqwest::Body::from(""), None).await),
        75..=86 => ("DELETE", t.send("DELETE", &key, "", reqwest::Body::from(""), None).await),
        87..=91 => {
            let query = format!("list-type=2&max-keys=100&prefix=soak%2F{}", (x >> 20) % 10);
            ("LIST", t.send("GET", "/bench", &query, reqwest::Body::from(""), None).await)
        }
        92..=96 => {
            ("PUT 1 MiB", t.send("PUT", &key, "", reqwest::Body::from(large.clone()), Some(large.len() as u64)).await)
        }
        // Another key: a copy onto itself without new metadata is refused (400), as in S3.
        _ => ("COPY", copy(t, &key, (index + 1 + (x >> 24) % 9_999) % 10_000).await),
    };
    let mut w = w.borrow_mut();
    w.ops += 1;
    let missing = status == 404 && (body.contains("NoSuchKey") || what == "COPY");
    match status {
        200 | 204 => {}
        _ if missing && matches!(what, "GET" | "COPY") => w.misses += 1,
        _ => *w.errors.entry(format!("{what} {status}")).or_default() += 1,
    }
}

async fn copy(t: &Target, dest: &str, source: u64) -> (u16, String) {
    let url = format!("{}{dest}", t.endpoint);
    let source = format!("/bench/soak/{source:05}");
    let mut req = t.http.put(url).body(reqwest::Body::from(""));
    let extra = [("x-amz-copy-source".to_owned(), source), ("content-length".to_owned(), "0".to_owned())];
    for (n, v) in sign::headers(&t.creds, "PUT", &t.host, dest, "", &extra) {
        req = req.header(n, v);
    }
    let resp = req.send().await.expect("copy");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<f64>().ok()? / 1024.0)
}

fn open_fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// Least-squares slope of `ys` sampled at `xs`.
fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let cov: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    if var == 0.0 {
        0.0
    } else {
        cov / var
    }
}

/// The mixed workload at `concurrency` for `secs`, in 30 s windows; after each window the
/// server's RSS and open fds are sampled. Rows: one per window, then the trend.
pub(crate) async fn soak(t: &Target, secs: u64, concurrency: usize, rows: &mut Vec<Row>) {
    let small = Bytes::from(vec![42u8; 4096]);
    let large = Bytes::from(vec![7u8; 1 << 20]);
    let start = Instant::now();
    let window_len = Duration::from_secs(30.min(secs.max(1)));
    let mut next_op = 0u64;
    let (mut times, mut rss, mut fds) = (Vec::new(), Vec::new(), Vec::new());
    let (mut total_ops, mut total_misses) = (0usize, 0usize);
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    while start.elapsed() < Duration::from_secs(secs) {
        let mark = t.mark();
        let end = Instant::now() + window_len;
        let w = RefCell::new(Window::default());
        let first = next_op;
        stream::iter(first..)
            .take_while(|_| std::future::ready(Instant::now() < end))
            .map(|i| mixed_op(t, i, &small, &large, &w))
            .buffer_unordered(concurrency)
            .for_each(|()| std::future::ready(()))
            .await;
        let w = w.into_inner();
        next_op += w.ops as u64;
        total_ops += w.ops;
        total_misses += w.misses;
        for (k, v) in &w.errors {
            *errors.entry(k.clone()).or_default() += v;
        }
        let secs_in = mark.at.elapsed().as_secs_f64();
        let at = start.elapsed().as_secs_f64();
        let sample_rss = t.server.and_then(rss_mib);
        let sample_fds = t.server.and_then(open_fds);
        if let (Some(r), Some(f)) = (sample_rss, sample_fds) {
            times.push(at / 60.0);
            rss.push(r);
            fds.push(f as f64);
        }
        let errs: usize = w.errors.values().sum();
        rows.push(t.row(
            mark,
            format!("soak c={concurrency}, {:>4.0} s", at),
            format!(
                "{:.0} ops/s, errors {errs}, RSS {}, fds {}",
                w.ops as f64 / secs_in,
                sample_rss.map_or("-".into(), |r| format!("{r:.0} MiB")),
                sample_fds.map_or("-".into(), |f| f.to_string()),
            ),
        ));
    }
    let summary = if rss.is_empty() {
        "no server pid: RSS and fds not sampled".to_owned()
    } else {
        let (rmin, rmax) = rss.iter().fold((f64::MAX, 0f64), |(a, b), &r| (a.min(r), b.max(r)));
        let (fmin, fmax) = fds.iter().fold((f64::MAX, 0f64), |(a, b), &f| (a.min(f), b.max(f)));
        // The trend over the second half: the first minutes include warm-up (caches filling).
        let half = times.len() / 2;
        format!(
            "RSS {rmin:.0}..{rmax:.0} MiB, second-half trend {:+.2} MiB/min; fds {fmin:.0}..{fmax:.0}, second-half \
                trend {:+.2}/min",
            slope(&times[half..], &rss[half..]),
            slope(&times[half..], &fds[half..]),
        )
    };
    rows.push(Row {
        name: format!("soak total: {total_ops} ops, {total_misses} misses (GET/COPY of deleted keys)"),
        value: format!("errors {errors:?}"),
        server_cpu: String::new(),
        client_cpu: String::new(),
    });
    rows.push(Row { name: "soak trend".into(), value: summary, server_cpu: String::new(), client_cpu: String::new() });
}
