//! Label and field selectors, as list and watch requests carry them.
//!
//! Labels: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma-joined (AND).
//! Fields: `metadata.name`, `metadata.namespace`, `spec.nodeName`, `status.phase` with `=`,
//! `==` or `!=`; any other field is a 400, as a real server answers.

use std::fmt;

use serde_json::{Map, Value};

use super::status::ApiError;

#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    pub fn parse(text: Option<&str>) -> Result<LabelSelector, ApiError> {
        let mut requirements = Vec::new();
        for part in split_top_level(text.unwrap_or("")) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let bad = || {
                ApiError::bad_request(format!(
                    "unable to parse requirement: invalid label selector {part:?}"
                ))
            };
            let requirement = if let Some(key) = part.strip_prefix('!') {
                Requirement::NotExists(key.trim().to_string())
            } else if let Some((key, value)) = part.split_once("!=") {
                Requirement::NotEquals(key.trim().into(), value.trim().into())
            } else if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Requirement::Equals(key.trim().into(), value.trim().into())
            } else if let Some((key, values)) = set_requirement(part, " notin ") {
                Requirement::NotIn(key, values)
            } else if let Some((key, values)) = set_requirement(part, " in ") {
                Requirement::In(key, values)
            } else if part.contains(char::is_whitespace) || part.contains(['(', ')']) {
                return Err(bad());
            } else {
                Requirement::Exists(part.to_string())
            };
            requirements.push(requirement);
        }
        Ok(LabelSelector(requirements))
    }

    /// The equality requirements of a `matchLabels` map (as StatefulSets and PDBs carry).
    pub fn from_match_labels(labels: &Map<String, Value>) -> LabelSelector {
        LabelSelector(
            labels
                .iter()
                .map(|(k, v)| Requirement::Equals(k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect(),
        )
    }

    pub fn matches(&self, object: &Value) -> bool {
        let label = |key: &str| {
            object
                .pointer("/metadata/labels")
                .and_then(|l| l.get(key))
                .and_then(Value::as_str)
        };
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => label(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => label(k) != Some(v.as_str()),
            Requirement::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Requirement::NotIn(k, vs) => label(k).is_none_or(|l| vs.iter().all(|v| v != l)),
            Requirement::Exists(k) => label(k).is_some(),
            Requirement::NotExists(k) => label(k).is_none(),
        })
    }
}

/// The selector in its text form (`k=v,k2 in (a,b)`), as `Scale.status.selector` shows it.
impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|r| match r {
                Requirement::Equals(k, v) => format!("{k}={v}"),
                Requirement::NotEquals(k, v) => format!("{k}!={v}"),
                Requirement::In(k, vs) => format!("{k} in ({})", vs.join(",")),
                Requirement::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
                Requirement::Exists(k) => k.clone(),
                Requirement::NotExists(k) => format!("!{k}"),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn set_requirement(part: &str, operator: &str) -> Option<(String, Vec<String>)> {
    let (key, rest) = part.split_once(operator)?;
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some((
        key.trim().to_string(),
        inner.split(',').map(|v| v.trim().to_string()).collect(),
    ))
}

const FIELDS: &[(&str, &str)] = &[
    ("metadata.name", "/metadata/name"),
    ("metadata.namespace", "/metadata/namespace"),
    ("spec.nodeName", "/spec/nodeName"),
    ("status.phase", "/status/phase"),
];

/// A parsed field selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(&'static str, bool, String)>);

impl FieldSelector {
    pub fn parse(text: Option<&str>) -> Result<FieldSelector, ApiError> {
        let mut terms = Vec::new();
        for part in text
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{part}'; can't understand '{part}'"
                )));
            };
            let pointer = FIELDS
                .iter()
                .find(|(name, _)| *name == field.trim())
                .map(|(_, p)| *p)
                .ok_or_else(|| {
                    ApiError::bad_request(format!("field label not supported: {}", field.trim()))
                })?;
            terms.push((pointer, equal, value.trim().to_string()));
        }
        Ok(FieldSelector(terms))
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(pointer, equal, value)| {
            let actual = object.pointer(pointer).and_then(Value::as_str).unwrap_or("");
            (actual == value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(labels: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "ns", "labels": labels}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}})
    }

    #[test]
    fn label_selectors() {
        let p = pod(json!({"app": "crate", "tier": "data"}));
        let sel = |s: &str| LabelSelector::parse(Some(s)).unwrap().matches(&p);
        assert!(sel("app=crate"));
        assert!(sel("app==crate,tier=data"));
        assert!(!sel("app=crate,tier=master"));
        assert!(sel("tier in (data, master)"));
        assert!(!sel("tier notin (data)"));
        assert!(sel("app"));
        assert!(sel("!missing"));
        assert!(!sel("!app"));
        assert!(sel("app!=other"));
        assert!(sel(""));
        assert!(LabelSelector::parse(Some("a b")).is_err());
        let text = "app=crate,tier!=x,zone in (a,b),!gone";
        assert_eq!(LabelSelector::parse(Some(text)).unwrap().to_string(), text);
        let from_map = LabelSelector::from_match_labels(json!({"app": "crate"}).as_object().unwrap());
        assert!(from_map.matches(&p));
        assert_eq!(from_map.to_string(), "app=crate");
    }

    #[test]
    fn field_selectors() {
        let p = pod(json!({}));
        let sel = |s: &str| FieldSelector::parse(Some(s)).unwrap().matches(&p);
        assert!(sel("metadata.name=p"));
        assert!(sel("spec.nodeName=n1,status.phase==Running"));
        assert!(!sel("status.phase!=Running"));
        assert!(
            FieldSelector::parse(Some("spec.foo=1"))
                .unwrap_err()
                .message
                .contains("not supported")
        );
    }
}
