//! The crash loop: rounds of mixed writes against the real binary — PUT of new keys, overwrite,
//! DELETE, CopyObject, multipart complete and multipart abort in an unversioned bucket; new
//! versions, delete markers and deletes of versions by id in a versioned one — each round ended
//! by SIGKILL at a random moment. After every restart a checker compares the store with the log
//! of what was acknowledged: zero lost, zero phantom objects or versions, every key's versions
//! in order with the last acknowledged write current, no aborted upload back, no temp file, no
//! orphan blob.
//!
//! The test command runs `BLEEPSTORE_CRASH_ROUNDS` rounds (default 200); the long run is the same
//! test with more rounds (tests/README.md, "Crash loop").

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::common::{client, data, md5_hex, ACCESS_KEY, SECRET_KEY};
use crate::process::{count_files, spawn};

const BUCKET: &str = "crashloop";
const VERSIONED: &str = "crashversions";
const WORKERS: u64 = 4;
/// Workers on the versioned bucket, beside the `WORKERS` on the other.
const VERSION_WORKERS: u64 = 2;
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
    NewVersion,
    DeleteMarker,
    DeleteVersion,
}

/// One version of a key in the versioned bucket: its id and bytes, or a delete marker.
#[derive(Clone, PartialEq)]
struct Version {
    id: String,
    bytes: Option<Arc<Vec<u8>>>,
}

/// A write in flight on a versioned key when the kill came.
#[derive(Clone)]
enum Pending {
    /// A new version with these bytes, or a delete marker (`None`).
    Add(Option<Arc<Vec<u8>>>),
    /// The delete of this version id.
    Remove(String),
}

/// A versioned key: its acknowledged versions, oldest first, and a write in flight.
#[derive(Default)]
struct VersionLog {
    versions: Vec<Version>,
    in_flight: Option<Pending>,
}

