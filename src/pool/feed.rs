//! The change feed: how an isolate learns, cheaply, what other isolates and the admin page changed about the keys
//! since it last looked.
//!
//! Every write to a key row sets its `updated_at` from D1's own clock (`unixepoch()` inside the statement), and D1
//! runs one statement at a time, so the rows changed since a moment are the rows whose `updated_at` is at or after
//! it. An isolate keeps one cursor (D1's clock at its last look) and polls `updated_at >= cursor` through an index:
//! when nothing changed that reads one row (D1 counts the index seek), whatever the size of the pool. Deleted rows
//! leave no row to read, so deletions are written to a small `key_removals` table (a bulk deletion writes one row
//! naming the provider), and touch `updated_at` of one surviving row so that the poll, which reads the removals only
//! when a row changed (or once a minute, for a deletion that left no row), sees them: one statement, 1 row read when
//! nothing changed (`src/edge/proxy/sql/poll.sql`).
//! A poll that finds more changes than it reads at once, or a cursor older than the removals the scheduled re-check
//! keeps, means the isolate reloads what it holds instead.

use super::keys::{parse_model_coolings, ActiveRow, ChangedKey, Secret};

/// Most changed rows one poll reads; more than this and the isolate reloads its pools instead.
pub const ROWS_PER_POLL: usize = 256;

/// How long removals are kept (the scheduled re-check deletes older ones); a cursor older than this reloads.
pub const REMOVALS_KEPT_S: u64 = 24 * 3600;

/// A changed key row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRow {
    /// Row id.
    pub id: String,
    /// Provider slug.
    pub provider: String,
    /// The provider API key.
    pub key: String,
    /// `status`.
    pub status: String,
    /// `model_coolings`.
    pub model_coolings: Option<String>,
}

/// A removal: one key, or (`key_id: None`) many keys of a provider at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// Provider slug.
    pub provider: String,
    /// The removed key's row id, or `None` for a bulk removal.
    pub key_id: Option<String>,
}

/// What one poll read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poll {
    /// D1's clock when the poll ran.
    pub db_now_s: u64,
    /// Rows changed at or after the cursor, at most [`ROWS_PER_POLL`] + 1.
    pub rows: Vec<FeedRow>,
    /// Removals at or after the cursor.
    pub removals: Vec<Removal>,
}

/// The poll's row as D1 returns it (`src/edge/proxy/sql/poll.sql`): D1's clock, the changed rows as a JSON array of
/// `[id, provider, key, status, model_coolings]`, and the removals as a JSON array of `[provider, key_id]` (`None`:
/// not read, as when nothing changed).
pub fn poll_from_json(db_now_s: u64, changed: &str, removals: Option<&str>) -> Result<Poll, serde_json::Error> {
    type ChangedFields = (String, String, String, String, Option<String>);
    let rows = serde_json::from_str::<Vec<ChangedFields>>(changed)?
        .into_iter()
        .map(|(id, provider, key, status, model_coolings)| FeedRow { id, provider, key, status, model_coolings })
        .collect();
    let removals = match removals {
        Some(text) => serde_json::from_str::<Vec<(String, Option<String>)>>(text)?.into_iter().map(|(provider, key_id)| Removal { provider, key_id }).collect(),
        None => Vec::new(),
    };
    Ok(Poll { db_now_s, rows, removals })
}

/// Which cached pools must be reloaded instead of updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// None: the changes say everything.
    Nothing,
    /// These providers' pools.
    Providers(Vec<String>),
    /// Every pool (too many changes, or the cursor is older than the removals kept).
    Everything,
}

/// What a poll means for the isolate's pools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedReading {
    /// The cursor for the next poll.
    pub cursor_s: u64,
    /// Changed keys, by provider, to apply as of `cursor_s`.
    pub changes: Vec<(String, ChangedKey)>,
    /// Pools to reload instead.
    pub reload: Reload,
}

