//! One pod's worker: from the moment the pod is bound to this node until its deletion, it keeps
//! the pod's sandbox, volumes and containers as the spec asks (restart policy with back-off,
//! startup, liveness and readiness probes, preStop sleep, SIGTERM then SIGKILL after the grace
//! period) and reports what is true in the pod's status.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod};
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::Api;
use serde_json::{json, Value};
use tokio::process::Child;
use tokio::time::Instant;

use super::probe::{Schedule, Verdict};
use super::runtime::{self, Launch, Sandbox};
use super::{env, volumes, Shared};
use crate::images;
use crate::sandbox::NODE_IP;

/// How often the worker looks at its pod.
const TICK: Duration = Duration::from_millis(200);
/// Restart back-off: 10 s doubling to 5 min, reset after 10 min of running (the kubelet's).
const BACKOFF_START: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
const BACKOFF_RESET: Duration = Duration::from_secs(600);

fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// How a container run ended.
#[derive(Clone)]
struct Ended {
    exit_code: i32,
    signal: Option<i32>,
    started_at: String,
    finished_at: String,
}

impl Ended {
    fn json(&self) -> Value {
        let reason = if self.exit_code == 0 { "Completed" } else { "Error" };
        let mut v = json!({"exitCode": self.exit_code, "reason": reason, "startedAt": self.started_at,
            "finishedAt": self.finished_at});
        if let Some(signal) = self.signal {
            v["signal"] = json!(signal);
        }
        v
    }
}

struct Run {
    child: Child,
    started: Instant,
    started_at: String,
    startup: Option<Schedule>,
    liveness: Option<Schedule>,
    readiness: Option<Schedule>,
    /// Passed its startup probe (or has none).
    started_ok: bool,
    ready: bool,
    /// SIGTERM sent by a failed probe: SIGKILL at this instant.
    kill_at: Option<Instant>,
}

#[derive(Default)]
struct ContainerState {
    run: Option<Run>,
    restart_count: i32,
    last: Option<Ended>,
    /// Ended for good (restart policy says no).
    done: Option<Ended>,
    waiting: Option<(String, String)>,
    backoff: Option<Duration>,
    next_start: Option<Instant>,
}

/// A pod's worker state.
pub(crate) struct PodWorker {
    shared: Arc<Shared>,
    uid: String,
    namespace: String,
    name: String,
    dir: PathBuf,
    sandbox: Option<Sandbox>,
    volumes: Option<BTreeMap<String, PathBuf>>,
    /// Why the pod cannot start its containers yet.
    blocked: Option<(String, String)>,
    containers: BTreeMap<String, ContainerState>,
    start_time: Option<String>,
    transitions: BTreeMap<&'static str, (bool, String)>,
    reported: Option<Value>,
}

impl PodWorker {
    pub(crate) fn new(shared: Arc<Shared>, pod: &Pod) -> Self {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let dir = shared.work.join("pods").join(format!("{namespace}_{name}_{uid}"));
        Self {
            shared,
            uid,
            namespace,
            name,
            dir,
            sandbox: None,
            volumes: None,
            blocked: None,
            containers: BTreeMap::new(),
            start_time: None,
            transitions: BTreeMap::new(),
            reported: None,
        }
    }

    fn key(&self, container: &str) -> String {
        format!("{}/{}/{container}", self.namespace, self.name)
    }

