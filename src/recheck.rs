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

/// Why a key is out of the pool — or that it is not (the admin page's "check now" on a working key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absence {
    /// `status = 'blocked'`.
    Blocked,
    /// Active, but its all-models entry cools it for spend or credit.
    Exhausted,
    /// Active and in the pool.
    InPool,
}

impl Absence {
    /// Reads a row's state at `now_s`.
    pub fn of(status: &str, coolings: &[(String, ModelCooling)], now_s: u64) -> Absence {
        let exhausted = coolings.iter().any(|(model, state)| model == ALL_MODELS && is_cooling(state, now_s));
        match (status, exhausted) {
            ("blocked", _) => Absence::Blocked,
            (_, true) => Absence::Exhausted,
            _ => Absence::InPool,
        }
    }
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
        Absence::Blocked | Absence::InPool => listing.or_else(generation),
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
    /// The provider offers no probe: look again only after the longest interval.
    Unprobeable,
}

impl Finding {
    /// What the admin page and API show as the check's result (`last_check_result`): `ok`, `invalid_key`,
    /// `exhausted`, `inconclusive: timeout`, `no probe for this provider`.
    pub fn result(self) -> String {
        match self {
            Finding::Restore => "ok".to_string(),
            Finding::StillOut(reason) => reason.to_string(),
            Finding::Inconclusive(reason) => format!("inconclusive: {reason}"),
            Finding::Unprobeable => "no probe for this provider".to_string(),
        }
    }
}

/// Reads a probe's verdict. A key-scoped rate limit proves the key is accepted and has quota coming. The probe is
/// the pool's own request, so a refusal that is only suspect for a client's request is the key's here.
pub fn judge(verdict: Verdict) -> Finding {
    match verdict {
        Verdict::Success | Verdict::RateLimited(_) => Finding::Restore,
        Verdict::InvalidKey | Verdict::SuspectKey => Finding::StillOut("invalid_key"),
        Verdict::Exhausted => Finding::StillOut("exhausted"),
        Verdict::ModelUnavailable | Verdict::NotKeyFault | Verdict::Transient | Verdict::Timeout | Verdict::ClientError => {
            Finding::Inconclusive(verdict.label())
        }
    }
}

/// The change a finding makes to a key's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckUpdate {
    /// The new `status`, when it changes.
    pub status: Option<&'static str>,
    /// Whether the all-models (exhaustion) entry is removed.
    pub clear_all_models: bool,
    /// The next check (`None`: no check planned, the key is in the pool).
    pub check_after_s: Option<u64>,
    /// Failed checks in a row after this one.
    pub failures: u32,
    /// What the admin page shows as the last result.
    pub result: String,
}

