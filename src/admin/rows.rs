//! What the admin store reads, as plain data: per-provider counts, a key with its cooldowns, usage figures and
//! scheduled re-check state, the isolate's pool-wide throttle figures, and their JSON form for the admin API. Keys
//! travel as [`Secret`], so a record printed or serialised shows a mask.

use crate::cooldown::ModelCooling;
use crate::pool::Secret;
use crate::providers::PROVIDERS;
use crate::recheck::Absence;
use crate::attempt::AffinityFigures;
use crate::breaker::{Figures, BreakerConfig};
use serde_json::{json, Value};

use super::listing::Tab;

/// Counts stop at this many keys per tab (a count reads one index entry per key it counts), so an overview reads a
/// bounded number of rows however large a pool is; a count past it is shown as "10,000+".
pub const COUNT_CAP: u64 = 10_000;

/// Key counts of one provider (tabs are disjoint; see [`Tab`]); a tab counted past [`COUNT_CAP`] holds
/// `COUNT_CAP + 1`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Active and not cooling.
    pub active: u64,
    /// Active and cooling for some model.
    pub cooling: u64,
    /// Blocked.
    pub blocked: u64,
}

impl Counts {
    /// The count of one tab.
    pub fn of(&self, tab: Tab) -> u64 {
        match tab {
            Tab::Active => self.active,
            Tab::Cooling => self.cooling,
            Tab::Blocked => self.blocked,
        }
    }

    /// Every key.
    pub fn total(&self) -> u64 {
        self.active + self.cooling + self.blocked
    }

    /// `{"active":…,"cooling":…,"blocked":…}`.
    pub fn to_json(&self) -> Value {
        json!({ "active": self.active, "cooling": self.cooling, "blocked": self.blocked })
    }
}

/// One line of the providers overview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderLine {
    /// The provider slug.
    pub provider: String,
    /// Whether this Worker serves it (it is in the provider table).
    pub known: bool,
    /// Its keys.
    pub counts: Counts,
}

/// The overview: every poolable provider of the table (with zero counts when it has no keys), then every other
/// slug D1 holds keys for, alphabetically.
pub fn overview(stored: Vec<(String, Counts)>) -> Vec<ProviderLine> {
    let mut lines: Vec<ProviderLine> = PROVIDERS
        .iter()
        .filter(|p| p.poolable || stored.iter().any(|(slug, _)| slug == p.slug))
        .map(|p| ProviderLine { provider: p.slug.to_string(), known: true, counts: Counts::default() })
        .collect();
    for (slug, counts) in stored {
        match lines.iter_mut().find(|line| line.provider == slug) {
            Some(line) => line.counts = counts,
            None => lines.push(ProviderLine { provider: slug, known: false, counts }),
        }
    }
    lines.sort_by(|a, b| b.known.cmp(&a.known).then_with(|| a.provider.cmp(&b.provider)));
    lines
}

/// A key's request figures, as flushed from the isolates' tallies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageFigures {
    /// Attempts made with the key.
    pub requests: u64,
    /// 2xx answers.
    pub successes: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// Every other failure (other statuses, time-outs, network errors).
    pub errors: u64,
    /// Unix seconds of the last attempt.
    pub last_used_at_s: Option<u64>,
    /// The last failure: verdict label and status, e.g. `invalid_key 401`.
    pub last_error: Option<String>,
    /// Unix seconds of the last failure.
    pub last_error_at_s: Option<u64>,
}

/// A key's scheduled re-check, as stored (columns of migrations/0003_key_checks.sql).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckState {
    /// Unix seconds of the last probe (`None`: never checked).
    pub last_checked_at_s: Option<u64>,
    /// What the last probe found: `ok`, `invalid_key`, `exhausted`, `inconclusive: …`, `no probe for this provider`.
    pub last_result: Option<String>,
    /// When the next scheduled check is due (`None` on a key out of the pool: due at the next run).
    pub check_after_s: Option<u64>,
    /// Failed checks in a row.
    pub failures: u64,
}

impl CheckState {
    /// When the next scheduled check of a key out of the pool is due: `None` means at the next run.
    pub fn due_in(&self, now_s: u64) -> Option<u64> {
        self.check_after_s.filter(|at| *at > now_s).map(|at| at - now_s)
    }
}

/// One key as the admin site shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Row id (uuid).
    pub id: String,
    /// The key.
    pub secret: Secret,
    /// `active` or `blocked`.
    pub status: String,
    /// The operator's note.
    pub remark: Option<String>,
    /// Unix seconds when added.
    pub created_at_s: u64,
    /// Seconds the key has cooled over its life, all models.
    pub total_cooling_s: u64,
    /// Per-model state from `model_coolings`.
    pub coolings: Vec<(String, ModelCooling)>,
    /// Request figures.
    pub usage: UsageFigures,
    /// The scheduled re-check.
    pub check: CheckState,
}