    /// Runs until the pod is gone.
    pub(crate) async fn run(mut self) {
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let Some(pod) = self.shared.pod(&self.uid) else {
                // Deleted without us (forced): stop everything now.
                self.stop_all(Duration::ZERO).await;
                self.teardown().await;
                return;
            };
            if pod.metadata.deletion_timestamp.is_some() {
                let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(30).max(0) as u64;
                self.stop_all(Duration::from_secs(grace)).await;
                self.report(&pod).await;
                self.teardown().await;
                let api = Api::<Pod>::namespaced(self.shared.client.clone(), &self.namespace);
                let params = DeleteParams {
                    grace_period_seconds: Some(0),
                    preconditions: Some(Preconditions { uid: Some(self.uid.clone()), resource_version: None }),
                    ..Default::default()
                };
                let _ = api.delete(&self.name, &params).await;
                return;
            }
            if !self.finished(&pod) {
                self.step(&pod).await;
            } else if self.sandbox.is_some() {
                self.teardown().await;
            }
            self.report(&pod).await;
        }
    }

    fn restart_policy(pod: &Pod) -> &str {
        pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always")
    }

    fn specs(pod: &Pod) -> Vec<Container> {
        pod.spec.as_ref().map(|s| s.containers.clone()).unwrap_or_default()
    }

    /// Every container ended for good (never with restartPolicy Always).
    fn finished(&self, pod: &Pod) -> bool {
        let specs = Self::specs(pod);
        !specs.is_empty() && specs.iter().all(|c| self.containers.get(&c.name).is_some_and(|s| s.done.is_some()))
    }

    async fn step(&mut self, pod: &Pod) {
        if pod.spec.as_ref().is_some_and(|s| s.init_containers.as_ref().is_some_and(|i| !i.is_empty())) {
            self.blocked = Some(("InitContainersUnsupported".into(), "this kubelet runs no init containers".into()));
            return;
        }
        if self.sandbox.is_none() {
            let hostname = pod.spec.as_ref().and_then(|s| s.hostname.clone()).unwrap_or_else(|| self.name.clone());
            match Sandbox::create(&hostname).await {
                Ok(sandbox) => {
                    self.sandbox = Some(sandbox);
                    self.start_time.get_or_insert_with(now);
                }
                Err(e) => {
                    self.blocked = Some(("ContainerCreating".into(), format!("pod sandbox: {e:#}")));
                    return;
                }
            }
        }
        if self.volumes.is_none() {
            match self.prepare_volumes(pod).await {
                Ok(v) => {
                    self.volumes = Some(v);
                    self.blocked = None;
                }
                Err(e) => {
                    self.blocked = Some(("ContainerCreating".into(), format!("MountVolume.SetUp failed: {e:#}")));
                    return;
                }
            }
        }
        for spec in Self::specs(pod) {
            self.step_container(pod, &spec).await;
        }
    }

    fn pod_ip(&self) -> String {
        self.sandbox.as_ref().map(|s| s.ip.to_string()).unwrap_or_default()
    }

    fn sources(&self) -> env::Sources {
        env::Sources { client: self.shared.client.clone(), namespace: self.namespace.clone() }
    }

    /// The user a container runs as, its supplementary groups, or why it may not run.
    fn identity(pod: &Pod, spec: &Container, image: &images::Image) -> Result<((i64, i64), Vec<i64>), String> {
        let pod_sc = pod.spec.as_ref().and_then(|s| s.security_context.clone()).unwrap_or_default();
        let sc = spec.security_context.clone().unwrap_or_default();
        let uid = sc.run_as_user.or(pod_sc.run_as_user).unwrap_or(image.user.0);
        let gid = sc.run_as_group.or(pod_sc.run_as_group).unwrap_or(image.user.1);
        let non_root = sc.run_as_non_root.or(pod_sc.run_as_non_root).unwrap_or(false);
        if non_root && uid == 0 {
            return Err("container has runAsNonRoot and image will run as root".to_owned());
        }
        let mut groups = pod_sc.supplemental_groups.clone().unwrap_or_default();
        groups.extend(pod_sc.fs_group);
        Ok(((uid, gid), groups))
    }

    async fn prepare_volumes(&self, pod: &Pod) -> anyhow::Result<BTreeMap<String, PathBuf>> {
        let spec = pod.spec.as_ref().ok_or_else(|| anyhow::anyhow!("the pod has no spec"))?;
        let first = spec.containers.first().and_then(|c| images::resolve(c.image.as_deref().unwrap_or_default()).ok());
        let image_user = first.map_or((65532, 65532), |i| i.user);
        let pod_sc = spec.security_context.clone().unwrap_or_default();
        let run_as = (pod_sc.run_as_user.unwrap_or(image_user.0), pod_sc.run_as_group.unwrap_or(image_user.1));
        let sources = self.sources();
        let pod_ip = self.pod_ip();
        let context = volumes::Mounter {
            client: &self.shared.client,
            sources: &sources,
            pod,
            pod_ip: &pod_ip,
            run_as,
            fs_group: pod_sc.fs_group,
        };
        let mut out = BTreeMap::new();
        for volume in spec.volumes.iter().flatten() {
            let dir = self.dir.join("volumes").join(&volume.name);
            out.insert(volume.name.clone(), context.prepare(volume, &dir).await?);
        }
        Ok(out)
    }

    async fn launch(&self, pod: &Pod, spec: &Container) -> Result<Launch, (String, String)> {
        let reference = spec.image.clone().unwrap_or_default();
        let image = images::resolve(&reference).map_err(|e| ("ErrImagePull".to_owned(), e))?;
        let config_error = |e: String| ("CreateContainerConfigError".to_owned(), e);
        let (user, groups) = Self::identity(pod, spec, &image).map_err(config_error)?;
        let pod_ip = self.pod_ip();
        let vars = env::build(pod, spec, &pod_ip, &self.sources()).await.map_err(|e| config_error(format!("{e:#}")))?;
        let lookup: BTreeMap<String, String> = vars.iter().cloned().collect();
        let expand = |list: &Option<Vec<String>>| -> Vec<String> {
            list.iter().flatten().map(|a| env::expand(a, &lookup)).collect()
        };
        let mut argv = if spec.command.is_some() { expand(&spec.command) } else { image.entrypoint.clone() };
        argv.extend(expand(&spec.args));
        let volumes = self.volumes.as_ref().ok_or_else(|| config_error("volumes are not ready".into()))?;
        let mut mounts = vec![(image.binary.clone(), image.path.clone(), true)];
        for mount in spec.volume_mounts.iter().flatten() {
            let source = volumes
                .get(&mount.name)
                .ok_or_else(|| config_error(format!("volume {} is not in the pod", mount.name)))?;
            let source = match mount.sub_path.as_deref().filter(|s| !s.is_empty()) {
                Some(sub) => source.join(sub),
                None => source.clone(),
            };
            mounts.push((source, mount.mount_path.clone(), mount.read_only.unwrap_or(false)));
        }
        let read_only_root = spec.security_context.as_ref().and_then(|s| s.read_only_root_filesystem).unwrap_or(false);
        Ok(Launch {
            root: self.dir.join("containers").join(&spec.name),
            mounts,
            user,
            groups,
            read_only_root,
            argv,
            env: vars,
            log: self.dir.join(format!("{}.log", spec.name)),
        })
    }

    async fn step_container(&mut self, pod: &Pod, spec: &Container) {
        let policy = Self::restart_policy(pod).to_owned();
        let pod_ip = self.pod_ip();
        let key = self.key(&spec.name);
        let state = self.containers.entry(spec.name.clone()).or_default();
        if state.done.is_some() {
            return;
        }
        if let Some(run) = state.run.as_mut() {
            match run.child.try_wait() {
                Ok(Some(status)) => {
                    use std::os::unix::process::ExitStatusExt;
                    let ended = Ended {
                        exit_code: status.code().unwrap_or(128 + status.signal().unwrap_or(9)),
                        signal: status.signal(),
                        started_at: run.started_at.clone(),
                        finished_at: now(),
                    };
                    let ran_for = run.started.elapsed();
                    state.run = None;
                    self.shared.forget(&key);
                    let restart = match policy.as_str() {
                        "Never" => false,
                        "OnFailure" => ended.exit_code != 0,
                        _ => true,
                    };
                    if restart {
                        let backoff = match state.backoff {
                            _ if ran_for > BACKOFF_RESET => None,
                            None => Some(Duration::ZERO),
                            Some(d) if d.is_zero() => Some(BACKOFF_START),
                            Some(d) => Some((d * 2).min(BACKOFF_MAX)),
                        };
                        state.backoff = backoff;
                        state.next_start = Some(Instant::now() + backoff.unwrap_or_default());
                        state.last = Some(ended);
                    } else {
                        state.done = Some(ended);
                    }
                }
                Ok(None) => {
                    if run.kill_at.is_some_and(|t| Instant::now() >= t) {
                        let _ = run.child.start_kill();
                    }
                    let http = &self.shared.http;
                    if !run.started_ok {
                        run.started_ok = match (&spec.startup_probe, run.startup.as_mut()) {
                            (Some(probe), Some(schedule)) => match schedule.run(probe, spec, &pod_ip, http).await {
                                Verdict::Succeeded => true,
                                Verdict::Failed => {
                                    run.kill_at.get_or_insert(Instant::now());
                                    false
                                }
                                Verdict::Unchanged => false,
                            },
                            _ => true,
                        };
                    }
                    if run.started_ok {
                        if let (Some(probe), Some(schedule)) = (&spec.liveness_probe, run.liveness.as_mut()) {
                            if schedule.run(probe, spec, &pod_ip, http).await == Verdict::Failed
                                && run.kill_at.is_none()
                            {
                                runtime::terminate(&run.child).await;
                                let grace = pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds);
                                run.kill_at = Some(Instant::now() + Duration::from_secs(grace.unwrap_or(30) as u64));
                            }
                        }
                        match (&spec.readiness_probe, run.readiness.as_mut()) {
                            (Some(probe), Some(schedule)) => match schedule.run(probe, spec, &pod_ip, http).await {
                                Verdict::Succeeded => run.ready = true,
                                Verdict::Failed => run.ready = false,
                                Verdict::Unchanged => {}
                            },
                            _ => run.ready = true,
                        }
                    }
                }
                Err(e) => eprintln!("kubelet: {key}: {e}"),
            }
            return;
        }
        if state.next_start.is_some_and(|t| Instant::now() < t) {
            let message = format!("back-off restarting failed container {} in pod {}", spec.name, self.name);
            state.waiting = Some(("CrashLoopBackOff".to_owned(), message));
            return;
        }
        let launch = self.launch(pod, spec).await;
        let state = self.containers.entry(spec.name.clone()).or_default();
        let launch = match launch {
            Ok(l) => l,
            Err(waiting) => {
                state.waiting = Some(waiting);
                return;
            }
        };
        let Some(sandbox) = self.sandbox.as_ref() else { return };
        match runtime::start(sandbox, &self.shared.script, &launch) {
            Ok(child) => {
                if let Some(pid) = child.id() {
                    self.shared.remember(&key, pid);
                }
                let started = Instant::now();
                if state.last.is_some() {
                    state.restart_count += 1;
                }
                state.waiting = None;
                state.next_start = None;
                state.run = Some(Run {
                    child,
                    started,
                    started_at: now(),
                    startup: spec.startup_probe.as_ref().map(|p| Schedule::new(p, started)),
                    liveness: spec.liveness_probe.as_ref().map(|p| Schedule::new(p, started)),
                    readiness: spec.readiness_probe.as_ref().map(|p| Schedule::new(p, started)),
                    started_ok: spec.startup_probe.is_none(),
                    ready: false,
                    kill_at: None,
                });
            }
            Err(e) => state.waiting = Some(("RunContainerError".to_owned(), format!("{e:#}"))),
        }
    }

    /// Stops every container: the preStop sleep, SIGTERM, then SIGKILL once `grace` is over.
    async fn stop_all(&mut self, grace: Duration) {
        let deadline = Instant::now() + grace;
        let runs: Vec<(String, Run)> =
            self.containers.iter_mut().filter_map(|(name, state)| Some((name.clone(), state.run.take()?))).collect();
        let sleeps = self.pre_stop_sleeps();
        let mut handles = Vec::new();
        for (name, mut run) in runs {
            let sleep = sleeps.get(&name).copied().unwrap_or_default().min(grace);
            handles.push(async move {
                tokio::time::sleep(sleep).await;
                runtime::terminate(&run.child).await;
                let status = match tokio::time::timeout_at(deadline, run.child.wait()).await {
                    Ok(status) => status.ok(),
                    Err(_) => {
                        let _ = run.child.start_kill();
                        run.child.wait().await.ok()
                    }
                };
                (name, run.started_at, status)
            });
        }
        for (name, started_at, status) in futures::future::join_all(handles).await {
            use std::os::unix::process::ExitStatusExt;
            let (code, signal) =
                status.map_or((137, Some(9)), |s| (s.code().unwrap_or(128 + s.signal().unwrap_or(9)), s.signal()));
            let key = self.key(&name);
            self.shared.forget(&key);
            if let Some(state) = self.containers.get_mut(&name) {
                state.done = Some(Ended { exit_code: code, signal, started_at, finished_at: now() });
            }
        }
    }

    fn pre_stop_sleeps(&self) -> BTreeMap<String, Duration> {
        let Some(pod) = self.shared.pod(&self.uid) else { return BTreeMap::new() };
        Self::specs(&pod)
            .into_iter()
            .filter_map(|c| {
                let secs = c.lifecycle?.pre_stop?.sleep?.seconds;
                Some((c.name, Duration::from_secs(secs.max(0) as u64)))
            })
            .collect()
    }

    async fn teardown(&mut self) {
        if let Some(sandbox) = self.sandbox.take() {
            sandbox.destroy().await;
        }
    }

    fn condition(&mut self, kind: &'static str, status: bool) -> Value {
        let entry = self.transitions.entry(kind).or_insert_with(|| (status, now()));
        if entry.0 != status {
            *entry = (status, now());
        }
        json!({"type": kind, "status": if status { "True" } else { "False" }, "lastTransitionTime": entry.1})
    }

    /// Writes the pod's status when it changed.
    async fn report(&mut self, pod: &Pod) {
        let specs = Self::specs(pod);
        let policy = Self::restart_policy(pod).to_owned();
        let mut statuses = Vec::new();
        let mut all_ready = !specs.is_empty();
        let mut all_started = !specs.is_empty();
        for spec in &specs {
            let state = self.containers.get(&spec.name);
            let run = state.and_then(|s| s.run.as_ref());
            let ready = run.is_some_and(|r| r.ready && r.started_ok);
            all_ready &= ready;
            all_started &= state.is_some_and(|s| s.run.is_some() || s.last.is_some() || s.done.is_some());
            let current = match (run, state.and_then(|s| s.done.as_ref()), state.and_then(|s| s.waiting.as_ref())) {
                (Some(run), _, _) => json!({"running": {"startedAt": run.started_at}}),
                (None, Some(done), _) => json!({"terminated": done.json()}),
                (None, None, Some((reason, message))) => json!({"waiting": {"reason": reason, "message": message}}),
                _ => match &self.blocked {
                    Some((reason, message)) => json!({"waiting": {"reason": reason, "message": message}}),
                    None => json!({"waiting": {"reason": "ContainerCreating"}}),
                },
            };
            let last = state.and_then(|s| s.last.as_ref()).map_or(json!({}), |l| json!({"terminated": l.json()}));
            let image = images::resolve(spec.image.as_deref().unwrap_or_default()).ok();
            let mut status = json!({
                "name": spec.name,
                "image": spec.image,
                "imageID": image.map(|i| format!("file://{}", i.binary.display())).unwrap_or_default(),
                "ready": ready,
                "started": run.is_some_and(|r| r.started_ok),
                "restartCount": state.map_or(0, |s| s.restart_count),
                "state": current,
                "lastState": last,
            });
            if let Some(pid) = run.and_then(|r| r.child.id()) {
                status["containerID"] = json!(format!("e2e://{}/{pid}", self.uid));
            }
            statuses.push(status);
        }
        let dones: Vec<&Ended> = specs.iter().filter_map(|c| self.containers.get(&c.name)?.done.as_ref()).collect();
        let finished = !specs.is_empty() && dones.len() == specs.len();
        let phase = if finished {
            if dones.iter().all(|d| d.exit_code == 0) || policy == "Always" {
                "Succeeded"
            } else {
                "Failed"
            }
        } else if all_started {
            "Running"
        } else {
            "Pending"
        };
        let phase = if pod.metadata.deletion_timestamp.is_some() && policy == "Always" && finished {
            // A deleted pod's containers ended because we stopped them.
            "Succeeded"
        } else {
            phase
        };
        let sandbox_up = self.sandbox.is_some();
        let ready = all_ready && !finished;
        let conditions = vec![
            self.condition("PodReadyToStartContainers", sandbox_up),
            self.condition("Initialized", true),
            self.condition("ContainersReady", ready),
            self.condition("Ready", ready),
        ];
        let mut status = json!({
            "phase": phase,
            "conditions": conditions,
            "hostIP": NODE_IP.to_string(),
            "hostIPs": [{"ip": NODE_IP.to_string()}],
            "containerStatuses": statuses,
        });
        if let Some(sandbox) = &self.sandbox {
            status["podIP"] = json!(sandbox.ip.to_string());
            status["podIPs"] = json!([{"ip": sandbox.ip.to_string()}]);
        }
        if let Some(start) = &self.start_time {
            status["startTime"] = json!(start);
        }
        if self.reported.as_ref() == Some(&status) {
            return;
        }
        let api = Api::<Pod>::namespaced(self.shared.client.clone(), &self.namespace);
        let patch = json!({"status": status});
        match api.patch_status(&self.name, &PatchParams::default(), &Patch::Strategic(patch)).await {
            Ok(_) => self.reported = Some(status),
            Err(e) => eprintln!("kubelet: status of {}/{}: {e}", self.namespace, self.name),
        }
    }
}
