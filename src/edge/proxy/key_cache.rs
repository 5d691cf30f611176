//! The per-isolate key cache: one [`KeyPool`] per provider — all its active keys, or a window of at most
//! `KEY_WINDOW_SIZE` of them (see [`crate::pool`]) — kept fresh by D1's change feed.
//!
//! A pool is loaded once, on the first request that needs it (while that request's guess-limit read is in flight,
//! see [`preload`]), and then updated in place from the feed: every `KEY_CACHE_TTL_SECONDS` / 2 a request starts a
//! poll in `ctx.wait_until` (never on its own path), which reads only the rows changed since the last one. So a cooldown learned in another isolate is used here within about that
//! interval, and an isolate that sees no change reads no key row. `KEY_CACHE_TTL_SECONDS = 0` reloads the pool on
//! every request instead (tests that write to D1 behind the Worker's back).
//!
//! A pool is read again when the feed says more changed than it can tell (or a provider's keys were removed in
//! bulk) and after an admin change in this isolate. A reload builds a new pool and swaps it in; requests already
//! holding the old one keep a consistent view, and others keep using the old one meanwhile instead of queueing on D1. A reload or a poll that does not finish within
//! [`STUCK_AFTER_MS`] is given up, so a lost one never wedges the isolate on a stale pool.

use super::store;
use crate::edge::clock;
use crate::pool::{self, read_feed, KeyPool, Reload, WindowStart};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use worker::{console_error, Context, Env, Result};

/// A provider's pool as shared inside the isolate.
pub type SharedPool = Rc<RefCell<KeyPool>>;

/// A reload or poll older than this is presumed lost: another request may start one.
pub const STUCK_AFTER_MS: u64 = 10_000;

/// What learned in the last this-many seconds is carried into a reloaded pool (its D1 write may still be in flight).
const CARRY_LEARNING_S: u64 = 30;

struct Cached {
    pool: SharedPool,
    /// The feed or the admin page said this pool must be read again.
    stale: bool,
    reloading_since_ms: Option<u64>,
}

/// The change feed's state in this isolate.
#[derive(Default)]
struct Feed {
    cursor_s: Option<u64>,
    polled_at_ms: u64,
    polling_since_ms: Option<u64>,
}

thread_local! {
    static POOLS: RefCell<HashMap<String, Cached>> = RefCell::new(HashMap::new());
    static FEED: RefCell<Feed> = RefCell::new(Feed::default());
}

fn is_stuck(since_ms: Option<u64>, now_ms: u64) -> bool {
    since_ms.is_some_and(|since| now_ms.saturating_sub(since) >= STUCK_AFTER_MS)
}

/// The pool of `provider` when it can be used without reading D1: loaded and not stale, or stale but being
/// reloaded by another request meanwhile. `None`: call [`pool`].
pub fn ready(provider: &str, interval_s: u32, now_ms: u64) -> Option<SharedPool> {
    if interval_s == 0 {
        return None;
    }
    POOLS.with(|pools| {
        let pools = pools.borrow();
        let cached = pools.get(provider)?;
        let reloading = cached.reloading_since_ms.is_some() && !is_stuck(cached.reloading_since_ms, now_ms);
        (!cached.stale || reloading).then(|| cached.pool.clone())
    })
}

/// The pool of `provider`, loading it from D1 when the isolate has none or it is stale (or on every call with an
/// interval of 0). The D1 binding is looked up only for a load, so a cached pool costs no call into the runtime.
pub async fn pool(env: &Env, provider: &str, sizes: Sizes, now_ms: u64) -> Result<SharedPool> {
    let interval_s = sizes.interval_s;
    if let Some(pool) = ready(provider, interval_s, now_ms) {
        return Ok(pool);
    }
    let previous = POOLS.with(|pools| {
        let mut pools = pools.borrow_mut();
        let cached = pools.get_mut(provider)?;
        cached.reloading_since_ms = Some(now_ms);
        Some(cached.pool.clone())
    });
    let start = super::isolate::with_rng(pool::random_start);
    load(env, provider, &start, sizes.window, previous, now_ms).await
}

/// Loads `provider`'s pool ahead of a request that waits on D1 for something else first, so the two round trips
/// overlap; the request then finds it [`ready`]. Does nothing when the pool is ready or is reloaded on every request
/// (an interval of 0). A failed load is left to the request's own [`pool`] call, which tries again and reports it.
pub async fn preload(env: &Env, provider: &str, sizes: Sizes, now_ms: u64) {
    if sizes.interval_s != 0 && ready(provider, sizes.interval_s, now_ms).is_none() {
        let _ = pool(env, provider, sizes, now_ms).await;
    }
}

/// How the cache is tuned (`KEY_CACHE_TTL_SECONDS`, `KEY_WINDOW_SIZE`).
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// How often the change feed is read, seconds (0: reload on every request).
    pub interval_s: u32,
    /// Most keys of a provider held.
    pub window: usize,
}

impl Sizes {
    /// From the configuration.
    pub fn of(config: &crate::config::Config) -> Sizes {
        Sizes { interval_s: config.key_cache_ttl_s, window: config.key_window as usize }
    }
}

