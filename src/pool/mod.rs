//! The key pool of one provider as an isolate sees it: the active keys read from D1 (all of them, or a bounded
//! window of them), plus what this isolate has learned since (its own cooldowns and blocks, and what D1's change
//! feed says others changed), and the choice of which key a request tries next.
//!
//! The list of keys never shifts while a request uses it: what a request learns goes into a separate map keyed by
//! key id, and keys that join the pool are appended.

mod feed;
mod hash;
mod keys;
mod select;
mod session_table;
mod window;

pub use feed::{poll_from_json, read_feed, FeedReading, FeedRow, Poll, Reload, Removal, REMOVALS_KEPT_S, ROWS_PER_POLL};
pub use keys::{parse_model_coolings, ActiveRow, ChangedKey, KeyPool, PoolKey, Secret};
pub use select::{pick, pick_for_session, Pick, RANDOM_PROBES, SESSION_CHOICES};
pub use window::{random_start, WindowStart, WINDOW_KEYS};
