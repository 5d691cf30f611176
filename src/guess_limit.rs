//! One limit on guessing service keys, wherever a key is checked: the admin sign-in form, the admin JSON API, the
//! OpenAI-compatible routes and the native proxy. Pure: who the client is, the window and its budget, the
//! isolate's memory of locked and known clients, and every decision; the D1 statements that apply it live in
//! `edge::guess_limit`.
//!
//! # Who a client is
//!
//! The address in `cf-connecting-ip` (set by Cloudflare's edge, never by the client): an IPv4 address as it is,
//! an IPv6 address by its /64 network (one subscriber usually holds a whole /64, so a per-address limit would be
//! 2^64 limits), an IPv4-mapped IPv6 address as its IPv4 address. Requests without the header (only outside
//! Cloudflare) share one bucket. D1 stores a keyed hash of the client ([`TagKey`], HMAC-SHA256 under a key derived
//! from `AUTH_KEY` — the same derivation the sign-in throttle used before, so an IPv4 client's stored failures
//! carry over), never the address.
//!
//! # The budget
//!
//! A fixed window of [`WINDOW_S`] opens at a client's first failure; within it [`MAX_FAILURES`] wrong keys are
//! answered as such, and after that every attempt is answered 429 with `Retry-After` until the window ends —
//! including an attempt with the right key, so the answer of a locked client says nothing about its key.
//!
//! # What holds, and where
//!
//! *Sign-in form* (`POST /login`): each attempt is counted in D1 BEFORE its key is looked at, by one atomic
//! `INSERT … ON CONFLICT DO UPDATE SET failures = failures + 1 … RETURNING`; an attempt whose count is over the
//! budget is refused unchecked, and a right key gives its count back. However many attempts one client sends, in
//! parallel or through any number of isolates, at most [`MAX_FAILURES`] keys per window are judged wrong.
//!
//! *Bearer routes* (the proxy, `/api/compat/…`, `/admin/api/…`): the success path must not touch D1, so the count
//! comes after the (constant-time, local) check:
//! - a client this isolate knows to be locked is refused from memory, its key unchecked;
//! - a wrong key costs one atomic D1 statement (the same increment); it is answered 401 while the count is within
//!   the budget and 429 beyond, and the isolate remembers the lock once the budget is spent;
//! - a right key from a client this isolate has not vouched for WITH THAT KEY costs one read of the client's row
//!   (primary key): a locked client gets 429, any other is vouched for, for that key, for [`WINDOW_S`];
//! - a right key the isolate vouched for costs nothing.
//!
//! Across isolates D1 is the only shared state, so the guarantee is: a client gets at most [`MAX_FAILURES`] "wrong
//! key" answers per window; after that its right-key answers are 429 too, except for requests an isolate admits in
//! the time between its read of the row and the write of the lock by another isolate (one D1 round trip), and
//! except for a key an isolate already vouched for — which the client demonstrably holds. Vouching is per key, so
//! holding one valid key (say, a restricted one) never lets a client test others unchecked. An isolate's memory is
//! a cache: dropping it (eviction, a new isolate) costs a read, never the limit, because D1 holds the truth.
//!
//! If D1 fails, the sign-in form answers 500 as before (fail closed), while Bearer routes let a right key through
//! and answer a wrong one 401 uncounted (fail open): the limit defends against guessing, it is not the
//! authentication.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

/// The request header that names the client's address (set by Cloudflare's edge).
pub const CLIENT_HEADER: &str = "cf-connecting-ip";

/// Wrong keys answered as such per client and window; later attempts get 429.
pub const MAX_FAILURES: u32 = 10;
/// Length of a window in seconds.
pub const WINDOW_S: u64 = 15 * 60;
/// Most clients an isolate remembers in each of its two maps (about 100 KB at most); beyond, expired entries are
/// dropped, then the whole map (D1 still holds the truth).
pub const CACHE_ENTRIES: usize = 4_096;

/// Who is trying keys: an IPv4 address, an IPv6 /64 network, or the shared bucket of requests without an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    /// An IPv4 address (also from an IPv4-mapped IPv6 address).
    V4(Ipv4Addr),
    /// The first 64 bits of an IPv6 address.
    V6Net([u16; 4]),
    /// No usable `cf-connecting-ip`: one bucket for all such requests.
    Unknown,
}

