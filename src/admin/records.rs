//! What the admin store reads, as plain data: per-provider counts, a key with its cooldowns and usage figures, and
//! their JSON form for the admin API. Keys travel as [`Secret`], so a record printed or serialised shows a mask.

use crate::cooldown::ModelCooling;
use crate::pool::Secret;
use crate::providers::PROVIDERS;
use serde_json::{json, Value};

use super::listing::Tab;

/// Key counts of one provider (tabs are disjoint; see [`Tab`]).
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
}

impl KeyRecord {
    /// The models the key is cooling for at `now_s`, soonest end first.
    pub fn cooling_now(&self, now_s: u64) -> Vec<(&str, ModelCooling)> {
        let mut cooling: Vec<(&str, ModelCooling)> =
            self.coolings.iter().filter(|(_, c)| c.end_at_s > now_s).map(|(m, c)| (m.as_str(), *c)).collect();
        cooling.sort_by(|a, b| a.1.end_at_s.cmp(&b.1.end_at_s).then_with(|| a.0.cmp(b.0)));
        cooling
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
        let u = &self.usage;
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
        });
        if with_key {
            value["key"] = Value::String(self.secret.expose().to_string());
        }
        value
    }
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
}
