//! `compat::replace_model`: never panics; on a JSON object whose top-level `model` is a string, the output parses,
//! holds the new model, and every other member is unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use one_balance::compat::replace_model;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let new_model = "gemini-2.5-flash \"quoted\" \u{1F600}";
    let out = replace_model(data, new_model);
    let Ok(Value::Object(mut before)) = serde_json::from_slice::<Value>(data) else { return };
    let Some(Value::String(_)) = before.get("model") else { return };
    // serde_json keeps the last of duplicated members; the splice rewrites the first. Skip duplicates.
    let raw_members = String::from_utf8_lossy(data).matches("\"model\"").count();
    let Some(out) = out else {
        // Only an escaped spelling of "model" (e.g. "mod\u0065l") or a duplicate can hide it from the splice.
        let text = String::from_utf8_lossy(data);
        assert!(raw_members != 1 || text.contains('\\'), "model not found in {text:?}");
        return;
    };
    let Ok(Value::Object(mut after)) = serde_json::from_slice::<Value>(&out) else {
        panic!("output does not parse: {:?}", String::from_utf8_lossy(&out));
    };
    if raw_members == 1 {
        assert_eq!(after.get("model").and_then(Value::as_str), Some(new_model));
        before.remove("model");
        after.remove("model");
        assert_eq!(before, after);
    }
});
