//! Query strings as Kubernetes clients send them: kube-rs writes `?&labelSelector=…` and bare
//! trailing `?`, the Python client writes `watch=True`. Booleans parse like Go's
//! `strconv.ParseBool`.

use std::collections::HashMap;

/// Parsed query parameters (last value wins).
#[derive(Debug, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let mut map = HashMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            map.insert(decode(key), decode(value));
        }
        Query(map)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A boolean flag: `1, t, T, TRUE, true, True` (Go's ParseBool); anything else is false.
    pub fn flag(&self, key: &str) -> bool {
        matches!(
            self.0.get(key).map(String::as_str),
            Some("1" | "t" | "T" | "TRUE" | "true" | "True")
        )
    }

    /// A CrateDB flag (`types`, `error_trace`): on for `?flag` and `?flag=true` only.
    pub fn crate_flag(&self, key: &str) -> bool {
        matches!(self.0.get(key).map(String::as_str), Some("" | "true"))
    }

    pub fn number(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(|v| v.parse().ok())
    }
}

/// Percent-decoding (and `+` as space) for query components; a malformed escape stays as is.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (byte, None) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerant_parsing() {
        let q = Query::parse(Some(
            "&labelSelector=app%3Dcrate%2Cx%3Dy&watch=True&timeoutSeconds=10&&",
        ));
        assert_eq!(q.get("labelSelector"), Some("app=crate,x=y"));
        assert!(q.flag("watch"));
        assert_eq!(q.number("timeoutSeconds"), Some(10));
        assert!(!Query::parse(Some("watch=yes")).flag("watch"));
        assert!(!Query::parse(None).flag("watch"));
        assert_eq!(Query::parse(Some("a=%zz&b=%4")).get("a"), Some("%zz"));
        assert_eq!(Query::parse(Some("b=%4")).get("b"), Some("%4"));
    }
}