impl KeyRecord {
    /// The models the key is cooling for at `now_s`, soonest end first.
    pub fn cooling_now(&self, now_s: u64) -> Vec<(&str, ModelCooling)> {
        let mut cooling: Vec<(&str, ModelCooling)> =
            self.coolings.iter().filter(|(_, c)| c.end_at_s > now_s).map(|(m, c)| (m.as_str(), *c)).collect();
        cooling.sort_by(|a, b| a.1.end_at_s.cmp(&b.1.end_at_s).then_with(|| a.0.cmp(b.0)));
        cooling
    }

    /// Whether the key is out of the pool at `now_s` (blocked, or exhausted: cooling for every model), so the
    /// scheduled re-check looks at it.
    pub fn out_of_pool(&self, now_s: u64) -> bool {
        Absence::of(&self.status, &self.coolings, now_s) != Absence::InPool
    }

    /// The admin API's JSON for the key, masked (`with_key` adds the key itself).
    pub fn to_json(&self, now_s: u64, with_key: bool) -> Value {
        let cooling: Vec<Value> = self
            .cooling_now(now_s)
            .into_iter()
            .map(|(model, c)| {
                json!({ "model": model, "end_at": c.end_at_s, "seconds_left": c.end_at_s - now_s, "total_seconds": c.total_seconds })
            })
            .collect();
        let (u, c) = (&self.usage, &self.check);
        let mut value = json!({
            "id": self.id,
            "key_masked": self.secret.masked(),
            "status": self.status,
            "cooling": cooling,
            "remark": self.remark,
            "created_at": self.created_at_s,
            "total_cooling_seconds": self.total_cooling_s,
            "usage": {
                "requests": u.requests, "successes": u.successes, "rate_limited": u.rate_limited, "errors": u.errors,
                "last_used_at": u.last_used_at_s, "last_error": u.last_error, "last_error_at": u.last_error_at_s,
            },
            "check": {
                "last_checked_at": c.last_checked_at_s, "last_result": c.last_result, "failures": c.failures,
                "next_check_at": if self.out_of_pool(now_s) { Some(c.check_after_s.unwrap_or(now_s).max(now_s)) } else { None },
            },
        });
        if with_key {
            value["key"] = Value::String(self.secret.expose().to_string());
        }
        value
    }
}

/// The thresholds in the admin API's JSON.
pub fn thresholds_json(config: &BreakerConfig) -> Value {
    json!({ "min_keys": config.min_keys, "percent": config.percent, "window_s": config.window_s, "pause_s": config.pause_s })
}

/// The isolate's session figures in the admin API's JSON.
pub fn affinity_json(figures: &AffinityFigures) -> Value {
    let (with_session_percent, held_percent) = figures.shares();
    json!({
        "requests": figures.requests, "with_session": figures.with_session, "held": figures.held, "moved": figures.moved,
        "with_session_percent": with_session_percent, "held_percent": held_percent,
    })
}

