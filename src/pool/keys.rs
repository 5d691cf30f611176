//! Pool keys and their per-model state: what D1 said at load time, merged with what this isolate learned since —
//! from its own requests, and from D1's change feed (another isolate's cooldown, an admin's unblock).

use crate::cooldown::{ModelCooling, ALL_MODELS};
use serde_json::Value;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::fmt;

/// A provider API key. `Debug` and `Display` show only a mask; [`Secret::expose`] is the one way to the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a key.
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The key itself, for the one upstream header it belongs in.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `AIza…x9Qk`: enough to recognise a key, not enough to use it. Short keys show only their last characters.
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
        if chars.len() >= 12 {
            let head: String = chars[..4].iter().collect();
            format!("{head}…{tail}")
        } else {
            format!("…{}", chars[chars.len().saturating_sub(2)..].iter().collect::<String>())
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.masked())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// One active key as loaded from D1.
#[derive(Debug, Clone)]
pub struct PoolKey {
    /// The row id (a uuid); its first 8 characters identify the key in headers and logs.
    pub id: String,
    /// The provider API key.
    pub secret: Secret,
    /// Per-model state from `model_coolings`.
    pub coolings: Vec<(String, ModelCooling)>,
}

impl PoolKey {
    /// The short id shown to callers in the attempts header.
    pub fn short_id(&self) -> &str {
        self.id.get(..8).unwrap_or(&self.id)
    }
}

/// What this isolate learned about a key after loading it.
#[derive(Debug, Clone, Default)]
struct Learned {
    /// Out of the pool: blocked, deleted, or no longer active.
    gone: bool,
    coolings: Vec<(String, ModelCooling)>,
    /// `coolings` is the key's whole state as D1 last showed it, not additions to what was loaded.
    replaces_loaded: bool,
    learned_at_s: u64,
}

/// A key's row as the change feed shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedKey {
    /// Row id.
    pub id: String,
    /// The row now: `None` when it was deleted or is no longer active.
    pub active: Option<ActiveRow>,
}

/// An active key's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveRow {
    /// The provider API key.
    pub secret: Secret,
    /// Per-model state from `model_coolings`.
    pub coolings: Vec<(String, ModelCooling)>,
}

/// The keys of one provider at one moment (all of them, or a window of them), plus what was learned since.
#[derive(Debug, Clone, Default)]
pub struct KeyPool {
    keys: Vec<PoolKey>,
    learned: HashMap<String, Learned>,
    complete: bool,
    /// Indices of `keys` in id order: the order every isolate holding the same keys agrees on.
    by_id: Vec<u32>,
    /// The session table, built on the first session's pick (see [`super::session_table`]).
    sessions: OnceCell<Vec<u32>>,
}

fn entry<'a>(coolings: &'a [(String, ModelCooling)], model: &str) -> Option<&'a ModelCooling> {
    coolings.iter().find(|(m, _)| m == model).map(|(_, c)| c)
}

fn set_entry(coolings: &mut Vec<(String, ModelCooling)>, model: &str, state: ModelCooling) {
    match coolings.iter_mut().find(|(m, _)| m == model) {
        Some((_, existing)) => *existing = state,
        None => coolings.push((model.to_string(), state)),
    }
}

impl KeyPool {
    /// A pool over all of a provider's active keys, with nothing learned yet.
    pub fn new(keys: Vec<PoolKey>) -> KeyPool {
        KeyPool::window(keys, true)
    }

    /// A pool over a window of a provider's active keys (`complete`: the window holds every one of them).
    pub fn window(keys: Vec<PoolKey>, complete: bool) -> KeyPool {
        let mut by_id: Vec<u32> = (0..keys.len() as u32).collect();
        by_id.sort_unstable_by(|a, b| keys[*a as usize].id.cmp(&keys[*b as usize].id));
        KeyPool { keys, learned: HashMap::new(), complete, by_id, sessions: OnceCell::new() }
    }

