//! Binding values to D1 statements, the same way in every wing: numbers as JS numbers (exact to 2^53; D1's own
//! integer binding is 32-bit, too small for unix milliseconds) and text as JS strings; and D1's own clock, which
//! every write to a key row stamps `updated_at` with (the change feed, `crate::pool::read_feed`, relies on it).

use wasm_bindgen::JsValue;

/// A number bound as a JS number.
pub fn num(value: u64) -> JsValue {
    JsValue::from_f64(value as f64)
}

/// Text bound as a JS string.
pub fn text(value: &str) -> JsValue {
    JsValue::from_str(value)
}

/// D1's clock in unix seconds, as SQL: every write to a key row sets `updated_at` to it.
pub const DB_NOW: &str = "CAST(strftime('%s', 'now') AS INTEGER)";

/// The latest `end_at` of a `model_coolings` document (`doc`, a SQL expression that is a JSON object), as SQL: what
/// the `cooling_until` column holds.
pub fn cooling_until_of(doc: &str) -> String {
    format!(
        "COALESCE((SELECT max(CAST(json_extract(c.value, '$.end_at') AS INTEGER)) FROM json_each({doc}) AS c WHERE c.type = 'object'), 0)"
    )
}
