//! The crash loop: rounds of mixed writes against the real binary — PUT of new keys, overwrite,
//! DELETE, CopyObject, multipart complete and multipart abort — each round ended by SIGKILL at a
//! random moment. After every restart a checker compares the store with the log of what was
//! acknowledged: zero lost, zero phantom objects, no aborted upload back, no temp file, no orphan
//! blob.
//!
//! The test command runs `BLEEPSTORE_CRASH_ROUNDS` rounds (default 200); the long run is the same
//! test with more rounds (tests/README.md, "Crash loop").

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::common::{client, data, md5_hex, ACCESS_KEY, SECRET_KEY};
use crate::process::{count_files, spawn};

const BUCKET: &str = "crashloop";
const WORKERS: u64 = 4;
/// Each worker owns its keys, so the order of its operations on them is known.
const KEYS_PER_WORKER: u64 = 6;
const PART: usize = 5 << 20;

/// What a key holds: nothing, or these bytes.
#[derive(Clone, PartialEq)]
enum State {
    Absent,
    Present(Arc<Vec<u8>>),
}

impl State {
    fn describe(&self) -> String {
        match self {
            State::Absent => "absent".to_owned(),
            State::Present(b) => format!("{} bytes, md5 {}", b.len(), md5_hex(b)),
        }
    }
}

/// A key's last acknowledged state, and the state a write in flight at the kill would give it.
struct KeyLog {
    acked: State,
    in_flight: Option<State>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Op {
    PutNew,
    Overwrite,
    Delete,
    Copy,
    Complete,
    Abort,
}

#[derive(Default)]
struct Log {
    keys: BTreeMap<String, KeyLog>,
    /// Upload ids whose abort was acknowledged: none may be listed again.
    aborted: BTreeSet<String>,
    acked_ops: BTreeMap<Op, usize>,
    /// In-flight writes found applied / not applied after the restart that followed.
    landed: usize,
    not_landed: usize,
}

impl Log {
    fn begin(&mut self, key: &str, next: State) {
        self.keys.entry(key.to_owned()).or_insert(KeyLog { acked: State::Absent, in_flight: None }).in_flight =
            Some(next);
    }

    fn ack(&mut self, key: &str, op: Op) {
        let k = self.keys.get_mut(key).unwrap();
        k.acked = k.in_flight.take().unwrap();
        *self.acked_ops.entry(op).or_default() += 1;
    }

