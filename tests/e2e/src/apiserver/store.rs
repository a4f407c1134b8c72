//! Objects, resource versions, the event history watches replay, finalizers, generation, the
//! status subresource and owner-reference garbage collection.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::errors::{ApiError, ApiResult};
use super::resources::{self, ResourceType};
use super::schema;
use super::selectors::Selector;

/// One change, as a watch reports it.
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub type_: &'static str,
    pub key: String,
    pub object: Value,
}

type Objects = BTreeMap<(String, String), Value>;

pub struct Store {
    pub types: Vec<ResourceType>,
    objects: HashMap<String, Objects>,
    /// Server-side apply: the last configuration each manager applied to each object (by uid).
    applied: HashMap<(String, String), Value>,
    rv: u64,
    history: Vec<Arc<Change>>,
    pub changes: broadcast::Sender<Arc<Change>>,
}

/// How a write treats the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Main,
    Status,
}

fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn without(obj: &Value, keys: &[&str]) -> Value {
    let mut obj = obj.clone();
    if let Some(map) = obj.as_object_mut() {
        for key in keys {
            map.remove(*key);
        }
    }
    obj
}

/// The object without server-owned bookkeeping, for "did anything change".
fn comparable(obj: &Value) -> Value {
    let mut obj = obj.clone();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
        meta.remove("managedFields");
    }
    obj
}

impl Default for Store {
    fn default() -> Self {
        Self {
            types: resources::builtins(),
            objects: HashMap::new(),
            applied: HashMap::new(),
            rv: 1,
            history: Vec::new(),
            changes: broadcast::channel(4096).0,
        }
    }
}