    /// The key in slot `hash mod M` of the session table (built on first use from the keys' ids).
    pub fn session_slot(&self, hash: u64) -> Option<usize> {
        let table = self.sessions.get_or_init(|| {
            let by_id: Vec<(u32, &str)> = self.by_id.iter().map(|&i| (i, self.keys[i as usize].id.as_str())).collect();
            super::session_table::build(&by_id)
        });
        if table.is_empty() {
            return None;
        }
        table.get((hash % table.len() as u64) as usize).map(|i| *i as usize)
    }

    /// The index of the key at `position` in id order.
    pub fn in_id_order(&self, position: usize) -> Option<usize> {
        self.by_id.get(position).map(|i| *i as usize)
    }

    /// Whether the pool holds every active key of its provider (else it is a window of them).
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Where the window that follows this one starts: after the last id it read (`None` for an empty pool).
    pub fn next_window(&self) -> Option<super::WindowStart> {
        self.keys.last().map(|key| super::WindowStart::After(key.id.clone()))
    }

    /// Number of keys loaded (blocked-since-load included).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key was loaded.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key at `index`.
    pub fn key(&self, index: usize) -> Option<&PoolKey> {
        self.keys.get(index)
    }

    /// The index of the key with this row id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.keys.iter().position(|k| k.id == id)
    }

    /// Whether the key left the pool since it was loaded (blocked, deleted, no longer active).
    pub fn is_blocked(&self, index: usize) -> bool {
        self.keys.get(index).and_then(|k| self.learned.get(&k.id)).is_some_and(|l| l.gone)
    }

    /// The (key, model) state now: the later end and the newer streak of D1's and this isolate's view; the
    /// all-models entry counts for every model. `model: None` (a models listing) looks at the all-models entry only.
    pub fn state(&self, index: usize, model: Option<&str>) -> ModelCooling {
        let Some(key) = self.keys.get(index) else { return ModelCooling::default() };
        let learned = self.learned.get(&key.id);
        let loaded = if learned.is_some_and(|l| l.replaces_loaded) { &[][..] } else { &key.coolings[..] };
        let lookup = |name: &str| learned.and_then(|l| entry(&l.coolings, name)).or_else(|| entry(loaded, name)).copied();
        let all = lookup(ALL_MODELS).unwrap_or_default();
        let Some(model) = model else { return all };
        let mut state = lookup(model).unwrap_or_default();
        state.end_at_s = state.end_at_s.max(all.end_at_s);
        state
    }

    /// The stored state of (key, model) alone, without the all-models entry: the base of the next update.
    pub fn model_entry(&self, index: usize, model: &str) -> ModelCooling {
        let Some(key) = self.keys.get(index) else { return ModelCooling::default() };
        let learned = self.learned.get(&key.id);
        let loaded = if learned.is_some_and(|l| l.replaces_loaded) { &[][..] } else { &key.coolings[..] };
        learned.and_then(|l| entry(&l.coolings, model)).or_else(|| entry(loaded, model)).copied().unwrap_or_default()
    }

    /// Records a new (key, model) state learned in this isolate. Keyed by id, so it applies to whichever snapshot
    /// is current even if the pool was reloaded while the request ran.
    pub fn learn_state(&mut self, key_id: &str, model: &str, state: ModelCooling, now_s: u64) {
        set_entry(&mut self.learned_mut(key_id, now_s).coolings, model, state);
    }

    /// Records that the key was found invalid.
    pub fn learn_blocked(&mut self, key_id: &str, now_s: u64) {
        self.learned_mut(key_id, now_s).gone = true;
    }

    /// Applies a key's row as D1's change feed showed it at `observed_at_s`: its state replaces what was loaded and
    /// learned before (an admin may have ended a cooldown), unless this isolate learned something about the key at
    /// or after that moment (its own write will show in a later change). A key the pool does not hold joins it when
    /// the pool holds every key of its provider; a window ignores it.
    pub fn apply_change(&mut self, change: ChangedKey, observed_at_s: u64) {
        if self.learned.get(&change.id).is_some_and(|l| l.learned_at_s >= observed_at_s) {
            return;
        }
        let held = self.keys.iter().any(|k| k.id == change.id);
        match change.active {
            Some(row) => {
                if !held {
                    if !self.complete {
                        return;
                    }
                    let index = self.keys.len() as u32;
                    let at = self.by_id.partition_point(|i| self.keys[*i as usize].id < change.id);
                    self.by_id.insert(at, index);
                    self.sessions = OnceCell::new();
                    self.keys.push(PoolKey { id: change.id.clone(), secret: row.secret, coolings: Vec::new() });
                }
                let learned = Learned { gone: false, coolings: row.coolings, replaces_loaded: true, learned_at_s: observed_at_s };
                self.learned.insert(change.id, learned);
            }
            None if held => {
                self.learned_mut(&change.id, observed_at_s).gone = true;
            }
            None => {}
        }
    }

    fn learned_mut(&mut self, key_id: &str, now_s: u64) -> &mut Learned {
        let learned = self.learned.entry(key_id.to_string()).or_default();
        learned.learned_at_s = now_s;
        learned
    }

    /// Carries over what `older` learned within the last `window_s` seconds (its D1 writes may not have been
    /// visible to the read that built `self`).
    pub fn carry_recent_learning(&mut self, older: &KeyPool, now_s: u64, window_s: u64) {
        for (id, learned) in &older.learned {
            if learned.learned_at_s.saturating_add(window_s) >= now_s && !self.learned.contains_key(id) {
                self.learned.insert(id.clone(), learned.clone());
            }
        }
    }

    /// Model names the pool has cooldowns for, from at most `limit` keys: the models it has actually served.
    pub fn known_models(&self, limit: usize) -> Vec<String> {
        let mut models: Vec<String> = self
            .keys
            .iter()
            .take(limit)
            .flat_map(|k| k.coolings.iter().map(|(m, _)| m.clone()))
            .filter(|m| m != ALL_MODELS)
            .collect();
        models.sort();
        models.dedup();
        models
    }

    /// How many keys selection could pick for `model` at `now_s`: in the pool, not blocked, not cooling for it.
    pub fn usable_count(&self, model: Option<&str>, now_s: u64) -> usize {
        (0..self.keys.len()).filter(|&i| !self.is_blocked(i) && !crate::cooldown::is_cooling(&self.state(i, model), now_s)).count()
    }

    /// The soonest end of a cooldown on `model` among keys that are not blocked; `None` when no key cools.
    /// It answers a client's `Retry-After`: keys the request did not reach may still be free, but the soonest a
    /// key it did try comes back is a bound the client can rely on.
    pub fn earliest_cooldown_end_s(&self, model: Option<&str>, now_s: u64) -> Option<u64> {
        (0..self.keys.len())
            .filter(|&i| !self.is_blocked(i))
            .map(|i| self.state(i, model).end_at_s)
            .filter(|&end| end > now_s)
            .min()
    }
}

