//! Validation of custom resources against their CRD's `openAPIV3Schema`, as the real server
//! does on create and update: unknown fields pruned (or refused under `fieldValidation=Strict`),
//! schema defaults applied, structural rules (`jsonschema`), then the CEL rules (`kube-cel`,
//! with `oldSelf` on update). Failures are one 422 `Invalid` listing every problem.

use serde_json::Value;

use super::errors::ApiError;

/// Prunes (or, when `strict`, reports) fields the schema does not declare.
fn prune(schema: &Value, object: &mut Value, path: &str, strict: bool, out: &mut Vec<String>) {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    match object {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let mut unknown = Vec::new();
            for (name, value) in map.iter_mut() {
                if path.is_empty() && ["apiVersion", "kind", "metadata"].contains(&name.as_str()) {
                    continue;
                }
                let child = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
                match (properties.and_then(|p| p.get(name)), additional) {
                    (Some(field), _) => prune(field, value, &child, strict, out),
                    (None, Some(additional)) => prune(additional, value, &child, strict, out),
                    (None, None) => unknown.push((name.clone(), child)),
                }
            }
            for (name, child) in unknown {
                if strict {
                    out.push(format!("unknown field \"{child}\""));
                } else {
                    map.remove(&name);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    prune(item_schema, item, &format!("{path}[{i}]"), strict, out);
                }
            }
        }
        _ => {}
    }
}

/// Validates (and prunes and defaults) `object` of `kind` against `schema`.
pub(super) fn validate(
    kind: &str,
    schema: &Value,
    object: &mut Value,
    old: Option<&Value>,
    strict: bool,
) -> Result<(), ApiError> {
    let mut problems = Vec::new();
    prune(schema, object, "", strict, &mut problems);
    *object = kube_cel::apply_defaults(schema, object);
    match jsonschema::validator_for(schema) {
        Ok(validator) => {
            for error in validator.iter_errors(object) {
                let at = error.instance_path().to_string().trim_start_matches('/').replace('/', ".");
                problems.push(format!("{at}: Invalid value: {error}"));
            }
        }
        Err(e) => problems.push(format!("the CRD schema does not compile: {e}")),
    }
    if let Err(errors) = kube_cel::Validator::new().validate(schema, object, old) {
        problems.extend(errors.iter().map(|e| format!("{}: Invalid value: {}", e.field_path, e.message)));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    Err(ApiError::new(422, "Invalid", format!("{kind} \"{name}\" is invalid: {}", problems.join(", "))))
}