impl Store {
    pub fn find_type(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.types.iter().find(|t| t.group == group && t.version == version && t.plural == plural).cloned()
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn get(&self, t: &ResourceType, ns: &str, name: &str) -> ApiResult<Value> {
        self.objects
            .get(&t.key())
            .and_then(|o| o.get(&(ns.to_owned(), name.to_owned())))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&format!("{}.{}", t.plural, t.group), name))
    }

    pub fn list(&self, t: &ResourceType, ns: Option<&str>, selector: &Selector) -> Vec<Value> {
        self.objects
            .get(&t.key())
            .into_iter()
            .flat_map(|o| o.iter())
            .filter(|((o_ns, _), _)| ns.is_none_or(|ns| ns == o_ns))
            .map(|(_, v)| v.clone())
            .filter(|v| selector.matches(v))
            .collect()
    }

    /// Changes after `since` (all current objects as ADDED when `since` is `None`), and a
    /// receiver for the ones to come, taken together so none is missed.
    pub fn watch(&self, t: &ResourceType, since: Option<u64>) -> (Vec<Arc<Change>>, broadcast::Receiver<Arc<Change>>) {
        let receiver = self.changes.subscribe();
        let key = t.key();
        let backlog = match since {
            Some(since) => self.history.iter().filter(|c| c.key == key && c.rv > since).cloned().collect(),
            None => self
                .objects
                .get(&key)
                .into_iter()
                .flat_map(|o| o.values())
                .map(|object| {
                    let rv = object["metadata"]["resourceVersion"].as_str().and_then(|v| v.parse().ok()).unwrap_or(0);
                    Arc::new(Change { rv, type_: "ADDED", key: key.clone(), object: object.clone() })
                })
                .collect(),
        };
        (backlog, receiver)
    }

    fn record(&mut self, t: &ResourceType, type_: &'static str, object: Value) {
        let change = Arc::new(Change { rv: self.rv, type_, key: t.key(), object });
        self.history.push(change.clone());
        let _ = self.changes.send(change);
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn validate(&self, t: &ResourceType, obj: &mut Value, old: Option<&Value>, strict: bool) -> ApiResult<()> {
        match &t.schema {
            Some(schema) => schema::validate(&format!("{}.{}", t.kind, t.group), schema, obj, old, strict),
            None => Ok(()),
        }
    }

    pub fn create(&mut self, t: &ResourceType, ns: &str, mut obj: Value, strict: bool) -> ApiResult<Value> {
        if let Some(prefix) = obj["metadata"]["generateName"].as_str().filter(|_| obj["metadata"]["name"].is_null()) {
            let suffix: String = uuid::Uuid::new_v4().simple().to_string()[..5].to_owned();
            obj["metadata"]["name"] = json!(format!("{prefix}{suffix}"));
        }
        let name = obj["metadata"]["name"]
            .as_str()
            .ok_or_else(|| ApiError::new(422, "Invalid", "metadata.name: Required value"))?
            .to_owned();
        if self.get(t, ns, &name).is_ok() {
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("{}.{} \"{name}\" already exists", t.plural, t.group),
            ));
        }
        obj["apiVersion"] = json!(t.api_version());
        obj["kind"] = json!(t.kind);
        self.validate(t, &mut obj, None, strict)?;
        let rv = self.next_rv();
        let meta =
            obj["metadata"].as_object_mut().ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
        if t.namespaced {
            meta.insert("namespace".into(), json!(ns));
        } else {
            meta.remove("namespace");
        }
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("creationTimestamp".into(), json!(now()));
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        meta.insert("generation".into(), json!(1));
        meta.remove("deletionTimestamp");
        if t.kind == "CustomResourceDefinition" {
            self.register_crd(&mut obj);
        }
        self.objects.entry(t.key()).or_default().insert((ns.to_owned(), name), obj.clone());
        self.record(t, "ADDED", obj.clone());
        Ok(obj)
    }

    fn register_crd(&mut self, crd: &mut Value) {
        let names = crd["spec"]["names"].clone();
        if crd["status"].is_null() {
            crd["status"] = json!({
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found",
                    "lastTransitionTime": now()},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted", "lastTransitionTime": now()},
            ],
            "acceptedNames": names,
            "storedVersions": crd["spec"]["versions"].as_array().into_iter().flatten().map(|v| v["name"].clone()).collect::<Vec<_>>(),
            });
        }
        for t in resources::from_crd(crd) {
            self.types.retain(|e| !(e.group == t.group && e.version == t.version && e.plural == t.plural));
            self.types.push(t);
        }
    }

    /// Replaces an object (or its status) with `new`; a no-op write changes nothing.
    pub fn update(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
        mut new: Value,
        part: Part,
        strict: bool,
    ) -> ApiResult<Value> {
        let old = self.get(t, ns, name)?;
        if let Some(rv) = new["metadata"]["resourceVersion"].as_str() {
            if rv != old["metadata"]["resourceVersion"].as_str().unwrap_or_default() {
                return Err(ApiError::new(
                    409,
                    "Conflict",
                    format!(
                    "Operation cannot be fulfilled on {}.{} \"{name}\": the object has been modified; please apply \
                        your changes to the latest version and try again",
                    t.plural, t.group
                ),
                ));
            }
        }
        new = match part {
            Part::Status => {
                let mut merged = old.clone();
                merged["status"] = new.get("status").cloned().unwrap_or(Value::Null);
                merged
            }
            Part::Main if t.status_subresource => {
                let mut merged = new;
                match old.get("status") {
                    Some(status) => merged["status"] = status.clone(),
                    None => {
                        merged.as_object_mut().map(|m| m.remove("status"));
                    }
                }
                merged
            }
            Part::Main => new,
        };
        // Identity and server-set fields are the server's.
        for key in ["uid", "creationTimestamp", "namespace", "name", "deletionTimestamp", "generation"] {
            match old["metadata"].get(key) {
                Some(v) => new["metadata"][key] = v.clone(),
                None => {
                    new["metadata"].as_object_mut().map(|m| m.remove(key));
                }
            }
        }
        new["apiVersion"] = json!(t.api_version());
        new["kind"] = json!(t.kind);
        if part == Part::Main {
            self.validate(t, &mut new, Some(&old), strict)?;
        }
        if without(&comparable(&new), &["metadata", "status"]) != without(&comparable(&old), &["metadata", "status"]) {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
            new["metadata"]["generation"] = json!(generation);
        }
        if comparable(&new) == comparable(&old) {
            return Ok(old);
        }
        let deleting = new["metadata"]["deletionTimestamp"].is_string();
        let finalizers_left = new["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty());
        let rv = self.next_rv();
        new["metadata"]["resourceVersion"] = json!(rv.to_string());
        if deleting && !finalizers_left {
            self.remove(t, ns, name);
            return Ok(new);
        }
        if t.kind == "CustomResourceDefinition" {
            self.register_crd(&mut new);
        }
        self.objects.entry(t.key()).or_default().insert((ns.to_owned(), name.to_owned()), new.clone());
        self.record(t, "MODIFIED", new.clone());
        Ok(new)
    }

    /// Server-side apply by `manager`: creates the object when absent (then `.1` is true; the
    /// real server authorizes that request as `create` as well as `patch`).
    pub fn apply(
        &mut self,
        t: &ResourceType,
        (ns, name): (&str, &str),
        applied: Value,
        manager: &str,
        part: Part,
        strict: bool,
    ) -> ApiResult<(Value, bool)> {
        let uid_key = |uid: &str| (uid.to_owned(), format!("{manager}/{part:?}"));
        match self.get(t, ns, name) {
            Err(_) if part == Part::Main => {
                let created = self.create(t, ns, applied.clone(), strict)?;
                let uid = created["metadata"]["uid"].as_str().unwrap_or_default();
                self.applied.insert(uid_key(uid), applied);
                Ok((created, true))
            }
            Err(e) => Err(e),
            Ok(current) => {
                let uid = current["metadata"]["uid"].as_str().unwrap_or_default().to_owned();
                let previous = self.applied.get(&uid_key(&uid));
                let merged = super::patch::apply(&current, &applied, previous);
                let out = self.update(t, ns, name, merged, part, strict)?;
                self.applied.insert(uid_key(&uid), applied);
                Ok((out, false))
            }
        }
    }

    /// Deletes an object: with finalizers it only gets a deletion timestamp.
    pub fn delete(&mut self, t: &ResourceType, ns: &str, name: &str) -> ApiResult<Value> {
        let mut obj = self.get(t, ns, name)?;
        let has_finalizers = obj["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty());
        if !has_finalizers {
            self.remove(t, ns, name);
            return Ok(obj);
        }
        if obj["metadata"]["deletionTimestamp"].is_null() {
            let rv = self.next_rv();
            obj["metadata"]["deletionTimestamp"] = json!(now());
            obj["metadata"]["resourceVersion"] = json!(rv.to_string());
            self.objects.entry(t.key()).or_default().insert((ns.to_owned(), name.to_owned()), obj.clone());
            self.record(t, "MODIFIED", obj.clone());
        }
        Ok(obj)
    }

    /// Removes an object for good, then garbage-collects its dependents (background
    /// propagation: each dependent is deleted as if by a client, finalizers honoured).
    fn remove(&mut self, t: &ResourceType, ns: &str, name: &str) {
        let Some(mut obj) = self.objects.get_mut(&t.key()).and_then(|o| o.remove(&(ns.to_owned(), name.to_owned())))
        else {
            return;
        };
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let uid = obj["metadata"]["uid"].as_str().unwrap_or_default().to_owned();
        self.applied.retain(|(u, _), _| *u != uid);
        self.record(t, "DELETED", obj);
        let mut dependents = Vec::new();
        for other in self.types.clone() {
            for ((o_ns, o_name), o) in self.objects.get(&other.key()).into_iter().flatten() {
                let owned = o["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid.as_str()));
                if owned {
                    dependents.push((other.clone(), o_ns.clone(), o_name.clone()));
                }
            }
        }
        for (other, o_ns, o_name) in dependents {
            let _ = self.delete(&other, &o_ns, &o_name);
        }
    }
}