/// Replaces a window with no usable key left by another window of the same provider, for the request that found it
/// empty (`held`). Returns the new pool, or `None` when the provider's pool is complete (there is no other window)
/// or the load failed.
pub async fn another_window(env: &Env, provider: &str, held: &SharedPool, window: usize, now_ms: u64) -> Option<SharedPool> {
    let start = {
        let held = held.borrow();
        if held.is_complete() {
            return None;
        }
        held.next_window()?
    };
    match load(env, provider, &start, window, Some(held.clone()), now_ms).await {
        Ok(fresh) => Some(fresh),
        Err(error) => {
            console_error!("loading another window of {provider} keys failed: {error}");
            None
        }
    }
}

async fn load(env: &Env, provider: &str, start: &WindowStart, window: usize, previous: Option<SharedPool>, now_ms: u64) -> Result<SharedPool> {
    let loaded = match env.d1("DB") {
        Ok(db) => store::load_window(&db, provider, start, window).await,
        Err(error) => Err(error),
    };
    let (keys, complete, db_now_s) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            POOLS.with(|pools| pools.borrow_mut().get_mut(provider).map(|c| c.reloading_since_ms = None));
            return Err(error);
        }
    };
    let mut fresh = KeyPool::window(keys, complete);
    if let Some(previous) = &previous {
        fresh.carry_recent_learning(&previous.borrow(), now_ms / 1_000, CARRY_LEARNING_S);
    }
    let fresh = Rc::new(RefCell::new(fresh));
    POOLS.with(|pools| pools.borrow_mut().insert(provider.to_string(), Cached { pool: fresh.clone(), stale: false, reloading_since_ms: None }));
    FEED.with(|feed| {
        let mut feed = feed.borrow_mut();
        if feed.cursor_s.is_none() {
            feed.cursor_s = Some(db_now_s);
            feed.polled_at_ms = now_ms;
        }
    });
    Ok(fresh)
}

/// Starts a poll of the change feed in the background when one is due (every `interval_s` / 2) and none is running.
pub fn maybe_poll(env: &Env, ctx: &Context, interval_s: u32, now_ms: u64) {
    if interval_s == 0 {
        return;
    }
    let due_every_ms = u64::from(interval_s) * 1_000 / 2;
    let cursor_s = FEED.with(|feed| {
        let mut feed = feed.borrow_mut();
        let cursor_s = feed.cursor_s?;
        let due = now_ms.saturating_sub(feed.polled_at_ms) >= due_every_ms;
        if !due || (feed.polling_since_ms.is_some() && !is_stuck(feed.polling_since_ms, now_ms)) {
            return None;
        }
        feed.polling_since_ms = Some(now_ms);
        Some(cursor_s)
    });
    let Some(cursor_s) = cursor_s else { return };
    let env = env.clone();
    ctx.wait_until(async move { poll(&env, cursor_s).await });
}

async fn poll(env: &Env, cursor_s: u64) {
    let polled = match env.d1("DB") {
        Ok(db) => store::poll(&db, cursor_s).await,
        Err(error) => Err(error),
    };
    let now_ms = clock::now_ms();
    let reading = match polled {
        Ok(poll) => read_feed(cursor_s, poll),
        Err(error) => {
            console_error!("reading the key change feed from D1 failed: {error}");
            FEED.with(|feed| feed.borrow_mut().polling_since_ms = None);
            return;
        }
    };
    POOLS.with(|pools| {
        let mut pools = pools.borrow_mut();
        match &reading.reload {
            Reload::Everything => pools.values_mut().for_each(|cached| cached.stale = true),
            Reload::Providers(providers) => {
                for provider in providers {
                    if let Some(cached) = pools.get_mut(provider) {
                        cached.stale = true;
                    }
                }
            }
            Reload::Nothing => {}
        }
        for (provider, change) in reading.changes {
            if let Some(cached) = pools.get(&provider) {
                cached.pool.borrow_mut().apply_change(change, reading.cursor_s);
            }
        }
    });
    FEED.with(|feed| {
        let mut feed = feed.borrow_mut();
        feed.cursor_s = Some(reading.cursor_s);
        feed.polled_at_ms = now_ms;
        feed.polling_since_ms = None;
    });
}

/// Applies what a request learned to the pool it holds and, if the cache has moved on, to the current pool too.
pub fn learn(provider: &str, held: &SharedPool, apply: impl Fn(&mut KeyPool)) {
    apply(&mut held.borrow_mut());
    POOLS.with(|pools| {
        if let Some(current) = pools.borrow().get(provider) {
            if !Rc::ptr_eq(&current.pool, held) {
                apply(&mut current.pool.borrow_mut());
            }
        }
    });
}

/// Marks a provider's cached pool stale (after an admin change), so the next request in this isolate reads D1.
pub fn invalidate(provider: &str) {
    POOLS.with(|pools| pools.borrow_mut().get_mut(provider).map(|cached| cached.stale = true));
}