impl Client {
    /// The client of a request, from its `cf-connecting-ip` header value.
    pub fn from_header(value: Option<&str>) -> Client {
        match value.map(str::trim).and_then(|v| v.parse::<IpAddr>().ok()) {
            Some(IpAddr::V4(address)) => Client::V4(address),
            Some(IpAddr::V6(address)) => match address.to_ipv4_mapped() {
                Some(v4) => Client::V4(v4),
                None => {
                    let s = address.segments();
                    Client::V6Net([s[0], s[1], s[2], s[3]])
                }
            },
            None => Client::Unknown,
        }
    }

    /// The text that is hashed into the stored tag.
    fn canonical(self) -> String {
        match self {
            Client::V4(address) => address.to_string(),
            Client::V6Net([a, b, c, d]) => format!("{a:x}:{b:x}:{c:x}:{d:x}::/64"),
            Client::Unknown => "unknown".to_string(),
        }
    }
}

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC accepts keys of every length; `new_from_slice` has no failing case for it.
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The key of the stored client tags, derived from the whole `AUTH_KEY`. `Debug` is not implemented: nothing here
/// may be printed.
pub struct TagKey([u8; 32]);

impl TagKey {
    /// `HMAC(AUTH_KEY, "one-balance login throttle v1")`: rotating `AUTH_KEY` forgets every stored failure.
    pub fn derive(auth_key: &str) -> TagKey {
        TagKey(mac(auth_key.as_bytes(), b"one-balance login throttle v1"))
    }

    /// What D1 stores for `client`: 32 hex digits of a keyed hash.
    pub fn tag(&self, client: Client) -> String {
        mac(&self.0, client.canonical().as_bytes())[..16].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A client's failures as D1 holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    /// Failures (for the sign-in form: attempts) counted in the current window.
    pub count: u32,
    /// Unix seconds when the window opened.
    pub window_start_s: u64,
}

impl Failures {
    fn window_end_s(self) -> u64 {
        self.window_start_s.saturating_add(WINDOW_S)
    }

    fn retry_after_s(self, now_s: u64) -> u64 {
        self.window_end_s().saturating_sub(now_s).max(1)
    }
}

/// Whether a key may be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Judge it.
    Open,
    /// Answer 429 with `Retry-After`.
    Closed {
        /// Seconds until the window ends (at least 1).
        retry_after_s: u64,
    },
}

/// The gate for a client with `stored` failures (none stored: open): closed once the budget is spent.
pub fn gate(stored: Option<Failures>, now_s: u64) -> Gate {
    match stored {
        Some(f) if f.count >= MAX_FAILURES && now_s < f.window_end_s() => Gate::Closed { retry_after_s: f.retry_after_s(now_s) },
        _ => Gate::Open,
    }
}

/// The gate for the attempt just counted (`counted` includes it): closed when it is over the budget.
pub fn gate_after_count(counted: Failures, now_s: u64) -> Gate {
    if counted.count > MAX_FAILURES && now_s < counted.window_end_s() {
        Gate::Closed { retry_after_s: counted.retry_after_s(now_s) }
    } else {
        Gate::Open
    }
}

/// What to do about a presented key on a Bearer route, before answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// 429 now: this isolate knows the client is locked. The key was not checked.
    Refuse {
        /// Seconds until the window ends.
        retry_after_s: u64,
    },
    /// The key is right and this isolate vouched for the client with it: go on, no D1.
    Admit,
    /// The key (definition `definition`) is right but not vouched for: read the client's row, then
    /// [`GuessCache::after_read`].
    Read {
        /// The definition the key matched.
        definition: usize,
    },
    /// The key is wrong: count it, then [`GuessCache::after_count`].
    Count,
}

/// What a counted wrong key is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Within the budget: say the key is wrong (401).
    Wrong,
    /// Over the budget (another attempt spent it first): 429, as a right key would get.
    Withheld {
        /// Seconds until the window ends.
        retry_after_s: u64,
    },
}

