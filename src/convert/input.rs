//! Typed reads from a client's JSON request that name the offending field when the type is wrong.
//!
//! A JSON `null` counts as absent everywhere, as the providers' own APIs treat it. Unknown fields are never looked
//! at, so they are ignored.

use super::ConvertError;
use serde_json::{Map, Number, Value};

/// A JSON object and the path that leads to it.
#[derive(Clone, Copy)]
pub(crate) struct Obj<'a, 'p> {
    /// The members.
    pub(crate) map: &'a Map<String, Value>,
    path: &'p str,
}

/// Parses a request body that must be a JSON object.
pub(crate) fn parse_body(body: &[u8]) -> Result<Value, ConvertError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ConvertError::new("", format!("the request body is not valid JSON ({e})")))?;
    if !value.is_object() {
        return Err(ConvertError::new("", "the request body must be a JSON object"));
    }
    Ok(value)
}

/// `value` as an object, or an error naming `path`.
pub(crate) fn object<'a, 'p>(value: &'a Value, path: &'p str) -> Result<Obj<'a, 'p>, ConvertError> {
    match value {
        Value::Object(map) => Ok(Obj { map, path }),
        _ => Err(ConvertError::new(path, "must be an object")),
    }
}

/// `path.key`, or `key` at the root.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `path[index]`.
pub(crate) fn index(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

impl<'a, 'p> Obj<'a, 'p> {
    /// The path of member `key`.
    pub(crate) fn field(&self, key: &str) -> String {
        join(self.path, key)
    }

    /// Member `key`, `None` when absent or null.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn wrong(&self, key: &str, expected: &str) -> ConvertError {
        ConvertError::new(self.field(key), format!("must be {expected}"))
    }

    /// Member `key` as a string.
    pub(crate) fn str(&self, key: &str) -> Result<Option<&'a str>, ConvertError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong(key, "a string")),
        }
    }

    /// Member `key` as a string that must be there.
    pub(crate) fn required_str(&self, key: &str) -> Result<&'a str, ConvertError> {
        self.str(key)?.ok_or_else(|| ConvertError::new(self.field(key), "is required"))
    }

    /// Member `key` as `true` or `false`.
    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, ConvertError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.wrong(key, "true or false")),
        }
    }

    /// Member `key` as a number, kept exactly as written.
    pub(crate) fn number(&self, key: &str) -> Result<Option<Number>, ConvertError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(Some(n.clone())),
            Some(_) => Err(self.wrong(key, "a number")),
        }
    }

    /// A non-negative whole number (`1024.0` counts).
    pub(crate) fn count(&self, key: &str) -> Result<Option<u64>, ConvertError> {
        let Some(n) = self.number(key)? else { return Ok(None) };
        let whole = n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 1e15).map(|f| f as u64));
        whole.map(Some).ok_or_else(|| self.wrong(key, "a non-negative whole number"))
    }

    /// Member `key` as an array.
    pub(crate) fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, ConvertError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(self.wrong(key, "an array")),
        }
    }

    /// Member `key` as an object whose path is `path` (the caller owns the path string).
    pub(crate) fn object_at<'q>(&self, key: &str, path: &'q str) -> Result<Option<Obj<'a, 'q>>, ConvertError> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => object(value, path).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrong_types_name_the_field() {
        let value = json!({"s": 1, "b": "x", "n": "1", "c": -1, "a": {}, "o": [], "ok": null});
        let obj = object(&value, "req").expect("object");
        assert_eq!(obj.str("s").expect_err("wrong type").to_string(), "req.s: must be a string");
        assert_eq!(obj.bool("b").expect_err("wrong type").field, "req.b");
        assert!(obj.number("n").is_err());
        assert!(obj.count("c").is_err());
        assert!(obj.array("a").is_err());
        assert!(obj.object_at("o", "req.o").is_err());
        assert_eq!(obj.str("ok"), Ok(None), "null is absent");
        assert_eq!(obj.str("missing"), Ok(None));
        assert_eq!(obj.required_str("missing").expect_err("missing").to_string(), "req.missing: is required");
    }

    #[test]
    fn counts_accept_whole_floats() {
        let value = json!({"a": 1024, "b": 1024.0, "c": 1.5});
        let obj = object(&value, "").expect("object");
        assert_eq!(obj.count("a"), Ok(Some(1024)));
        assert_eq!(obj.count("b"), Ok(Some(1024)));
        assert!(obj.count("c").is_err());
    }

    #[test]
    fn bodies_must_be_json_objects() {
        assert!(parse_body(b"[]").is_err());
        assert!(parse_body(b"{").is_err());
        assert!(parse_body(b"").is_err());
        assert!(parse_body(br#"{"a":1}"#).is_ok());
    }
}
