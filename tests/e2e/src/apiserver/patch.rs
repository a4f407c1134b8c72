//! Patches: JSON merge patch (RFC 7386), JSON patch (RFC 6902), and server-side apply, reduced
//! to what one field manager per field needs: the applied configuration is merged into the
//! object (maps merged key by key, lists and scalars replaced), and fields the same manager
//! applied last time but no longer applies are removed.

use serde_json::Value;

use super::errors::ApiError;

pub(super) fn merge_patch(target: &Value, patch: &Value) -> Value {
    let mut out = target.clone();
    json_patch::merge(&mut out, patch);
    out
}

pub(super) fn json_patch(target: &Value, patch: &Value) -> Result<Value, ApiError> {
    // As the real server does, `test` of a missing path against null succeeds.
    let mut patch = patch.clone();
    if let Some(ops) = patch.as_array_mut() {
        ops.retain(|op| {
            !(op["op"] == "test"
                && op["value"].is_null()
                && target.pointer(op["path"].as_str().unwrap_or_default()).is_none())
        });
    }
    let patch: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
    let mut out = target.clone();
    json_patch::patch(&mut out, &patch)
        .map_err(|e| ApiError::new(422, "Invalid", format!("the JSON patch does not apply: {e}")))?;
    Ok(out)
}

/// Server-side apply of `applied` by a manager whose previous applied configuration was
/// `previous`, onto `current`.
pub(super) fn apply(current: &Value, applied: &Value, previous: Option<&Value>) -> Value {
    let mut out = current.clone();
    if let Some(previous) = previous {
        remove_dropped(&mut out, previous, applied);
    }
    deep_merge(&mut out, applied);
    out
}

fn remove_dropped(target: &mut Value, previous: &Value, now: &Value) {
    let (Value::Object(target), Value::Object(previous)) = (target, previous) else { return };
    for (key, old) in previous {
        match now.get(key) {
            None => {
                target.remove(key);
            }
            Some(new) => {
                if let Some(child) = target.get_mut(key) {
                    remove_dropped(child, old, new);
                }
            }
        }
    }
}

fn deep_merge(target: &mut Value, applied: &Value) {
    match (target, applied) {
        (Value::Object(target), Value::Object(applied)) => {
            for (key, value) in applied {
                match target.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => deep_merge(existing, value),
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, applied) => *target = applied.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn apply_merges_and_forgets_what_the_manager_dropped() {
        let current = json!({"metadata": {"labels": {"a": "1", "other": "x"}}, "data": {"k1": "v1", "k2": "v2"}});
        let previous = json!({"metadata": {"labels": {"a": "1"}}, "data": {"k1": "v1", "k2": "v2"}});
        let applied = json!({"metadata": {"labels": {"a": "2"}}, "data": {"k1": "v1"}});
        let out = apply(&current, &applied, Some(&previous));
        assert_eq!(out, json!({"metadata": {"labels": {"a": "2", "other": "x"}}, "data": {"k1": "v1"}}));
        assert_eq!(apply(&out, &applied, Some(&applied)), out, "re-applying is a no-op");
    }
}