/// One isolate's memory of clients: who is locked until when, and which (client, key definition) pairs a right
/// key was admitted for, until when. A cache only; D1 holds the truth. `now_s` is always passed in.
#[derive(Debug, Default)]
pub struct GuessCache {
    locked: HashMap<Client, u64>,
    vouched: HashMap<(Client, usize), u64>,
}

impl GuessCache {
    /// Seconds until `client`'s lock ends, if this isolate knows it is locked.
    pub fn locked(&self, client: Client, now_s: u64) -> Option<u64> {
        self.locked.get(&client).filter(|until| now_s < **until).map(|until| until - now_s)
    }

    /// Whether this isolate admitted `client` with the key of `definition` within the last window.
    pub fn vouched(&self, client: Client, definition: usize, now_s: u64) -> bool {
        self.vouched.get(&(client, definition)).is_some_and(|until| now_s < *until)
    }

    /// The decision for a key presented by `client`; `check` recognises the key (the definition it matched, or
    /// `None` when it is wrong) and is not called for a locked client.
    pub fn decide(&self, client: Client, now_s: u64, check: impl FnOnce() -> Option<usize>) -> Decision {
        if let Some(retry_after_s) = self.locked(client, now_s) {
            return Decision::Refuse { retry_after_s };
        }
        match check() {
            Some(definition) if self.vouched(client, definition, now_s) => Decision::Admit,
            Some(definition) => Decision::Read { definition },
            None => Decision::Count,
        }
    }

    /// Learns what D1 holds for `client` after a right key of `definition` was read for: locked (remembered until
    /// the window ends), or vouched for with that key for [`WINDOW_S`].
    pub fn after_read(&mut self, client: Client, definition: usize, stored: Option<Failures>, now_s: u64) -> Gate {
        let verdict = gate(stored, now_s);
        match (verdict, stored) {
            (Gate::Closed { .. }, Some(failures)) => self.lock(client, failures.window_end_s(), now_s),
            _ => self.vouch(client, definition, now_s),
        }
        verdict
    }

    /// Learns the count D1 returned for a failure of `client` (this one included), and says what to answer.
    pub fn after_count(&mut self, client: Client, counted: Failures, now_s: u64) -> Counted {
        if counted.count >= MAX_FAILURES && now_s < counted.window_end_s() {
            self.lock(client, counted.window_end_s(), now_s);
        }
        match gate_after_count(counted, now_s) {
            Gate::Open => Counted::Wrong,
            Gate::Closed { retry_after_s } => Counted::Withheld { retry_after_s },
        }
    }

    /// Remembers `client` as locked until `until_s`, and forgets what was vouched for it.
    pub fn lock(&mut self, client: Client, until_s: u64, now_s: u64) {
        if self.locked.len() >= CACHE_ENTRIES {
            self.locked.retain(|_, until| now_s < *until);
            if self.locked.len() >= CACHE_ENTRIES {
                self.locked.clear();
            }
        }
        self.locked.insert(client, until_s);
        self.vouched.retain(|(c, _), _| *c != client);
    }

    /// Remembers that a right key of `definition` from `client` was admitted after a read of D1.
    pub fn vouch(&mut self, client: Client, definition: usize, now_s: u64) {
        if self.vouched.len() >= CACHE_ENTRIES {
            self.vouched.retain(|_, until| now_s < *until);
            if self.vouched.len() >= CACHE_ENTRIES {
                self.vouched.clear();
            }
        }
        self.vouched.insert((client, definition), now_s.saturating_add(WINDOW_S));
    }

