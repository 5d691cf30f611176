//! The one reader of the clock. `std::time` traps on wasm32; the Workers clock is `Date.now()`, which advances
//! only across I/O (it does not move while the isolate computes).

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// Seconds since the Unix epoch.
pub fn now_s() -> u64 {
    now_ms() / 1_000
}