#[derive(Default)]
struct Log {
    keys: BTreeMap<String, KeyLog>,
    /// Upload ids whose abort was acknowledged: none may be listed again.
    aborted: BTreeSet<String>,
    versioned: BTreeMap<String, VersionLog>,
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
            c.create_bucket().bucket(VERSIONED).send().await.unwrap();
            let enabled = aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build();
            c.put_bucket_versioning().bucket(VERSIONED).versioning_configuration(enabled).send().await.unwrap();
        }
        let blobs = check(&c, &log, round).await + check_versions(&c, &log, round).await;
        assert_eq!(count_files(&dir.path().join("tmp")), 0, "round {round}: temp files remain after recovery");
        assert_eq!(
            count_files(&dir.path().join("blobs")),
            blobs,
            "round {round}: orphan or missing blobs after recovery"
        );
        abort_abandoned(&c, &log).await;
        if round == rounds {
            proc.child.kill().unwrap();
            proc.child.wait().unwrap();
            break;
        }
        let acks = Arc::new(AtomicUsize::new(0));
        let signal = Arc::new(tokio::sync::Notify::new());
        // Most rounds are killed early, at a random stage; every eighth runs long enough for the
        // slow operations (multipart completion) to be acknowledged too.
        let kill_after = if round % 8 == 7 { 60 } else { 1 + rng.below(3 * (WORKERS + VERSION_WORKERS)) as usize };
        let mut workers = Vec::new();
        for w in 0..WORKERS + VERSION_WORKERS {
            let (c, log, acks, signal) = (c.clone(), log.clone(), acks.clone(), signal.clone());
            let mut rng = Rng(rng.next() | 1);
            workers.push(tokio::spawn(async move {
                loop {
                    let alive = if w < WORKERS {
                        run_one(&c, &log, &mut rng, w).await
                    } else {
                        run_versioned(&c, &log, &mut rng, w).await
                    };
                    if !alive {
                        break;
                    }
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
    let ops = [
        Op::PutNew,
        Op::Overwrite,
        Op::Delete,
        Op::Copy,
        Op::Complete,
        Op::Abort,
        Op::NewVersion,
        Op::DeleteMarker,
        Op::DeleteVersion,
    ];
    for op in ops {
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
/// give it (which then becomes the acknowledged state), nothing else is listed, and no aborted
/// upload is back. Returns how many blob files the listed objects and uploads use.
async fn check(c: &aws_sdk_s3::Client, log: &Mutex<Log>, round: u64) -> usize {
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
    expected_blobs
}

/// Abandoned uploads are aborted so they do not pile up over the rounds.
async fn abort_abandoned(c: &aws_sdk_s3::Client, log: &Mutex<Log>) {
    let uploads = c.list_multipart_uploads().bucket(BUCKET).send().await.unwrap();
    for u in uploads.uploads() {
        let (key, id) = (u.key().unwrap(), u.upload_id().unwrap());
        c.abort_multipart_upload().bucket(BUCKET).key(key).upload_id(id).send().await.unwrap();
        log.lock().unwrap().aborted.insert(id.to_owned());
    }
}

/// One random operation on one of worker `w`'s keys in the versioned bucket: a new version
/// (inline-sized or a blob), a delete marker, or the delete of a known version by id.
async fn run_versioned(c: &aws_sdk_s3::Client, log: &Mutex<Log>, rng: &mut Rng, w: u64) -> bool {
    let key = format!("v{w}-k{}", rng.below(KEYS_PER_WORKER));
    let known: Vec<String> = log
        .lock()
        .unwrap()
        .versioned
        .get(&key)
        .map(|k| k.versions.iter().map(|v| v.id.clone()).collect())
        .unwrap_or_default();
    let begin =
        |pending: Pending| log.lock().unwrap().versioned.entry(key.clone()).or_default().in_flight = Some(pending);
    match rng.below(100) {
        0..=59 => {
            let len = if rng.below(2) == 0 {
                rng.below(32 << 10) as usize
            } else {
                (32 << 10) + 1 + rng.below(200 << 10) as usize
            };
            let body = Arc::new(data(len, rng.next()));
            begin(Pending::Add(Some(body.clone())));
            let Ok(out) = c.put_object().bucket(VERSIONED).key(&key).body(body.to_vec().into()).send().await else {
                return false;
            };
            ack_version(log, &key, Op::NewVersion, Some(Version { id: out.version_id.unwrap(), bytes: Some(body) }))
        }
        60..=79 => {
            begin(Pending::Add(None));
            let Ok(out) = c.delete_object().bucket(VERSIONED).key(&key).send().await else { return false };
            ack_version(log, &key, Op::DeleteMarker, Some(Version { id: out.version_id.unwrap(), bytes: None }))
        }
        _ => {
            let Some(id) = known.get(rng.below(known.len().max(1) as u64) as usize).cloned() else { return true };
            begin(Pending::Remove(id.clone()));
            let sent = c.delete_object().bucket(VERSIONED).key(&key).version_id(&id).send().await;
            sent.is_ok() && ack_version(log, &key, Op::DeleteVersion, None)
        }
    }
}

/// Records an acknowledged versioned write: the version it added, or the removal in flight.
fn ack_version(log: &Mutex<Log>, key: &str, op: Op, added: Option<Version>) -> bool {
    let mut l = log.lock().unwrap();
    let k = l.versioned.get_mut(key).unwrap();
    match (k.in_flight.take(), added) {
        (Some(Pending::Add(_)), Some(v)) => k.versions.push(v),
        (Some(Pending::Remove(id)), None) => k.versions.retain(|v| v.id != id),
        _ => unreachable!("an acknowledgement matches the write begun"),
    }
    *l.acked_ops.entry(op).or_default() += 1;
    true
}

/// Every version and delete marker of the versioned bucket, page by page, in listing order.
async fn all_versions(
    c: &aws_sdk_s3::Client,
) -> (Vec<aws_sdk_s3::types::ObjectVersion>, Vec<aws_sdk_s3::types::DeleteMarkerEntry>) {
    let (mut versions, mut markers) = (Vec::new(), Vec::new());
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = c
            .list_object_versions()
            .bucket(VERSIONED)
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .send()
            .await
            .unwrap();
        versions.extend(page.versions().iter().cloned());
        markers.extend(page.delete_markers().iter().cloned());
        if page.is_truncated() != Some(true) {
            return (versions, markers);
        }
        (key_marker, version_marker) = (page.next_key_marker, page.next_version_id_marker);
    }
}

/// After a restart: every versioned key lists exactly its acknowledged versions, newest first,
/// each with its bytes, the newest current — give or take the one write in flight at the kill,
/// which, when it landed, becomes acknowledged. Returns how many blob files its versions use.
async fn check_versions(c: &aws_sdk_s3::Client, log: &Mutex<Log>, round: u64) -> usize {
    let inline_max = bleepstore::config::StorageConfig::default().inline_max_size;
    let listed = all_versions(c).await;
    let keys: BTreeSet<&str> =
        listed.0.iter().filter_map(|v| v.key()).chain(listed.1.iter().filter_map(|m| m.key())).collect();
    let snapshot = {
        let mut guard = log.lock().unwrap();
        let l = &mut *guard;
        for key in &keys {
            assert!(l.versioned.contains_key(*key), "round {round}: phantom versioned key {key}");
        }
        for (key, k) in l.versioned.iter_mut() {
            // What is listed for the key: versions and markers each newest first, and the latest.
            let versions: Vec<&str> =
                listed.0.iter().filter(|v| v.key() == Some(key)).filter_map(|v| v.version_id()).collect();
            let markers: Vec<&str> =
                listed.1.iter().filter(|m| m.key() == Some(key)).filter_map(|m| m.version_id()).collect();
            let latest: Vec<&str> = listed
                .0
                .iter()
                .filter(|v| v.key() == Some(key) && v.is_latest() == Some(true))
                .filter_map(|v| v.version_id())
                .chain(
                    listed
                        .1
                        .iter()
                        .filter(|m| m.key() == Some(key) && m.is_latest() == Some(true))
                        .filter_map(|m| m.version_id()),
                )
                .collect();
            let matches = |expected: &[Version]| {
                let newest_first = || expected.iter().rev();
                versions == newest_first().filter(|v| v.bytes.is_some()).map(|v| v.id.as_str()).collect::<Vec<_>>()
                    && markers
                        == newest_first().filter(|v| v.bytes.is_none()).map(|v| v.id.as_str()).collect::<Vec<_>>()
                    && latest == expected.last().map(|v| v.id.as_str()).into_iter().collect::<Vec<_>>()
            };
            let pending = k.in_flight.take();
            if matches(&k.versions) {
                l.not_landed += usize::from(pending.is_some());
                continue;
            }
            let landed = match &pending {
                Some(Pending::Remove(id)) => k.versions.iter().filter(|v| &v.id != id).cloned().collect::<Vec<_>>(),
                Some(Pending::Add(bytes)) => {
                    let mut with = k.versions.clone();
                    let id = latest.first().map_or(String::new(), |id| (*id).to_owned());
                    with.push(Version { id, bytes: bytes.clone() });
                    with
                }
                None => Vec::new(),
            };
            let acked: Vec<&str> = k.versions.iter().map(|v| v.id.as_str()).collect();
            assert!(
                pending.is_some() && matches(&landed),
                "round {round}: {key} lists versions {versions:?}, markers {markers:?}, latest {latest:?}; \
             acknowledged {acked:?} (oldest first)"
            );
            k.versions = landed;
            l.landed += 1;
        }
        l.versioned
            .iter()
            .flat_map(|(key, k)| k.versions.iter().map(move |v| (key.clone(), v.clone())))
            .collect::<Vec<_>>()
    };
    let mut blobs = 0;
    for (key, v) in snapshot {
        if let Some(bytes) = &v.bytes {
            let got = c.get_object().bucket(VERSIONED).key(&key).version_id(&v.id).send().await.unwrap();
            let got = got.body.collect().await.unwrap().into_bytes().to_vec();
            assert!(got == **bytes, "round {round}: {key} {}: {} bytes, expected {}", v.id, got.len(), bytes.len());
            blobs += usize::from(bytes.len() as u64 > inline_max);
        }
    }
    blobs
}
