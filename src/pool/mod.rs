//! The key pool of one provider as an isolate sees it: the active keys read from D1, plus what this isolate has
//! learned since (cooldowns, blocks, cleared streaks), and the choice of which key a request tries next.
//!
//! The list of keys is built once per cache period and never changed afterwards; what a request learns goes into a
//! separate map keyed by key id, so a request that is iterating the list never sees it shift under it.

mod keys;
mod select;

pub use keys::{parse_model_coolings, KeyPool, PoolKey, Secret};
pub use select::{pick, Pick, RANDOM_PROBES};
