//! The login limit's arithmetic: after [`MAX_FAILURES`] failed logins from one client within [`WINDOW_S`], the
//! next attempt is answered 429 with `Retry-After` until the window ends, without looking at the key it carries.
//!
//! The window is fixed: it opens at a client's first failure and lasts [`WINDOW_S`]; a failure after it closed
//! opens a new one. The count lives in D1 (so it holds across isolates) and is incremented there in one atomic
//! statement that applies the same rule (see `edge::admin::store`); this module decides from what D1 holds.

/// Failed logins allowed per client and window; the next attempt is refused.
pub const MAX_FAILURES: u32 = 5;
/// Length of a throttle window in seconds.
pub const WINDOW_S: u64 = 15 * 60;

/// A client's failures as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    /// Failed logins in the current window.
    pub count: u32,
    /// Unix seconds when the window opened.
    pub window_start_s: u64,
}

/// Whether a login attempt may be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Check the key.
    Open,
    /// Refuse with 429 for this many seconds.
    Closed {
        /// Seconds until the window ends (at least 1).
        retry_after_s: u64,
    },
}

/// The gate for a client with `failures` (none stored: open).
pub fn gate(failures: Option<Failures>, now_s: u64) -> Gate {
    match failures {
        Some(f) if f.count >= MAX_FAILURES && now_s < f.window_start_s.saturating_add(WINDOW_S) => {
            Gate::Closed { retry_after_s: (f.window_start_s + WINDOW_S - now_s).max(1) }
        }
        _ => Gate::Open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_764_000_000;

    #[test]
    fn five_failures_are_answered_normally_and_the_sixth_attempt_is_throttled() {
        assert_eq!(gate(None, NOW), Gate::Open);
        for count in 1..MAX_FAILURES {
            assert_eq!(gate(Some(Failures { count, window_start_s: NOW }), NOW + 10), Gate::Open, "{count}");
        }
        assert_eq!(
            gate(Some(Failures { count: MAX_FAILURES, window_start_s: NOW }), NOW + 100),
            Gate::Closed { retry_after_s: WINDOW_S - 100 }
        );
    }

    #[test]
    fn the_gate_opens_when_the_window_ends() {
        let failures = Some(Failures { count: 40, window_start_s: NOW });
        assert_eq!(gate(failures, NOW + WINDOW_S - 1), Gate::Closed { retry_after_s: 1 });
        assert_eq!(gate(failures, NOW + WINDOW_S), Gate::Open);
    }

    #[test]
    fn a_window_stamped_by_a_clock_ahead_of_ours_lasts_until_its_own_end() {
        let failures = Some(Failures { count: MAX_FAILURES, window_start_s: NOW + 60 });
        assert_eq!(gate(failures, NOW), Gate::Closed { retry_after_s: WINDOW_S + 60 });
    }
}
