//! Route table: a method, NUL, a path. Never panics; a native route never carries a dot segment or encoded slash.
#![no_main]
use libfuzzer_sys::fuzz_target;
use one_balance::routes::{route, ApiRoute, Route};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (method, path) = text.split_once('\0').unwrap_or(("GET", &text));
    if let Route::Api(ApiRoute::Native { provider, rest }) = route(method, path) {
        assert!(!provider.is_empty());
        let lower = rest.to_ascii_lowercase();
        assert!(!lower.contains("%2f") && !lower.contains("%5c") && !rest.contains('\\'));
        for segment in lower.split('/') {
            let decoded = segment.replace("%2e", ".");
            assert!(decoded != "." && decoded != "..", "{path}");
        }
    }
});