/// The isolate's throttle figures in the admin API's JSON (`paused_until`: `null` when not paused).
pub fn throttle_json(figures: &[Figures], now_s: u64) -> Value {
    let rows: Vec<Value> = figures
        .iter()
        .map(|f| {
            let paused = f.paused_until_s > now_s;
            json!({
                "provider": f.provider, "model": f.model, "keys_tried": f.keys_tried, "keys_succeeded": f.keys_succeeded,
                "keys_rate_limited": f.keys_rate_limited, "keys_rate_limited_bare": f.keys_rate_limited_bare,
                "usable_keys": f.usable_keys,
                "paused_until": paused.then_some(f.paused_until_s),
                "seconds_left": if paused { f.paused_until_s - now_s } else { 0 },
                "pauses_total": f.pauses_total,
            })
        })
        .collect();
    Value::Array(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(coolings: &[(&str, u64)]) -> KeyRecord {
        KeyRecord {
            id: "id-1".to_string(),
            secret: Secret::new("AIzaSyABCDEFGHIJKLMNOPx9Qk".to_string()),
            status: "active".to_string(),
            remark: None,
            created_at_s: 1,
            total_cooling_s: 0,
            coolings: coolings.iter().map(|(m, end)| (m.to_string(), ModelCooling { end_at_s: *end, ..Default::default() })).collect(),
            usage: UsageFigures::default(),
            check: CheckState::default(),
        }
    }

    #[test]
    fn the_overview_lists_known_providers_first_then_stored_slugs() {
        let lines = overview(vec![
            ("zeta-custom".to_string(), Counts { active: 1, ..Default::default() }),
            ("openai".to_string(), Counts { active: 2, cooling: 1, blocked: 3 }),
        ]);
        let openai = lines.iter().find(|l| l.provider == "openai").expect("listed");
        assert_eq!((openai.known, openai.counts.total()), (true, 6));
        assert!(lines.iter().any(|l| l.provider == "google-ai-studio" && l.counts == Counts::default()));
        assert!(!lines.iter().any(|l| l.provider == "aws-bedrock"), "unpoolable and empty: left out");
        let last = lines.last().expect("non-empty");
        assert_eq!((last.provider.as_str(), last.known), ("zeta-custom", false));
    }

    #[test]
    fn only_cooldowns_still_running_are_shown_soonest_first() {
        let key = record(&[("b", 500), ("a", 300), ("old", 50)]);
        let names: Vec<&str> = key.cooling_now(100).into_iter().map(|(m, _)| m).collect();
        assert_eq!(names, vec!["a", "b"]);
        assert!(key.cooling_now(600).is_empty());
    }

    #[test]
    fn json_shows_a_mask_unless_the_key_is_asked_for() {
        let key = record(&[("m", 160)]);
        let masked = key.to_json(100, false);
        assert_eq!(masked["key_masked"], "AIza…x9Qk");
        assert_eq!(masked["cooling"][0]["seconds_left"], 60);
        assert!(masked.get("key").is_none());
        assert!(!masked.to_string().contains("ABCDEFGH"));
        assert_eq!(key.to_json(100, true)["key"], "AIzaSyABCDEFGHIJKLMNOPx9Qk");
    }

    #[test]
    fn json_carries_the_recheck_and_a_next_check_only_for_keys_out_of_the_pool() {
        let mut key = record(&[("*", 500)]);
        key.check = CheckState {
            last_checked_at_s: Some(90),
            last_result: Some("inconclusive: timeout".to_string()),
            check_after_s: Some(3_700),
            failures: 2,
        };
        let check = &key.to_json(100, false)["check"];
        assert_eq!(check["last_checked_at"], 90);
        assert_eq!(check["last_result"], "inconclusive: timeout");
        assert_eq!((check["next_check_at"].as_u64(), check["failures"].as_u64()), (Some(3_700), Some(2)));
        assert_eq!(key.check.due_in(100), Some(3_600));
        assert!(key.out_of_pool(100) && !key.out_of_pool(500), "exhausted until the all-models cooldown ends");

        key.check.check_after_s = None;
        assert_eq!(key.to_json(100, false)["check"]["next_check_at"], 100, "never scheduled: due now");
        assert_eq!(key.check.due_in(100), None);
        assert!(key.to_json(600, false)["check"]["next_check_at"].is_null(), "back in the pool: no check planned");
        key.status = "blocked".to_string();
        assert_eq!(key.to_json(600, false)["check"]["next_check_at"], 600);
    }

    #[test]
    fn throttle_figures_show_time_left_only_while_paused() {
        let figures = vec![
            Figures {
                provider: "google-ai-studio".into(),
                model: "gemini-2.5-flash".into(),
                keys_tried: 3,
                keys_succeeded: 0,
                keys_rate_limited: 2,
                keys_rate_limited_bare: 2,
                usable_keys: Some(1),
                paused_until_s: 130,
                pauses_total: 1,
            },
            Figures {
                provider: "openai".into(),
                model: String::new(),
                keys_tried: 1,
                keys_succeeded: 1,
                keys_rate_limited: 0,
                keys_rate_limited_bare: 0,
                usable_keys: None,
                paused_until_s: 0,
                pauses_total: 0,
            },
        ];
        let json = throttle_json(&figures, 100);
        assert_eq!(json[0]["paused_until"], 130);
        assert_eq!(json[0]["seconds_left"], 30);
        assert_eq!((json[0]["keys_tried"].as_u64(), json[0]["keys_rate_limited"].as_u64()), (Some(3), Some(2)));
        assert_eq!((json[0]["keys_rate_limited_bare"].as_u64(), json[0]["usable_keys"].as_u64()), (Some(2), Some(1)));
        assert_eq!(json[1]["keys_succeeded"], 1);
        assert!(json[1]["usable_keys"].is_null(), "never counted");
        assert!(json[1]["paused_until"].is_null());
        assert_eq!(json[1]["model"], "");
        assert_eq!(thresholds_json(&BreakerConfig::default())["min_keys"], 5);
    }
}
