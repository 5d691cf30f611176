//! The scheduled re-check of keys that are out of the pool: blocked keys (found invalid) and exhausted keys (spend
//! or credit ran out). Pure: which probe to send, what its answer means, and when to look again.
//!
//! A blocked key is probed with the provider's models listing, which proves the key is accepted; an exhausted key
//! needs a one-token generation, because a listing works even with no credit left. The generation never uses a model
//! the key is cooling for. A key that passes goes back into the pool; one that fails is looked at again after a
//! back-off of 1 h, 2 h, 4 h … capped at a day. Nothing is ever deleted.

use crate::cooldown::{is_cooling, ModelCooling, ALL_MODELS};
use crate::providers::{KeyPlacement, Provider};
use crate::verdict::Verdict;

/// The first re-check comes this long after a key leaves the pool.
pub const FIRST_CHECK_AFTER_S: u64 = 3_600;
/// Back-off never grows past this.
pub const MAX_CHECK_INTERVAL_S: u64 = 86_400;
/// Keys probed per scheduled run (each probe is one subrequest).
pub const PROBES_PER_RUN: u32 = 10;

/// Why a key is out of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absence {
    /// `status = 'blocked'`.
    Blocked,
    /// Active, but its all-models entry cools it for spend or credit.
    Exhausted,
}

/// One probe request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// HTTP method.
    pub method: &'static str,
    /// Path after the provider slug.
    pub rest: &'static str,
    /// JSON body, for a generation.
    pub body: Option<String>,
    /// Where the key goes.
    pub key_placement: KeyPlacement,
}

/// The cheapest probe that can prove `absence` is over, or `None` when the provider offers none.
pub fn probe_for(provider: &Provider, absence: Absence, coolings: &[(String, ModelCooling)], now_s: u64) -> Option<Probe> {
    let listing = provider.models_path.map(|rest| Probe {
        method: "GET",
        rest,
        body: None,
        key_placement: provider.key_placement_for(rest),
    });
    let generation = || {
        let rest = provider.chat_path?;
        let model = provider.probe_models.iter().find(|model| {
            !coolings.iter().any(|(name, state)| name == **model && name != ALL_MODELS && is_cooling(state, now_s))
        })?;
        let body = serde_json::json!({
            "model": model,
            "messages": [{"role": "user", "content": "ping"}],
            "max_tokens": 1,
        });
        Some(Probe { method: "POST", rest, body: Some(body.to_string()), key_placement: KeyPlacement::Bearer })
    };
    match absence {
        Absence::Blocked => listing.or_else(generation),
        Absence::Exhausted => generation(),
    }
}