    fn acked(&self, key: &str) -> State {
        self.keys.get(key).map_or(State::Absent, |k| k.acked.clone())
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_loop_loses_nothing_acknowledged() {
    let rounds: u64 = std::env::var("BLEEPSTORE_CRASH_ROUNDS").map_or(200, |v| v.parse().expect("a round count"));
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let mut rng = Rng(0x2545f4914f6cdd1d);
    for round in 0..=rounds {
        let mut proc = spawn(dir.path(), true);
        let c = client(&format!("http://{}", proc.addr), ACCESS_KEY, SECRET_KEY, true);
        let c = aws_sdk_s3::Client::from_conf(c.config().to_builder().retry_config(RetryConfig::disabled()).build());
        if round == 0 {
            c.create_bucket().bucket(BUCKET).send().await.unwrap();
        }
        check(&c, &log, dir.path(), round).await;
        if round == rounds {
            proc.child.kill().unwrap();
            proc.child.wait().unwrap();
            break;
        }
        let acks = Arc::new(AtomicUsize::new(0));
        let signal = Arc::new(tokio::sync::Notify::new());
        let kill_after = 1 + rng.below(12) as usize;
        let mut workers = Vec::new();
        for w in 0..WORKERS {
            let (c, log, acks, signal) = (c.clone(), log.clone(), acks.clone(), signal.clone());
            let mut rng = Rng(rng.next() | 1);
            workers.push(tokio::spawn(async move {
                while run_one(&c, &log, &mut rng, w).await {
                    acks.fetch_add(1, Ordering::SeqCst);
                    signal.notify_one();
                }
            }));
        }
        // Kill once enough operations were acknowledged, with the others at random stages.
        while acks.load(Ordering::SeqCst) < kill_after {
            signal.notified().await;
        }
        proc.child.kill().unwrap();
        proc.child.wait().unwrap();
        for w in workers {
            w.await.unwrap();
        }
    }
    let log = log.lock().unwrap();
    eprintln!(
        "crash loop: {rounds} SIGKILL rounds; acknowledged {:?}; in-flight writes at the kill: {} landed, {} did not",
        log.acked_ops, log.landed, log.not_landed
    );
    for op in [Op::PutNew, Op::Overwrite, Op::Delete, Op::Copy, Op::Complete, Op::Abort] {
        assert!(log.acked_ops.get(&op).copied().unwrap_or(0) > 0, "the rounds acknowledged no {op:?}");
    }
}

/// One random operation on one of worker `w`'s keys; false once the store stopped answering.
async fn run_one(c: &aws_sdk_s3::Client, log: &Mutex<Log>, rng: &mut Rng, w: u64) -> bool {
    let key = format!("w{w}-k{}", rng.below(KEYS_PER_WORKER));
    let current = log.lock().unwrap().acked(&key);
    let roll = rng.below(100);
    match roll {
        // PUT: a new key or an overwrite, inline-sized or blob-sized.
        0..=44 => {
            let len = match rng.below(4) {
                0 => rng.below(64) as usize,
                1 => 1 + rng.below(32 << 10) as usize,
                _ => (32 << 10) + 1 + rng.below(400 << 10) as usize,
            };
            let body = Arc::new(data(len, rng.next()));
            let op = if current == State::Absent { Op::PutNew } else { Op::Overwrite };
            log.lock().unwrap().begin(&key, State::Present(body.clone()));
            let sent = c.put_object().bucket(BUCKET).key(&key).body(body.to_vec().into()).send().await;
            sent.is_ok() && ack(log, &key, op)
        }
        45..=59 => {
            log.lock().unwrap().begin(&key, State::Absent);
            let sent = c.delete_object().bucket(BUCKET).key(&key).send().await;
            sent.is_ok() && ack(log, &key, Op::Delete)
        }
        60..=79 => {
            let State::Present(body) = current else {
                return true;
            };
            let dest = format!("w{w}-k{}", (rng.below(KEYS_PER_WORKER - 1) + 1 + key_index(&key)) % KEYS_PER_WORKER);
            log.lock().unwrap().begin(&dest, State::Present(body));
            let sent = c.copy_object().bucket(BUCKET).key(&dest).copy_source(format!("{BUCKET}/{key}")).send().await;
            sent.is_ok() && ack(log, &dest, Op::Copy)
        }
        _ => multipart(c, log, rng, &key, roll < 92).await,
    }
}

fn key_index(key: &str) -> u64 {
    key.rsplit('k').next().unwrap().parse().unwrap()
}

fn ack(log: &Mutex<Log>, key: &str, op: Op) -> bool {
    log.lock().unwrap().ack(key, op);
    true
}

/// A multipart upload of two parts, then CompleteMultipartUpload (`complete`) or
/// AbortMultipartUpload.
async fn multipart(c: &aws_sdk_s3::Client, log: &Mutex<Log>, rng: &mut Rng, key: &str, complete: bool) -> bool {
    let Ok(created) = c.create_multipart_upload().bucket(BUCKET).key(key).send().await else {
        return false;
    };
    let id = created.upload_id().unwrap().to_owned();
    let first_len = if complete { PART } else { 1 + rng.below(64 << 10) as usize };
    let bodies = [data(first_len, rng.next()), data(1 + rng.below(100 << 10) as usize, rng.next())];
    let mut parts = Vec::new();
    for (n, body) in (1..).zip(&bodies) {
        let Ok(out) = c
            .upload_part()
            .bucket(BUCKET)
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .body(body.clone().into())
            .send()
            .await
        else {
            return false;
        };
        parts.push(CompletedPart::builder().part_number(n).e_tag(out.e_tag().unwrap()).build());
    }
    if !complete {
        if c.abort_multipart_upload().bucket(BUCKET).key(key).upload_id(&id).send().await.is_err() {
            return false;
        }
        let mut l = log.lock().unwrap();
        l.aborted.insert(id);
        *l.acked_ops.entry(Op::Abort).or_default() += 1;
        return true;
    }
    log.lock().unwrap().begin(key, State::Present(Arc::new(bodies.concat())));
    let done = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
    let sent = c.complete_multipart_upload().bucket(BUCKET).key(key).upload_id(&id).multipart_upload(done).send().await;
    sent.is_ok() && ack(log, key, Op::Complete)
}

/// After a restart: every key holds its acknowledged state or the one its in-flight write would
/// give it (which then becomes the acknowledged state), nothing else is listed, no aborted upload
/// is back, and the blob files are exactly those the listed objects and uploads use.
async fn check(c: &aws_sdk_s3::Client, log: &Mutex<Log>, data_dir: &Path, round: u64) {
    let mut listed = BTreeSet::new();
    let mut token = None;
    loop {
        let page = c.list_objects_v2().bucket(BUCKET).set_continuation_token(token).send().await.unwrap();
        listed.extend(page.contents().iter().map(|o| o.key().unwrap().to_owned()));
        token = page.next_continuation_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    let inline_max = bleepstore::config::StorageConfig::default().inline_max_size;
    let mut expected_blobs = 0;
    let known: Vec<String> = log.lock().unwrap().keys.keys().cloned().collect();
    for key in &listed {
        assert!(known.contains(key), "round {round}: phantom object {key}");
    }
    let mut actual = BTreeMap::new();
    for key in &known {
        let state = if listed.contains(key) {
            let got = c.get_object().bucket(BUCKET).key(key).send().await.unwrap();
            let head = c.head_object().bucket(BUCKET).key(key).part_number(1).send().await.unwrap();
            let bytes = got.body.collect().await.unwrap().into_bytes().to_vec();
            expected_blobs += match head.parts_count() {
                Some(n) => n as usize,
                None => usize::from(bytes.len() as u64 > inline_max),
            };
            State::Present(Arc::new(bytes))
        } else {
            State::Absent
        };
        actual.insert(key.clone(), state);
    }
    {
        let mut l = log.lock().unwrap();
        let l = &mut *l;
        for (key, k) in l.keys.iter_mut() {
            let actual = actual.remove(key).unwrap();
            if actual == k.acked {
                if k.in_flight.take().is_some_and(|s| s != actual) {
                    l.not_landed += 1;
                }
            } else if k.in_flight.as_ref() == Some(&actual) {
                l.landed += 1;
                k.in_flight = None;
                k.acked = actual;
            } else {
                panic!(
                    "round {round}: {key} is {}; acknowledged {}, in flight {}",
                    actual.describe(),
                    k.acked.describe(),
                    k.in_flight.as_ref().map_or("nothing".to_owned(), State::describe)
                );
            }
        }
    }
    // Uploads neither completed nor aborted before a kill stay listed, with their parts.
    let uploads = c.list_multipart_uploads().bucket(BUCKET).send().await.unwrap();
    let aborted = log.lock().unwrap().aborted.clone();
    for u in uploads.uploads() {
        let id = u.upload_id().unwrap();
        assert!(!aborted.contains(id), "round {round}: the aborted upload {id} is listed again");
        let parts = c.list_parts().bucket(BUCKET).key(u.key().unwrap()).upload_id(id).send().await.unwrap();
        expected_blobs += parts.parts().len();
    }
    assert_eq!(count_files(&data_dir.join("tmp")), 0, "round {round}: temp files remain after recovery");
    assert_eq!(
        count_files(&data_dir.join("blobs")),
        expected_blobs,
        "round {round}: orphan or missing blobs after recovery"
    );
    // Abandoned uploads are aborted so they do not pile up over the rounds.
    for u in uploads.uploads() {
        let (key, id) = (u.key().unwrap(), u.upload_id().unwrap());
        c.abort_multipart_upload().bucket(BUCKET).key(key).upload_id(id).send().await.unwrap();
        log.lock().unwrap().aborted.insert(id.to_owned());
    }
}
