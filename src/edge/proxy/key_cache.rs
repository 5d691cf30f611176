//! The per-isolate key cache: one [`KeyPool`] per provider, reloaded from D1 when older than
//! `KEY_CACHE_TTL_SECONDS`.
//!
//! A reload builds a new pool and swaps it in; requests already holding the old one keep a consistent view. While
//! one request reloads a stale pool, others keep using the stale one instead of queueing on D1. What a request
//! learns is applied to the pool it holds and to the current one, by key id.

use super::store;
use crate::pool::KeyPool;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use worker::{Env, Result};

/// A provider's pool as shared inside the isolate.
pub type SharedPool = Rc<RefCell<KeyPool>>;

struct Cached {
    pool: SharedPool,
    loaded_at_ms: u64,
    reloading: bool,
}

/// What learned in the last this-many seconds is carried into a reloaded pool (its D1 write may still be in flight).
const CARRY_LEARNING_S: u64 = 30;

thread_local! {
    static POOLS: RefCell<HashMap<String, Cached>> = RefCell::new(HashMap::new());
}

/// The pool of `provider` when it can be used without reading D1: younger than `ttl_s`, or being reloaded by another
/// request meanwhile. `None`: call [`pool`].
pub fn ready(provider: &str, ttl_s: u32, now_ms: u64) -> Option<SharedPool> {
    let ttl_ms = u64::from(ttl_s) * 1_000;
    POOLS.with(|pools| {
        let pools = pools.borrow();
        let cached = pools.get(provider)?;
        (cached.reloading || now_ms.saturating_sub(cached.loaded_at_ms) < ttl_ms).then(|| cached.pool.clone())
    })
}

/// The pool of `provider`, reloading it from D1 when it is older than `ttl_s`. The D1 binding is looked up only for a
/// reload, so a cached pool costs no call into the runtime.
pub async fn pool(env: &Env, provider: &str, ttl_s: u32, now_ms: u64) -> Result<SharedPool> {
    if let Some(pool) = ready(provider, ttl_s, now_ms) {
        return Ok(pool);
    }
    // Stale (or never loaded) and nobody is reloading it: this request does, and others keep the stale pool meanwhile.
    let previous = POOLS.with(|pools| {
        pools.borrow_mut().get_mut(provider).map(|cached| {
            cached.reloading = true;
            cached.pool.clone()
        })
    });
    let loaded = match env.d1("DB") {
        Ok(db) => store::load_active_keys(&db, provider).await,
        Err(error) => Err(error),
    };
    let keys = match loaded {
        Ok(keys) => keys,
        Err(error) => {
            POOLS.with(|pools| pools.borrow_mut().get_mut(provider).map(|c| c.reloading = false));
            return Err(error);
        }
    };
    let mut fresh = KeyPool::new(keys);
    if let Some(previous) = &previous {
        fresh.carry_recent_learning(&previous.borrow(), now_ms / 1_000, CARRY_LEARNING_S);
    }
    let fresh = Rc::new(RefCell::new(fresh));
    POOLS.with(|pools| {
        pools.borrow_mut().insert(provider.to_string(), Cached { pool: fresh.clone(), loaded_at_ms: now_ms, reloading: false })
    });
    Ok(fresh)
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

/// Drops a provider's cached pool (after an admin change), so the next request reads D1.
pub fn invalidate(provider: &str) {
    POOLS.with(|pools| pools.borrow_mut().remove(provider));
}
