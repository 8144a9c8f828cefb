//! Column types of query results, and the `col_types` ids CrateDB writes with `?types`
//! (docs/cratedb-behaviour.md#column-types).

use serde_json::Value;

/// The type of a result column or of a (nested) system-table column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ColType {
    Undefined,
    Boolean,
    Text,
    Smallint,
    Integer,
    Bigint,
    Real,
    Double,
    Timestamp,
    /// A strict object with known children.
    Object(Vec<(String, ColType)>),
    /// An object whose keys are not known in advance; unknown keys read as NULL.
    DynObject,
    Array(Box<ColType>),
}

impl ColType {
    /// The `col_types` entry: an id, or `[100, inner]` for arrays.
    pub(crate) fn id(&self) -> Value {
        let id = match self {
            ColType::Undefined => 0,
            ColType::Boolean => 3,
            ColType::Text => 4,
            ColType::Double => 6,
            ColType::Real => 7,
            ColType::Smallint => 8,
            ColType::Integer => 9,
            ColType::Bigint => 10,
            ColType::Timestamp => 11,
            ColType::Object(_) | ColType::DynObject => 12,
            ColType::Array(inner) => return Value::Array(vec![Value::from(100), inner.id()]),
        };
        Value::from(id)
    }

    /// The child type for `self[key]`; `None` if the key is unknown in a strict object.
    pub(crate) fn child(&self, key: &str) -> Option<ColType> {
        match self {
            ColType::Object(children) => children.iter().find(|(k, _)| k == key).map(|(_, t)| t.clone()),
            ColType::DynObject | ColType::Undefined => Some(ColType::Undefined),
            // Subscript on an array of objects yields an array of the child.
            ColType::Array(inner) => inner.child(key).map(|t| ColType::Array(Box::new(t))),
            _ => None,
        }
    }

    /// Adds `leaf` under the dotted path, creating objects on the way.
    pub(crate) fn insert_path(&mut self, path: &[&str], leaf: ColType) {
        let ColType::Object(children) = self else { return };
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if rest.is_empty() {
            children.push(((*first).to_string(), leaf));
            return;
        }
        if !children.iter().any(|(k, _)| k == first) {
            children.push(((*first).to_string(), ColType::Object(Vec::new())));
        }
        if let Some((_, child)) = children.iter_mut().find(|(k, _)| k == first) {
            child.insert_path(rest, leaf);
        }
    }

    /// The type of a literal value.
    pub(crate) fn of_value(value: &Value) -> ColType {
        match value {
            Value::Null => ColType::Undefined,
            Value::Bool(_) => ColType::Boolean,
            Value::Number(n) if n.is_f64() => ColType::Double,
            Value::Number(n) if n.as_i64().is_some_and(|v| i32::try_from(v).is_ok()) => ColType::Integer,
            Value::Number(_) => ColType::Bigint,
            Value::String(_) => ColType::Text,
            Value::Array(items) => ColType::Array(Box::new(
                items.first().map(ColType::of_value).unwrap_or(ColType::Undefined),
            )),
            Value::Object(_) => ColType::DynObject,
        }
    }
}

/// Shorthand to build an object type.
pub(crate) fn obj(children: Vec<(&str, ColType)>) -> ColType {
    ColType::Object(children.into_iter().map(|(k, t)| (k.to_string(), t)).collect())
}

pub(crate) fn arr(inner: ColType) -> ColType {
    ColType::Array(Box::new(inner))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids() {
        assert_eq!(ColType::Text.id(), json!(4));
        assert_eq!(arr(arr(ColType::Integer)).id(), json!([100, [100, 9]]));
        assert_eq!(ColType::of_value(&json!(42)), ColType::Integer);
        let o = obj(vec![("name", ColType::Text)]);
        assert_eq!(o.child("name"), Some(ColType::Text));
        assert_eq!(o.child("nope"), None);
    }
}