/// What `finding` changes for a key that was `absence` with `failures` failed checks in a row.
pub fn update_for(absence: Absence, finding: Finding, failures: u32, now_s: u64) -> CheckUpdate {
    let result = finding.result();
    let keep = |check_after_s: Option<u64>, result: String| CheckUpdate {
        status: None,
        clear_all_models: false,
        check_after_s,
        failures,
        result,
    };
    match (finding, absence) {
        (Finding::Restore, _) => CheckUpdate {
            status: (absence == Absence::Blocked).then_some("active"),
            clear_all_models: absence == Absence::Exhausted,
            check_after_s: None,
            failures: 0,
            result,
        },
        (Finding::StillOut("invalid_key"), Absence::InPool) => CheckUpdate {
            status: Some("blocked"),
            clear_all_models: false,
            check_after_s: Some(now_s.saturating_add(FIRST_CHECK_AFTER_S)),
            failures: 0,
            result,
        },
        (Finding::StillOut(_), Absence::InPool) => keep(None, result),
        (Finding::StillOut(_), _) => CheckUpdate { failures: failures.saturating_add(1), ..keep(Some(next_check_s(failures, now_s)), result) },
        (Finding::Inconclusive(_), Absence::InPool) => keep(None, result),
        (Finding::Inconclusive(_), _) => keep(Some(recheck_inconclusive_s(failures, now_s)), result),
        (Finding::Unprobeable, Absence::InPool) => keep(None, result),
        (Finding::Unprobeable, _) => keep(Some(now_s.saturating_add(MAX_CHECK_INTERVAL_S)), result),
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
    use crate::hints::CoolHint;
    use crate::verdict::{QuotaWindow, RateLimit};
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
    fn a_rows_state_is_read_from_status_and_the_all_models_entry() {
        assert_eq!(Absence::of("blocked", &[cooling("*", 500)], 100), Absence::Blocked);
        assert_eq!(Absence::of("active", &[cooling("*", 500)], 100), Absence::Exhausted);
        assert_eq!(Absence::of("active", &[cooling("*", 50), cooling("m", 500)], 100), Absence::InPool);
    }

    #[test]
    fn findings_change_the_row_as_the_absence_requires() {
        let restored = update_for(Absence::Blocked, Finding::Restore, 3, 1_000);
        assert_eq!((restored.status, restored.clear_all_models, restored.check_after_s, restored.failures), (Some("active"), false, None, 0));
        let refilled = update_for(Absence::Exhausted, Finding::Restore, 1, 1_000);
        assert_eq!((refilled.status, refilled.clear_all_models), (None, true));
        let failed = update_for(Absence::Blocked, Finding::StillOut("invalid_key"), 1, 1_000);
        assert_eq!((failed.check_after_s, failed.failures, failed.result.as_str()), (Some(1_000 + 7_200), 2, "invalid_key"));
        let unsure = update_for(Absence::Exhausted, Finding::Inconclusive("timeout"), 2, 1_000);
        assert_eq!((unsure.check_after_s, unsure.failures, unsure.result.as_str()), (Some(1_000 + 7_200), 2, "inconclusive: timeout"));
        let unprobeable = update_for(Absence::Blocked, Finding::Unprobeable, 0, 1_000);
        assert_eq!(unprobeable.check_after_s, Some(1_000 + MAX_CHECK_INTERVAL_S));
    }

    #[test]
    fn checking_a_key_in_the_pool_blocks_it_only_when_it_proves_invalid() {
        let invalid = update_for(Absence::InPool, Finding::StillOut("invalid_key"), 0, 1_000);
        assert_eq!((invalid.status, invalid.check_after_s), (Some("blocked"), Some(1_000 + FIRST_CHECK_AFTER_S)));
        let fine = update_for(Absence::InPool, Finding::Restore, 0, 1_000);
        assert_eq!((fine.status, fine.check_after_s, fine.result.as_str()), (None, None, "ok"));
        let spent = update_for(Absence::InPool, Finding::StillOut("exhausted"), 0, 1_000);
        assert_eq!((spent.status, spent.check_after_s), (None, None), "traffic will cool it");
        assert_eq!(update_for(Absence::InPool, Finding::Unprobeable, 0, 1_000).check_after_s, None);
    }

    #[test]
    fn providers_without_a_probe_are_left_alone() {
        assert_eq!(probe_for(find("elevenlabs").expect("listed"), Absence::Blocked, &[], 0), None);
        assert_eq!(probe_for(find("cohere").expect("listed"), Absence::Exhausted, &[], 0), None);
    }

    #[test]
    fn verdicts_map_to_findings() {
        assert_eq!(judge(Verdict::Success), Finding::Restore);
        assert_eq!(judge(Verdict::RateLimited(RateLimit { hint: CoolHint::None, window: QuotaWindow::Unknown })), Finding::Restore);
        assert_eq!(judge(Verdict::InvalidKey), Finding::StillOut("invalid_key"));
        assert_eq!(judge(Verdict::SuspectKey), Finding::StillOut("invalid_key"));
        assert_eq!(judge(Verdict::ModelUnavailable), Finding::Inconclusive("model_unavailable"));
        assert_eq!(judge(Verdict::Exhausted), Finding::StillOut("exhausted"));
        assert_eq!(judge(Verdict::Timeout), Finding::Inconclusive("timeout"));
        assert_eq!(judge(Verdict::NotKeyFault), Finding::Inconclusive("not_key_fault"));
    }

    #[test]
    fn a_findings_result_is_what_the_row_records() {
        assert_eq!(Finding::Restore.result(), "ok");
        assert_eq!(Finding::StillOut("invalid_key").result(), "invalid_key");
        assert_eq!(Finding::Inconclusive("timeout").result(), "inconclusive: timeout");
        assert_eq!(Finding::Unprobeable.result(), "no probe for this provider");
        for finding in [Finding::Restore, Finding::StillOut("exhausted"), Finding::Inconclusive("transient"), Finding::Unprobeable] {
            for absence in [Absence::Blocked, Absence::Exhausted, Absence::InPool] {
                assert_eq!(update_for(absence, finding, 2, 1_000).result, finding.result());
            }
        }
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