/// What a probe's answer means for the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// The key works: back into the pool.
    Restore,
    /// Still out; look again after a longer back-off.
    StillOut(&'static str),
    /// The probe proved nothing (gateway, network, server trouble): look again after the same interval.
    Inconclusive(&'static str),
}

/// Reads a probe's verdict. A key-scoped rate limit proves the key is accepted and has quota coming.
pub fn judge(verdict: Verdict) -> Finding {
    match verdict {
        Verdict::Success | Verdict::RateLimited(_) => Finding::Restore,
        Verdict::InvalidKey => Finding::StillOut("invalid_key"),
        Verdict::Exhausted => Finding::StillOut("exhausted"),
        Verdict::NotKeyFault | Verdict::Transient | Verdict::Timeout | Verdict::ClientError => {
            Finding::Inconclusive(verdict.label())
        }
    }
}

/// When to look again after a failed check, given how many checks had already failed in a row before it: 1 h after
/// the first failure, 2 h after the second, 4 h … at most a day.
pub fn next_check_s(failures_before: u32, now_s: u64) -> u64 {
    let interval = FIRST_CHECK_AFTER_S.saturating_mul(1u64 << failures_before.min(16)).min(MAX_CHECK_INTERVAL_S);
    now_s.saturating_add(interval)
}

/// When to look again after a probe that proved nothing, for a key with `failures` failed checks in a row: the same
/// wait its last failure got (an hour when none), so an inconclusive probe neither counts nor resets the back-off.
pub fn recheck_inconclusive_s(failures: u32, now_s: u64) -> u64 {
    next_check_s(failures.saturating_sub(1), now_s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cooldown::CoolHint;
    use crate::providers::find;

    fn cooling(model: &str, end: u64) -> (String, ModelCooling) {
        (model.to_string(), ModelCooling { end_at_s: end, ..Default::default() })
    }

    #[test]
    fn a_blocked_key_is_probed_with_the_models_listing() {
        let gemini = find("google-ai-studio").expect("listed");
        let probe = probe_for(gemini, Absence::Blocked, &[], 0).expect("has a listing");
        assert_eq!((probe.method, probe.rest, probe.body), ("GET", "v1beta/models", None));
        assert_eq!(probe.key_placement, KeyPlacement::Header("x-goog-api-key"));
    }

    #[test]
    fn an_exhausted_key_is_probed_with_a_one_token_generation() {
        let openai = find("openai").expect("listed");
        let probe = probe_for(openai, Absence::Exhausted, &[cooling("*", 9_999)], 100).expect("has a chat path");
        assert_eq!((probe.method, probe.rest), ("POST", "chat/completions"));
        let body: serde_json::Value = serde_json::from_str(probe.body.as_deref().expect("a body")).expect("json");
        assert_eq!(body["model"], "gpt-4o-mini");
        assert_eq!(body["max_tokens"], 1);
    }

    #[test]
    fn the_probe_never_uses_a_model_the_key_is_cooling_for() {
        let gemini = find("google-ai-studio").expect("listed");
        let coolings = [cooling("gemini-2.5-flash-lite", 500)];
        let probe = probe_for(gemini, Absence::Exhausted, &coolings, 100).expect("a second model");
        assert!(probe.body.expect("body").contains(r#""gemini-2.0-flash""#));
        let all_cooling = [cooling("gemini-2.5-flash-lite", 500), cooling("gemini-2.0-flash", 500)];
        assert_eq!(probe_for(gemini, Absence::Exhausted, &all_cooling, 100), None);
        let expired = [cooling("gemini-2.5-flash-lite", 50)];
        assert!(probe_for(gemini, Absence::Exhausted, &expired, 100).expect("free again").body.expect("body").contains("flash-lite"));
    }

    #[test]
    fn providers_without_a_probe_are_left_alone() {
        assert_eq!(probe_for(find("elevenlabs").expect("listed"), Absence::Blocked, &[], 0), None);
        assert_eq!(probe_for(find("cohere").expect("listed"), Absence::Exhausted, &[], 0), None);
    }

    #[test]
    fn verdicts_map_to_findings() {
        assert_eq!(judge(Verdict::Success), Finding::Restore);
        assert_eq!(judge(Verdict::RateLimited(CoolHint::None)), Finding::Restore);
        assert_eq!(judge(Verdict::InvalidKey), Finding::StillOut("invalid_key"));
        assert_eq!(judge(Verdict::Exhausted), Finding::StillOut("exhausted"));
        assert_eq!(judge(Verdict::Timeout), Finding::Inconclusive("timeout"));
        assert_eq!(judge(Verdict::NotKeyFault), Finding::Inconclusive("not_key_fault"));
    }

    #[test]
    fn back_off_doubles_from_an_hour_to_a_day() {
        assert_eq!(next_check_s(0, 0), 3_600);
        assert_eq!(next_check_s(1, 0), 7_200);
        assert_eq!(next_check_s(4, 0), 57_600);
        assert_eq!(next_check_s(5, 0), 86_400);
        assert_eq!(next_check_s(u32::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn an_inconclusive_probe_keeps_the_current_wait() {
        assert_eq!(recheck_inconclusive_s(0, 0), 3_600);
        assert_eq!(recheck_inconclusive_s(1, 0), 3_600, "the first failure waited an hour");
        assert_eq!(recheck_inconclusive_s(2, 0), 7_200);
        assert_eq!(recheck_inconclusive_s(9, 0), 86_400);
    }
}
