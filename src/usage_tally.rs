//! Per-key usage figures, tallied in memory per isolate and handed out in batches for one D1 write.
//!
//! Every upstream attempt counts one request for its key, and one success (2xx), one 429, or one other error
//! (any other status, a time-out, a network failure). The tally is taken whole when a flush is due — at most once
//! per `USAGE_FLUSH_SECONDS` per isolate, the first one that long after the isolate first counted — and becomes
//! one JSON array that a single upsert adds to the `key_usage` table. A failed write puts its batch back. Counts
//! of an isolate that is evicted before its next flush are lost: the figures are a guide, not a ledger.

use crate::verdict::Verdict;
use serde_json::{json, Value};
use std::collections::HashMap;

/// What one key did since the last flush.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    /// Attempts.
    pub requests: u64,
    /// 2xx answers.
    pub successes: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// Other failures.
    pub errors: u64,
    /// Unix seconds of the last attempt.
    pub last_used_s: u64,
    /// The last failure, `label status` (`timeout` without a status), and when.
    pub last_error: Option<(String, u64)>,
}

impl Delta {
    fn merge(&mut self, other: Delta) {
        self.requests += other.requests;
        self.successes += other.successes;
        self.rate_limited += other.rate_limited;
        self.errors += other.errors;
        self.last_used_s = self.last_used_s.max(other.last_used_s);
        if other.last_error.as_ref().map(|e| e.1) >= self.last_error.as_ref().map(|e| e.1) {
            self.last_error = other.last_error.or(self.last_error.take());
        }
    }
}

/// Deltas taken from the tally for one write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch(pub Vec<(String, Delta)>);

impl Batch {
    /// The JSON array the upsert reads with `json_each`: one object per key.
    pub fn to_json(&self) -> String {
        let rows: Vec<Value> = self
            .0
            .iter()
            .map(|(id, d)| {
                json!({
                    "id": id, "requests": d.requests, "successes": d.successes, "rate_limited": d.rate_limited,
                    "errors": d.errors, "last_used_at": d.last_used_s,
                    "last_error": d.last_error.as_ref().map(|e| &e.0), "last_error_at": d.last_error.as_ref().map(|e| e.1),
                })
            })
            .collect();
        Value::Array(rows).to_string()
    }
}

/// One isolate's tally.
#[derive(Debug, Default)]
pub struct Tally {
    deltas: HashMap<String, Delta>,
    last_flush_s: Option<u64>,
}

impl Tally {
    /// Counts one attempt with `key_id`; `status` is the upstream's, when it answered.
    pub fn count(&mut self, key_id: &str, verdict: Verdict, status: Option<u16>, now_s: u64) {
        self.last_flush_s.get_or_insert(now_s);
        let delta = match self.deltas.get_mut(key_id) {
            Some(delta) => delta,
            None => self.deltas.entry(key_id.to_string()).or_default(),
        };
        delta.requests += 1;
        delta.last_used_s = delta.last_used_s.max(now_s);
        match (verdict, status) {
            (Verdict::Success, _) => delta.successes += 1,
            (_, Some(429)) => delta.rate_limited += 1,
            _ => delta.errors += 1,
        }
        if verdict != Verdict::Success {
            let label = match status {
                Some(status) => format!("{} {status}", verdict.label()),
                None => verdict.label().to_string(),
            };
            delta.last_error = Some((label, now_s));
        }
    }

    /// Keys with counts waiting.
    pub fn pending(&self) -> usize {
        self.deltas.len()
    }

    /// Takes everything counted when a flush is due (`interval_s` after the last one), else nothing.
    pub fn take_if_due(&mut self, now_s: u64, interval_s: u64) -> Option<Batch> {
        let due = self.last_flush_s.is_some_and(|last| now_s >= last.saturating_add(interval_s));
        (due && !self.deltas.is_empty()).then(|| self.take(now_s))
    }

    /// Takes everything counted, due or not (the admin page shows fresh figures this way).
    pub fn take(&mut self, now_s: u64) -> Batch {
        self.last_flush_s = Some(now_s);
        let mut rows: Vec<(String, Delta)> = self.deltas.drain().collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        Batch(rows)
    }

    /// Puts back a batch whose write failed, merged with what was counted since.
    pub fn restore(&mut self, batch: Batch) {
        for (id, delta) in batch.0 {
            self.deltas.entry(id).or_default().merge(delta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hints::CoolHint;
    use crate::verdict::{QuotaWindow, RateLimit};

    #[test]
    fn attempts_are_counted_by_outcome() {
        let mut tally = Tally::default();
        tally.count("a", Verdict::Success, Some(200), 10);
        tally.count("a", Verdict::RateLimited(RateLimit { hint: CoolHint::None, window: QuotaWindow::Unknown }), Some(429), 11);
        tally.count("a", Verdict::NotKeyFault, Some(429), 12);
        tally.count("a", Verdict::InvalidKey, Some(401), 13);
        tally.count("a", Verdict::Timeout, None, 14);
        tally.count("b", Verdict::Success, Some(200), 15);
        let batch = tally.take(20);
        let (id, a) = &batch.0[0];
        assert_eq!(id, "a");
        assert_eq!((a.requests, a.successes, a.rate_limited, a.errors), (5, 1, 2, 2));
        assert_eq!(a.last_used_s, 14);
        assert_eq!(a.last_error, Some(("timeout".to_string(), 14)));
        assert_eq!(batch.0[1].1.last_error, None);
        assert_eq!(tally.pending(), 0);
    }

    #[test]
    fn a_flush_is_due_once_per_interval_counted_from_the_first_count() {
        let mut tally = Tally::default();
        assert_eq!(tally.take_if_due(0, 300), None, "nothing counted");
        tally.count("a", Verdict::Success, Some(200), 1_000);
        assert_eq!(tally.take_if_due(1_299, 300), None);
        assert_eq!(tally.take_if_due(1_300, 300).map(|b| b.0.len()), Some(1));
        tally.count("a", Verdict::Success, Some(200), 1_301);
        assert_eq!(tally.take_if_due(1_599, 300), None, "the interval restarts at the flush");
        assert!(tally.take_if_due(1_600, 300).is_some());
    }

    #[test]
    fn an_interval_of_zero_flushes_whenever_there_are_counts() {
        let mut tally = Tally::default();
        tally.count("a", Verdict::Success, Some(200), 5);
        assert!(tally.take_if_due(5, 0).is_some());
        assert_eq!(tally.take_if_due(5, 0), None);
    }

    #[test]
    fn a_failed_write_is_merged_back_with_later_counts() {
        let mut tally = Tally::default();
        tally.count("a", Verdict::InvalidKey, Some(401), 5);
        let batch = tally.take(6);
        tally.count("a", Verdict::Success, Some(200), 7);
        tally.restore(batch);
        let again = tally.take(8);
        let a = &again.0[0].1;
        assert_eq!((a.requests, a.successes, a.errors, a.last_used_s), (2, 1, 1, 7));
        assert_eq!(a.last_error, Some(("invalid_key 401".to_string(), 5)));
    }

    #[test]
    fn the_batch_json_has_one_object_per_key() {
        let mut tally = Tally::default();
        tally.count("k-1", Verdict::Exhausted, Some(402), 9);
        let parsed: Value = serde_json::from_str(&tally.take(9).to_json()).expect("json");
        assert_eq!(
            parsed,
            json!([{"id":"k-1","requests":1,"successes":0,"rate_limited":0,"errors":1,"last_used_at":9,
                    "last_error":"exhausted 402","last_error_at":9}])
        );
    }
}
