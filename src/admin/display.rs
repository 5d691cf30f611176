//! How numbers of seconds and timestamps read on the page: compact durations ("3m 05s", "2d 4h"; "3分05秒" in
//! Chinese), relative times ("5m ago") and UTC dates. Time is passed in; nothing here reads a clock.

use super::i18n::{fill, Text};
use super::rows::COUNT_CAP;
use chrono::DateTime;

/// A duration in the two largest units that apply: `45s`, `3m 05s`, `4h 10m`, `2d 4h`.
pub fn duration(seconds: u64, t: &Text) -> String {
    let (d, h, m, s) = (seconds / 86_400, seconds / 3_600 % 24, seconds / 60 % 60, seconds % 60);
    let gap = t.unit_gap;
    let (u_s, u_m, u_h, u_d) = (t.unit_s, t.unit_m, t.unit_h, t.unit_d);
    if d > 0 {
        format!("{d}{u_d}{gap}{h}{u_h}")
    } else if h > 0 {
        format!("{h}{u_h}{gap}{m:02}{u_m}")
    } else if m > 0 {
        format!("{m}{u_m}{gap}{s:02}{u_s}")
    } else {
        format!("{s}{u_s}")
    }
}

/// How long ago `then_s` was, e.g. `5m 02s ago`.
pub fn ago(then_s: u64, now_s: u64, t: &Text) -> String {
    fill(t.ago, &[("time", &duration(now_s.saturating_sub(then_s), t))])
}

/// A key count: as it is, or `10,000+` past [`COUNT_CAP`] (counts stop there, see [`crate::admin::rows`]).
pub fn count(n: u64) -> String {
    if n > COUNT_CAP {
        format!("{}+", thousands(COUNT_CAP))
    } else {
        n.to_string()
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `2025-11-26 07:34 UTC`.
pub fn date(unix_s: u64) -> String {
    i64::try_from(unix_s)
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .map_or_else(|| unix_s.to_string(), |dt| dt.format("%Y-%m-%d %H:%M UTC").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::i18n::Lang;

    #[test]
    fn counts_past_the_cap_read_as_more_than_it() {
        assert_eq!(count(0), "0");
        assert_eq!(count(COUNT_CAP), "10000");
        assert_eq!(count(COUNT_CAP + 1), "10,000+");
        assert_eq!(count(COUNT_CAP * 3 + 3), "10,000+", "a total of capped counts is capped too");
    }

    #[test]
    fn durations_use_the_two_largest_units() {
        let en = Lang::En.text();
        assert_eq!(duration(0, en), "0s");
        assert_eq!(duration(45, en), "45s");
        assert_eq!(duration(65, en), "1m 05s");
        assert_eq!(duration(3_600, en), "1h 00m");
        assert_eq!(duration(86_399, en), "23h 59m");
        assert_eq!(duration(2 * 86_400 + 4 * 3_600 + 59, en), "2d 4h");
    }

    #[test]
    fn chinese_durations_have_chinese_units_and_no_spaces() {
        let zh = Lang::Zh.text();
        assert_eq!(duration(65, zh), "1分05秒");
        assert_eq!(duration(90_000, zh), "1天1小时");
        assert_eq!(ago(100, 130, zh), "30秒前");
    }

    #[test]
    fn relative_times_never_go_negative() {
        assert_eq!(ago(200, 100, Lang::En.text()), "0s ago");
    }

    #[test]
    fn dates_are_utc_minutes() {
        assert_eq!(date(1_764_142_440), "2025-11-26 07:34 UTC");
        assert_eq!(date(u64::MAX), u64::MAX.to_string());
    }
}
