//! Model extraction: a path, NUL, a body. Never panics; a model it finds is never empty.
#![no_main]
use libfuzzer_sys::fuzz_target;
use one_balance::request_model::{check_model, is_models_listing, model_in_body, model_in_path, model_of, split_compat_model};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let rest = String::from_utf8_lossy(&data[..split]);
    let body = data.get(split + 1..).unwrap_or_default();
    if let Ok(Some(model)) = model_of(&rest, body) {
        assert!(!model.is_empty());
        let _ = check_model(&model);
    }
    if let Some(model) = model_in_body(body) {
        assert!(!model.trim().is_empty());
        let _ = split_compat_model(&model);
    }
    if let Some(model) = model_in_path(&rest) {
        assert!(!model.is_empty() && !model.contains('/') && !model.contains(':'));
    }
    let _ = is_models_listing("GET", &rest);
    let _ = split_compat_model(&rest);
});
