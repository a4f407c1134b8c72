//! Label and field selectors (`a=b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`;
//! `metadata.name=`, `metadata.namespace=`).

use serde_json::Value;

#[derive(Debug, Clone, Default)]
pub struct Selector {
    labels: Vec<Requirement>,
    fields: Vec<(String, String, bool)>,
}

#[derive(Debug, Clone)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

fn split_top_level(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

fn set(values: &str) -> Vec<String> {
    values.trim().trim_start_matches('(').trim_end_matches(')').split(',').map(|v| v.trim().to_owned()).collect()
}

impl Selector {
    pub fn parse(labels: Option<&str>, fields: Option<&str>) -> Self {
        let labels = labels
            .map(split_top_level)
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                let r = r.trim();
                if let Some((k, v)) = r.split_once("!=") {
                    Requirement::NotEquals(k.trim().into(), v.trim().into())
                } else if let Some((k, v)) = r.split_once("==").or_else(|| r.split_once('=')) {
                    Requirement::Equals(k.trim().into(), v.trim().into())
                } else if let Some((k, v)) = r.split_once(" notin ") {
                    Requirement::NotIn(k.trim().into(), set(v))
                } else if let Some((k, v)) = r.split_once(" in ") {
                    Requirement::In(k.trim().into(), set(v))
                } else if let Some(k) = r.strip_prefix('!') {
                    Requirement::NotExists(k.trim().into())
                } else {
                    Requirement::Exists(r.into())
                }
            })
            .collect();
        let fields = fields
            .map(split_top_level)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|f| {
                if let Some((k, v)) = f.split_once("!=") {
                    Some((k.trim().to_owned(), v.trim().to_owned(), false))
                } else {
                    let (k, v) = f.split_once("==").or_else(|| f.split_once('='))?;
                    Some((k.trim().to_owned(), v.trim().to_owned(), true))
                }
            })
            .collect();
        Self { labels, fields }
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        let label = |k: &str| labels.get(k).and_then(Value::as_str);
        let labels_ok = self.labels.iter().all(|r| match r {
            Requirement::Equals(k, v) => label(k) == Some(v),
            Requirement::NotEquals(k, v) => label(k) != Some(v),
            Requirement::Exists(k) => label(k).is_some(),
            Requirement::NotExists(k) => label(k).is_none(),
            Requirement::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Requirement::NotIn(k, vs) => !label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
        });
        let fields_ok = self.fields.iter().all(|(k, v, eq)| {
            let actual = match k.as_str() {
                "metadata.name" => obj["metadata"]["name"].as_str(),
                "metadata.namespace" => obj["metadata"]["namespace"].as_str(),
                _ => None,
            };
            (actual == Some(v.as_str())) == *eq
        });
        labels_ok && fields_ok
    }
}

#[cfg(test)]
mod tests {
    use super::Selector;
    use serde_json::json;

    #[test]
    fn selectors() {
        let obj = json!({"metadata": {"name": "x", "namespace": "n", "labels": {"a": "1", "b": "2"}}});
        assert!(Selector::parse(Some("a=1,b"), None).matches(&obj));
        assert!(Selector::parse(Some("a in (1,3),!c"), Some("metadata.name=x")).matches(&obj));
        assert!(!Selector::parse(Some("a!=1"), None).matches(&obj));
        assert!(!Selector::parse(None, Some("metadata.namespace=m")).matches(&obj));
        assert!(!Selector::parse(Some("b notin (2)"), None).matches(&obj));
    }
}
