//! Parsers for the wait hints providers send with a rate limit: `Retry-After`, OpenAI-style reset durations,
//! Anthropic's RFC 3339 reset times, OpenRouter's epoch-millisecond reset, Cerebras' decimal seconds, and Gemini's
//! `retryDelay`.
//!
//! [`CoolHint`] is what a classified answer says about waiting, with the buffers below already added. Pure parsing,
//! no classification: every function returns `None` for anything it cannot read (never zero, never a
//! negative or overflowing value), and callers bound the result with [`crate::cooldown::hint_until_s`].

use chrono::DateTime;

/// Added to Gemini's `RetryInfo.retryDelay`, which is often a little short.
pub const RETRY_INFO_BUFFER_S: u64 = 2;
/// Added to OpenRouter's `X-RateLimit-Reset`.
pub const OPENROUTER_RESET_BUFFER_S: u64 = 5;

/// How long an upstream said to wait, as the verdict read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoolHint {
    /// Wait this many seconds from now (buffers already added).
    Seconds(u64),
    /// Wait until this unix second (buffers already added).
    UntilS(u64),
    /// Wait until the provider's daily quota resets (a per-day quota is spent).
    DailyReset,
    /// No usable hint.
    None,
}

/// Seconds in a Gemini `RetryInfo.retryDelay` such as `"37s"` or `"0.52s"`, rounded up.
pub fn retry_delay_s(value: &str) -> Option<u64> {
    let number = value.trim().strip_suffix('s')?;
    seconds_from_decimal(number)
}

/// A reset given as decimal seconds from now (Cerebras' `x-ratelimit-reset-*-day: "33011.382867"`), rounded up.
pub fn decimal_seconds(value: &str) -> Option<u64> {
    seconds_from_decimal(value.trim())
}

/// A non-negative decimal number of seconds (`"12"`, `"2.5"`), rounded up; `None` for anything else.
fn seconds_from_decimal(text: &str) -> Option<u64> {
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    if whole.is_empty() && fraction.is_none_or(str::is_empty) {
        return None;
    }
    let whole_s: u64 = if whole.is_empty() { 0 } else { digits(whole)? };
    let round_up = match fraction {
        Some(f) => {
            digits(f.get(..f.len().min(18))?)?;
            f.bytes().any(|b| b != b'0')
        }
        None => false,
    };
    Some(whole_s.saturating_add(u64::from(round_up)))
}

fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse::<u64>().unwrap_or(u64::MAX))
}

/// When a `Retry-After` value (delay seconds or an HTTP date) ends, as unix seconds.
pub fn retry_after_until_s(value: &str, now_s: u64) -> Option<u64> {
    let value = value.trim();
    if let Some(seconds) = seconds_from_decimal(value) {
        return Some(now_s.saturating_add(seconds));
    }
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    u64::try_from(date.timestamp()).ok()
}

/// Seconds in an OpenAI-style duration: `"20s"`, `"6m0s"`, `"1h2m3.5s"`, `"150ms"`, rounded up.
pub fn go_duration_s(value: &str) -> Option<u64> {
    let mut rest = value.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total_ms: u64 = 0;
    while !rest.is_empty() {
        let number_len = rest.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
        let (number, tail) = rest.split_at(number_len);
        let unit_len = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(unit_len);
        let unit_ms: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return None,
        };
        total_ms = total_ms.saturating_add(decimal_times(number, unit_ms)?);
        rest = tail;
    }
    Some(total_ms.div_ceil(1_000))
}

/// `number × unit`, for a decimal number, rounded up.
fn decimal_times(number: &str, unit: u64) -> Option<u64> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let whole_part = if whole.is_empty() { 0 } else { digits(whole)? }.saturating_mul(unit);
    if fraction.is_empty() {
        return Some(whole_part);
    }
    let fraction = &fraction[..fraction.len().min(9)];
    let scale = 10u64.pow(u32::try_from(fraction.len()).ok()?);
    let fraction_part = digits(fraction)?.saturating_mul(unit).div_ceil(scale);
    Some(whole_part.saturating_add(fraction_part))
}

/// When an RFC 3339 time (Anthropic's `anthropic-ratelimit-*-reset`) is, as unix seconds.
pub fn rfc3339_s(value: &str) -> Option<u64> {
    let time = DateTime::parse_from_rfc3339(value.trim()).ok()?;
    u64::try_from(time.timestamp()).ok()
}

/// When an `X-RateLimit-Reset` value ends, as unix seconds. OpenRouter sends epoch milliseconds; other providers
/// send epoch seconds or a delay in seconds, told apart by magnitude.
pub fn ratelimit_reset_until_s(value: &str, now_s: u64) -> Option<u64> {
    let number = digits(value.trim())?;
    Some(if number >= 100_000_000_000 {
        number / 1_000
    } else if number >= 1_000_000_000 {
        number
    } else {
        now_s.saturating_add(number)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemini_retry_delays_round_up_and_refuse_junk() {
        assert_eq!(retry_delay_s("37s"), Some(37));
        assert_eq!(retry_delay_s("37.520369288s"), Some(38));
        assert_eq!(retry_delay_s("0.5s"), Some(1));
        assert_eq!(retry_delay_s("0s"), Some(0));
        for junk in ["", "s", "37", "-5s", "NaNs", "1e9s", "abc", "3.s.s", ".s"] {
            assert_eq!(retry_delay_s(junk), None, "{junk:?}");
        }
        assert_eq!(retry_delay_s("99999999999999999999999s"), Some(u64::MAX));
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        assert_eq!(retry_after_until_s("30", 1_000), Some(1_030));
        assert_eq!(retry_after_until_s(" 2.5 ", 1_000), Some(1_003));
        assert_eq!(retry_after_until_s("Wed, 21 Oct 2015 07:28:00 GMT", 0), Some(1_445_412_480));
        assert_eq!(retry_after_until_s("soon", 0), None);
        assert_eq!(retry_after_until_s("-1", 0), None);
    }

    #[test]
    fn openai_durations_add_up_their_parts() {
        assert_eq!(go_duration_s("20s"), Some(20));
        assert_eq!(go_duration_s("6m0s"), Some(360));
        assert_eq!(go_duration_s("1h2m3.5s"), Some(3_724));
        assert_eq!(go_duration_s("150ms"), Some(1));
        assert_eq!(go_duration_s("0s"), Some(0));
        for junk in ["", "20", "5x", "m", "1h-2m", "s20"] {
            assert_eq!(go_duration_s(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn anthropic_resets_are_rfc3339() {
        assert_eq!(rfc3339_s("2026-11-26T10:00:30Z"), Some(1_795_687_230));
        assert_eq!(rfc3339_s("yesterday"), None);
    }

    #[test]
    fn decimal_second_resets_round_up_and_refuse_junk() {
        assert_eq!(decimal_seconds("33011.382867"), Some(33_012));
        assert_eq!(decimal_seconds(" 60 "), Some(60));
        assert_eq!(decimal_seconds("0.0"), Some(0));
        for junk in ["", "-1", "1e3", "soon", "1.2.3"] {
            assert_eq!(decimal_seconds(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn ratelimit_reset_is_told_apart_by_magnitude() {
        assert_eq!(ratelimit_reset_until_s("1764633600000", 0), Some(1_764_633_600));
        assert_eq!(ratelimit_reset_until_s("1764633600", 0), Some(1_764_633_600));
        assert_eq!(ratelimit_reset_until_s("42", 1_000), Some(1_042));
        assert_eq!(ratelimit_reset_until_s("4.2", 1_000), None);
    }
}