/// Reads a `model_coolings` value as stored by this Worker or the original (`end_at` may be fractional, `streak`
/// and `at_ms` absent; see [`ModelCooling::from_json`]). Anything unreadable counts as no cooldown rather than an
/// error: a bad row must not stop the pool.
pub fn parse_model_coolings(text: Option<&str>) -> Vec<(String, ModelCooling)> {
    let Some(Ok(Value::Object(map))) = text.map(serde_json::from_str::<Value>) else { return Vec::new() };
    map.iter().map(|(model, value)| (model.clone(), ModelCooling::from_json(value))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, coolings: &[(&str, u64)]) -> PoolKey {
        PoolKey {
            id: id.to_string(),
            secret: Secret::new(format!("AIzaSy-{id}-secretvalue")),
            coolings: coolings
                .iter()
                .map(|(m, end)| (m.to_string(), ModelCooling { end_at_s: *end, ..Default::default() }))
                .collect(),
        }
    }

    #[test]
    fn secrets_are_masked_everywhere_but_expose() {
        let secret = Secret::new("AIzaSyABCDEFGHIJKLMNOPx9Qk".to_string());
        assert_eq!(secret.masked(), "AIza…x9Qk");
        assert_eq!(format!("{secret:?}"), "Secret(AIza…x9Qk)");
        assert_eq!(format!("{secret}"), "AIza…x9Qk");
        assert_eq!(Secret::new("short".to_string()).masked(), "…rt");
        assert_eq!(Secret::new("日本語のキーです漢字仮名混じり".to_string()).masked().chars().count(), 9);
    }

    #[test]
    fn the_all_models_entry_cools_every_model_but_a_model_entry_cools_only_its_model() {
        let pool = KeyPool::new(vec![key("a", &[("*", 500)]), key("b", &[("gemini-2.5-pro", 700)])]);
        assert_eq!(pool.state(0, Some("anything")).end_at_s, 500);
        assert_eq!(pool.state(0, None).end_at_s, 500);
        assert_eq!(pool.state(1, Some("gemini-2.5-pro")).end_at_s, 700);
        assert_eq!(pool.state(1, Some("gemini-2.5-flash")).end_at_s, 0);
        assert_eq!(pool.state(1, None).end_at_s, 0, "a listing ignores per-model cooldowns");
    }

    #[test]
    fn learning_overrides_the_loaded_state_without_touching_the_key_list() {
        let mut pool = KeyPool::new(vec![key("a", &[("m", 100)])]);
        pool.learn_state("a", "m", ModelCooling { end_at_s: 900, total_seconds: 5, streak: 1, at_ms: 0 }, 50);
        assert_eq!(pool.state(0, Some("m")).end_at_s, 900);
        assert_eq!(pool.key(0).map(|k| k.coolings[0].1.end_at_s), Some(100), "the loaded list is unchanged");
        pool.learn_blocked("a", 50);
        assert!(pool.is_blocked(0));
    }

    #[test]
    fn recent_learning_survives_a_refresh_and_old_learning_does_not() {
        let mut old = KeyPool::new(vec![key("a", &[]), key("b", &[])]);
        old.learn_blocked("a", 1_000);
        old.learn_blocked("b", 1_100);
        let mut fresh = KeyPool::new(vec![key("a", &[]), key("b", &[])]);
        fresh.carry_recent_learning(&old, 1_120, 30);
        assert!(!fresh.is_blocked(0), "learned 120 s ago: D1 has had time to show it");
        assert!(fresh.is_blocked(1));
    }

    fn change(id: &str, coolings: &[(&str, u64)]) -> ChangedKey {
        let coolings = coolings.iter().map(|(m, end)| (m.to_string(), ModelCooling { end_at_s: *end, ..Default::default() })).collect();
        ChangedKey { id: id.to_string(), active: Some(ActiveRow { secret: Secret::new(format!("secret-{id}")), coolings }) }
    }

    #[test]
    fn a_change_from_d1_replaces_the_loaded_state_so_an_ended_cooldown_ends_here_too() {
        let mut pool = KeyPool::new(vec![key("a", &[("m", 900), ("n", 900)])]);
        pool.apply_change(change("a", &[("n", 500)]), 100);
        assert_eq!(pool.state(0, Some("m")).end_at_s, 0, "the admin ended the cooldown on m");
        assert_eq!(pool.state(0, Some("n")).end_at_s, 500);
        assert_eq!(pool.model_entry(0, "m"), ModelCooling::default());
    }

    #[test]
    fn a_change_older_than_what_this_isolate_learned_is_skipped() {
        let mut pool = KeyPool::new(vec![key("a", &[])]);
        pool.learn_state("a", "m", ModelCooling { end_at_s: 700, ..Default::default() }, 200);
        pool.apply_change(change("a", &[]), 150);
        assert_eq!(pool.state(0, Some("m")).end_at_s, 700, "our own write has not reached the feed yet");
        pool.apply_change(change("a", &[("m", 700)]), 210);
        assert_eq!(pool.state(0, Some("m")).end_at_s, 700);
        pool.learn_state("a", "m", ModelCooling { end_at_s: 800, ..Default::default() }, 220);
        assert_eq!(pool.state(0, Some("m")).end_at_s, 800, "learning on top of a replaced state works");
    }

    #[test]
    fn a_removed_key_leaves_the_pool_and_an_unblocked_key_comes_back() {
        let mut pool = KeyPool::new(vec![key("a", &[]), key("b", &[])]);
        pool.apply_change(ChangedKey { id: "a".to_string(), active: None }, 100);
        assert!(pool.is_blocked(0));
        pool.apply_change(change("a", &[]), 200);
        assert!(!pool.is_blocked(0), "unblocked on the admin page");
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn a_new_key_joins_a_complete_pool_at_the_end_but_not_a_window() {
        let mut whole = KeyPool::new(vec![key("a", &[])]);
        whole.apply_change(change("z", &[]), 100);
        assert_eq!((whole.len(), whole.key(1).map(|k| k.id.as_str())), (2, Some("z")));
        assert_eq!(whole.key(0).map(|k| k.id.as_str()), Some("a"), "existing indices never shift");
        let ordered: Vec<&str> = (0..2).filter_map(|p| whole.in_id_order(p)).filter_map(|i| whole.key(i)).map(|k| k.id.as_str()).collect();
        assert_eq!(ordered, vec!["a", "z"], "and the id order knows the newcomer");
        let mut window = KeyPool::window(vec![key("a", &[])], false);
        window.apply_change(change("z", &[]), 100);
        assert_eq!(window.len(), 1);
        assert!(!window.is_complete());
        window.apply_change(ChangedKey { id: "unknown".to_string(), active: None }, 100);
        assert_eq!(window.len(), 1);
    }

    #[test]
    fn known_models_are_the_models_with_state_except_the_all_models_entry() {
        let pool = KeyPool::new(vec![key("a", &[("m2", 1), ("*", 5)]), key("b", &[("m1", 1), ("m2", 1)])]);
        assert_eq!(pool.known_models(10), vec!["m1", "m2"]);
        assert_eq!(pool.known_models(1), vec!["m2"]);
    }

    #[test]
    fn the_earliest_cooldown_end_ignores_blocked_and_free_keys() {
        let mut pool = KeyPool::new(vec![key("a", &[("m", 300)]), key("b", &[("m", 200)]), key("c", &[("m", 100)]), key("d", &[])]);
        pool.learn_blocked("c", 0);
        assert_eq!(pool.earliest_cooldown_end_s(Some("m"), 50), Some(200), "d is free, b comes back first");
        assert_eq!(pool.earliest_cooldown_end_s(Some("other"), 50), None);
    }

    #[test]
    fn model_coolings_from_the_original_and_from_this_worker_both_read() {
        let parsed = parse_model_coolings(Some(
            r#"{"gemini-2.5-flash":{"end_at":1764000000.75,"total_seconds":65},"m2":{"end_at":5,"total_seconds":1,"streak":1,"at_ms":4500}}"#,
        ));
        assert_eq!(parsed.len(), 2);
        let flash = parsed.iter().find(|(m, _)| m == "gemini-2.5-flash").expect("present").1;
        assert_eq!(flash, ModelCooling { end_at_s: 1_764_000_000, total_seconds: 65, streak: 0, at_ms: 0 });
        assert!(parsed.iter().any(|(m, c)| m == "m2" && c.streak == 1 && c.at_ms == 4_500));
        for junk in [None, Some(""), Some("null"), Some("[]"), Some("{bad"), Some(r#"{"m":{"end_at":-5}}"#)] {
            let parsed = parse_model_coolings(junk);
            assert!(parsed.iter().all(|(_, c)| c.end_at_s == 0), "{junk:?}");
        }
    }
}