    /// How many clients and (client, key) pairs are remembered.
    pub fn len(&self) -> (usize, usize) {
        (self.locked.len(), self.vouched.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_764_000_000;

    fn v4(text: &str) -> Client {
        Client::from_header(Some(text))
    }

    #[test]
    fn ipv4_is_the_address_ipv6_its_slash_64_and_nothing_one_shared_bucket() {
        assert_eq!(v4("203.0.113.9"), Client::V4(Ipv4Addr::new(203, 0, 113, 9)));
        assert_eq!(v4(" 203.0.113.9 "), v4("203.0.113.9"));
        assert_ne!(v4("203.0.113.9"), v4("203.0.113.10"));
        assert_eq!(v4("2001:db8:1:2:aaaa::1"), v4("2001:db8:1:2:ffff:ffff:ffff:ffff"), "one /64 is one client");
        assert_ne!(v4("2001:db8:1:2::1"), v4("2001:db8:1:3::1"));
        assert_eq!(v4("::ffff:203.0.113.9"), v4("203.0.113.9"), "IPv4-mapped");
        assert_eq!(Client::from_header(None), Client::Unknown);
        assert_eq!(v4(""), Client::Unknown);
        assert_eq!(v4("not an address"), Client::Unknown);
        assert_eq!(v4("203.0.113.9, 198.51.100.1"), Client::Unknown, "a list is not an address");
    }

    #[test]
    fn tags_are_keyed_hashes_that_hide_the_address() {
        let key = TagKey::derive("admin-secret-0123456;app=openai");
        let tag = key.tag(v4("203.0.113.9"));
        assert_eq!(tag.len(), 32);
        assert!(tag.bytes().all(|b| b.is_ascii_hexdigit()) && !tag.contains("203"));
        assert_eq!(tag, key.tag(v4("203.0.113.9")));
        assert_ne!(tag, key.tag(v4("203.0.113.10")));
        assert_ne!(tag, TagKey::derive("rotated-0123456789abcdef").tag(v4("203.0.113.9")));
        assert_eq!(key.tag(v4("2001:db8::1")), key.tag(v4("2001:db8::2")));
    }

    #[test]
    fn ipv4_tags_match_the_sign_in_throttle_they_replace() {
        // `admin::session::AdminKeys::client_tag` hashed the raw address under the same derived key.
        let auth = "admin-secret-0123456;app=openai";
        let old = crate::admin::session::AdminKeys::derive(auth).client_tag("203.0.113.9");
        assert_eq!(TagKey::derive(auth).tag(v4("203.0.113.9")), old);
        assert_eq!(TagKey::derive(auth).tag(Client::Unknown), crate::admin::session::AdminKeys::derive(auth).client_tag("unknown"));
    }

    #[test]
    fn the_gate_closes_when_the_budget_is_spent_and_opens_when_the_window_ends() {
        assert_eq!(gate(None, NOW), Gate::Open);
        for count in 0..MAX_FAILURES {
            assert_eq!(gate(Some(Failures { count, window_start_s: NOW }), NOW + 10), Gate::Open, "{count}");
        }
        let spent = Some(Failures { count: MAX_FAILURES, window_start_s: NOW });
        assert_eq!(gate(spent, NOW + 100), Gate::Closed { retry_after_s: WINDOW_S - 100 });
        assert_eq!(gate(spent, NOW + WINDOW_S - 1), Gate::Closed { retry_after_s: 1 });
        assert_eq!(gate(spent, NOW + WINDOW_S), Gate::Open);
        let ahead = Some(Failures { count: MAX_FAILURES, window_start_s: NOW + 60 });
        assert_eq!(gate(ahead, NOW), Gate::Closed { retry_after_s: WINDOW_S + 60 }, "a window stamped by a clock ahead of ours");
    }

    #[test]
    fn a_counted_attempt_is_judged_only_within_the_budget() {
        // The sign-in form counts first: attempts 1..=MAX are judged, the next ones are not.
        for count in 1..=MAX_FAILURES {
            assert_eq!(gate_after_count(Failures { count, window_start_s: NOW }, NOW), Gate::Open, "{count}");
        }
        assert_eq!(gate_after_count(Failures { count: MAX_FAILURES + 1, window_start_s: NOW }, NOW + 5), Gate::Closed { retry_after_s: WINDOW_S - 5 });
        assert_eq!(gate_after_count(Failures { count: 99, window_start_s: NOW - WINDOW_S }, NOW), Gate::Open, "an old window");
    }

    #[test]
    fn parallel_attempts_get_at_most_the_budget_of_verdicts() {
        // D1's increment hands each of N parallel attempts a distinct count 1..=N: only MAX of them are judged.
        let judged = (1..=30).filter(|count| gate_after_count(Failures { count: *count, window_start_s: NOW }, NOW) == Gate::Open).count();
        assert_eq!(judged, MAX_FAILURES as usize);
    }

    #[test]
    fn a_wrong_key_is_counted_and_a_spent_budget_locks_the_client_in_the_isolate() {
        let mut cache = GuessCache::default();
        let client = v4("198.51.100.7");
        assert_eq!(cache.decide(client, NOW, || None), Decision::Count);
        for count in 1..MAX_FAILURES {
            assert_eq!(cache.after_count(client, Failures { count, window_start_s: NOW }, NOW), Counted::Wrong);
            assert_eq!(cache.locked(client, NOW), None);
        }
        assert_eq!(cache.after_count(client, Failures { count: MAX_FAILURES, window_start_s: NOW }, NOW + 1), Counted::Wrong, "the last one of the budget");
        assert_eq!(cache.locked(client, NOW + 1), Some(WINDOW_S - 1));
        let mut checked = false;
        let decision = cache.decide(client, NOW + 2, || {
            checked = true;
            Some(0)
        });
        assert_eq!(decision, Decision::Refuse { retry_after_s: WINDOW_S - 2 });
        assert!(!checked, "a locked client's key is not even checked");
        assert_eq!(cache.decide(client, NOW + WINDOW_S, || Some(0)), Decision::Read { definition: 0 }, "the lock ends with the window");
        assert_eq!(cache.decide(v4("198.51.100.8"), NOW + 2, || Some(0)), Decision::Read { definition: 0 }, "other clients are unaffected");
    }

    #[test]
    fn an_over_budget_wrong_key_is_withheld_like_a_right_one() {
        let mut cache = GuessCache::default();
        let client = v4("198.51.100.9");
        let answer = cache.after_count(client, Failures { count: MAX_FAILURES + 3, window_start_s: NOW }, NOW + 10);
        assert_eq!(answer, Counted::Withheld { retry_after_s: WINDOW_S - 10 });
        assert_eq!(cache.locked(client, NOW + 10), Some(WINDOW_S - 10));
    }

    #[test]
    fn a_right_key_is_read_for_once_and_then_vouched_for_that_key_only() {
        let mut cache = GuessCache::default();
        let client = v4("192.0.2.44");
        assert_eq!(cache.decide(client, NOW, || Some(3)), Decision::Read { definition: 3 });
        assert_eq!(cache.after_read(client, 3, None, NOW), Gate::Open);
        assert_eq!(cache.decide(client, NOW + 1, || Some(3)), Decision::Admit, "no D1 for a vouched client");
        assert_eq!(cache.decide(client, NOW + 1, || Some(4)), Decision::Read { definition: 4 }, "another key is read for");
        assert_eq!(cache.decide(client, NOW + WINDOW_S, || Some(3)), Decision::Read { definition: 3 }, "once per window");
        let stored = Some(Failures { count: 2, window_start_s: NOW });
        assert_eq!(cache.after_read(client, 5, stored, NOW), Gate::Open, "failures within the budget");
        assert!(cache.vouched(client, 5, NOW));
    }

    #[test]
    fn a_locked_client_with_a_right_key_is_refused_and_remembered_and_its_vouches_dropped() {
        let mut cache = GuessCache::default();
        let client = v4("192.0.2.45");
        cache.vouch(client, 1, NOW);
        let stored = Some(Failures { count: MAX_FAILURES, window_start_s: NOW - 100 });
        assert_eq!(cache.after_read(client, 2, stored, NOW), Gate::Closed { retry_after_s: WINDOW_S - 100 });
        assert_eq!(cache.locked(client, NOW), Some(WINDOW_S - 100));
        assert!(!cache.vouched(client, 1, NOW), "a lock forgets what was vouched");
        assert!(!cache.vouched(client, 2, NOW));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let mut cache = GuessCache::default();
        for i in 0..(CACHE_ENTRIES as u32 * 2 + 5) {
            let client = Client::V4(Ipv4Addr::from(i));
            cache.vouch(client, 0, NOW);
            cache.lock(Client::V4(Ipv4Addr::from(u32::MAX - i)), NOW + 10, NOW);
        }
        let (locked, vouched) = cache.len();
        assert!(locked <= CACHE_ENTRIES && vouched <= CACHE_ENTRIES, "{locked} {vouched}");
        cache.vouch(v4("10.0.0.1"), 0, NOW + WINDOW_S * 2);
        assert!(cache.vouched(v4("10.0.0.1"), 0, NOW + WINDOW_S * 2));
    }
}