/// Reads one poll taken from `cursor_s`.
pub fn read_feed(cursor_s: u64, poll: Poll) -> FeedReading {
    let cursor = poll.db_now_s.max(cursor_s);
    if poll.rows.len() > ROWS_PER_POLL || poll.db_now_s.saturating_sub(cursor_s) > REMOVALS_KEPT_S {
        return FeedReading { cursor_s: cursor, changes: Vec::new(), reload: Reload::Everything };
    }
    let mut reload: Vec<String> = Vec::new();
    let mut changes = Vec::with_capacity(poll.rows.len() + poll.removals.len());
    for row in poll.rows {
        let active = (row.status == "active")
            .then(|| ActiveRow { secret: Secret::new(row.key), coolings: parse_model_coolings(row.model_coolings.as_deref()) });
        changes.push((row.provider, ChangedKey { id: row.id, active }));
    }
    for removal in poll.removals {
        match removal.key_id {
            Some(id) => changes.push((removal.provider, ChangedKey { id, active: None })),
            None if !reload.contains(&removal.provider) => reload.push(removal.provider),
            None => {}
        }
    }
    let reload = if reload.is_empty() { Reload::Nothing } else { Reload::Providers(reload) };
    FeedReading { cursor_s: cursor, changes, reload }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, status: &str, coolings: &str) -> FeedRow {
        FeedRow { id: id.to_string(), provider: "p".to_string(), key: format!("secret-{id}"), status: status.to_string(), model_coolings: Some(coolings.to_string()) }
    }

    #[test]
    fn an_empty_poll_moves_the_cursor_to_d1s_clock() {
        let reading = read_feed(100, Poll { db_now_s: 130, rows: vec![], removals: vec![] });
        assert_eq!(reading, FeedReading { cursor_s: 130, changes: vec![], reload: Reload::Nothing });
    }

    #[test]
    fn a_changed_row_becomes_a_change_and_an_inactive_row_leaves_the_pool() {
        let reading = read_feed(100, Poll { db_now_s: 130, rows: vec![row("a", "active", r#"{"m":{"end_at":200}}"#), row("b", "blocked", "{}")], removals: vec![] });
        assert_eq!(reading.changes.len(), 2);
        let (provider, a) = &reading.changes[0];
        assert_eq!(provider, "p");
        let active = a.active.as_ref().expect("a is active");
        assert_eq!(active.coolings[0].1.end_at_s, 200);
        assert_eq!(active.secret.expose(), "secret-a");
        assert_eq!(reading.changes[1].1, ChangedKey { id: "b".to_string(), active: None });
    }

    #[test]
    fn removals_of_one_key_are_changes_and_bulk_removals_reload_the_provider_once() {
        let removals = vec![
            Removal { provider: "p".to_string(), key_id: Some("gone".to_string()) },
            Removal { provider: "q".to_string(), key_id: None },
            Removal { provider: "q".to_string(), key_id: None },
        ];
        let reading = read_feed(100, Poll { db_now_s: 130, rows: vec![], removals });
        assert_eq!(reading.changes, vec![("p".to_string(), ChangedKey { id: "gone".to_string(), active: None })]);
        assert_eq!(reading.reload, Reload::Providers(vec!["q".to_string()]));
    }

    #[test]
    fn too_many_changes_reload_everything_instead_of_reading_them_all() {
        let rows = (0..=ROWS_PER_POLL).map(|i| row(&format!("k{i}"), "active", "{}")).collect();
        let reading = read_feed(100, Poll { db_now_s: 130, rows, removals: vec![] });
        assert_eq!((reading.reload, reading.changes.len(), reading.cursor_s), (Reload::Everything, 0, 130));
    }

    #[test]
    fn a_cursor_older_than_the_kept_removals_reloads_everything() {
        let reading = read_feed(100, Poll { db_now_s: 100 + REMOVALS_KEPT_S + 1, rows: vec![], removals: vec![] });
        assert_eq!(reading.reload, Reload::Everything);
        let fresh = read_feed(100, Poll { db_now_s: 100 + REMOVALS_KEPT_S, rows: vec![], removals: vec![] });
        assert_eq!(fresh.reload, Reload::Nothing);
    }

    #[test]
    fn the_polls_json_row_reads_into_rows_and_removals() {
        let changed = r#"[["a","p","secret-a","active","{\"m\":{\"end_at\":200}}"],["b","q","secret-b","blocked",null]]"#;
        let poll = poll_from_json(130, changed, Some(r#"[["p","gone"],["q",null]]"#)).expect("parses");
        assert_eq!(poll.db_now_s, 130);
        assert_eq!(poll.rows, vec![row("a", "active", r#"{"m":{"end_at":200}}"#), FeedRow { provider: "q".to_string(), model_coolings: None, ..row("b", "blocked", "") }]);
        assert_eq!(poll.removals, vec![Removal { provider: "p".to_string(), key_id: Some("gone".to_string()) }, Removal { provider: "q".to_string(), key_id: None }]);
        let nothing = poll_from_json(131, "[]", None).expect("parses");
        assert_eq!(nothing, Poll { db_now_s: 131, rows: vec![], removals: vec![] });
        assert!(poll_from_json(131, "[[1]]", None).is_err());
    }

    #[test]
    fn the_cursor_never_moves_back_when_d1s_clock_does() {
        assert_eq!(read_feed(130, Poll { db_now_s: 129, rows: vec![], removals: vec![] }).cursor_s, 130);
    }
}
