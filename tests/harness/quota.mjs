// A Gemini upstream that enforces real per-key quotas, for the scale tests: each pool key may make `perWindow`
// requests per window of `windowMs` (a per-minute quota, with a shorter "minute" so a test runs in seconds) and
// `perDay` requests in all. Windows are aligned to the clock, as Google's are, so every key's window resets at the same
// moment. Over a quota the key gets Gemini's real 429:
//   details: true  → RESOURCE_EXHAUSTED with a QuotaFailure naming the window (…PerMinute… or …PerDay…) and an honest
//                    RetryInfo (the time left in the window);
//   details: false → RESOURCE_EXHAUSTED with no details at all, and a Retry-After header with the time left in the
//                    window (for the per-day quota: the same short hint, as some providers send).
//
//   const quota = geminiQuota({ perWindow: 4, windowMs: 10_000, perDay: 1_000 });
//   mock.on(() => true, quota.reply);
//   quota.stats(); quota.log;
import { gemini } from "./providers.mjs";

const MINUTE_QUOTA = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier";
const DAY_QUOTA = "GenerateRequestsPerDayPerProjectPerModel-FreeTier";

/**
 * @param {{ perWindow: number, windowMs: number, perDay: number, details?: boolean, perDayFor?: Record<string, number>,
 *   keyOf?: (req: object) => string, now?: () => number }} options  `perDayFor` overrides `perDay` for some keys.
 */
export function geminiQuota({ perWindow, windowMs, perDay, details = true, perDayFor = {}, keyOf, now = Date.now }) {
  const keyFrom = keyOf ?? ((req) => req.headers["x-goog-api-key"]);
  const state = new Map(); // key -> { window, inWindow, day, served, limitedMinute, limitedDay }
  const log = []; // { at, key, outcome: "ok" | "minute" | "day" }

  const entry = (key) => {
    let e = state.get(key);
    if (!e) {
      e = { window: -1, inWindow: 0, day: 0, served: 0, limitedMinute: 0, limitedDay: 0 };
      state.set(key, e);
    }
    return e;
  };

  const secondsLeft = (t) => Math.max(1, Math.ceil((windowMs - (t % windowMs)) / 1000));

  function reply(req) {
    const key = keyFrom(req);
    const t = now();
    const e = entry(key);
    const window = Math.floor(t / windowMs);
    if (window !== e.window) {
      e.window = window;
      e.inWindow = 0;
    }
    const dayLimit = perDayFor[key] ?? perDay;
    if (e.day >= dayLimit) {
      e.limitedDay++;
      log.push({ at: t, key, outcome: "day" });
      return details ? withDelay(gemini.dailyQuotaExhausted(), null) : plain(secondsLeft(t));
    }
    if (e.inWindow >= perWindow) {
      e.limitedMinute++;
      log.push({ at: t, key, outcome: "minute" });
      return details ? withDelay(gemini.rateLimited({ quotaId: MINUTE_QUOTA }), `${secondsLeft(t)}s`) : plain(secondsLeft(t));
    }
    e.inWindow++;
    e.day++;
    e.served++;
    log.push({ at: t, key, outcome: "ok" });
    return gemini.success(`served by ${key.slice(-6)}`);
  }

  function withDelay(reply, retryDelay) {
    const detailsList = reply.body.error.details;
    const info = detailsList.find((d) => d["@type"] === "type.googleapis.com/google.rpc.RetryInfo");
    if (retryDelay !== null && info) info.retryDelay = retryDelay;
    return reply;
  }

  function plain(seconds) {
    const reply = gemini.rateLimitedPlain();
    reply.headers = { ...reply.headers, "retry-after": String(seconds) };
    return reply;
  }

  /** Whether `key` has used its whole daily quota. */
  const outForTheDay = (key) => entry(key).day >= (perDayFor[key] ?? perDay);

  /** Per-key figures. */
  const stats = () => Object.fromEntries([...state].map(([k, e]) => [k, { ...e }]));

  /** Whether some key could still have served a request at time `t` (its daily and window quotas not used up). */
  function anyKeyHadQuotaAt(keys, t) {
    const window = Math.floor(t / windowMs);
    return keys.some((key) => {
      const upTo = log.filter((l) => l.key === key && l.at <= t && l.outcome === "ok");
      const day = upTo.length;
      const inWindow = upTo.filter((l) => Math.floor(l.at / windowMs) === window).length;
      return day < (perDayFor[key] ?? perDay) && inWindow < perWindow;
    });
  }

  return { reply, stats, log, outForTheDay, anyKeyHadQuotaAt, quotaIds: { minute: MINUTE_QUOTA, day: DAY_QUOTA } };
}
