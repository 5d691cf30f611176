// one-balance Worker configuration.
//
// This file is the template. `npm run init:config` (also run by `scripts/dev` and `npm run deploycf`) copies it to
// `wrangler.jsonc` once; after that `wrangler.jsonc` is yours to edit and is never overwritten.
// AUTH_KEY is NOT configured here: it is a secret (`wrangler secret put AUTH_KEY`, or `.dev.vars` locally).
{
  "$schema": "node_modules/wrangler/config-schema.json",
  "name": "one-balance",
  "main": "build/index.js",
  "compatibility_date": "2026-08-01",
  "build": {
    // Tools come from `cargo install` and node_modules (see scripts/lib/toolchain.sh); nothing is downloaded here.
    "command": "worker-build --release"
  },
  "vars": {
    // Comma-separated AI Gateway names; one is picked at random per upstream attempt.
    "AI_GATEWAY": "one-balance",
    // Your Cloudflare account id (deploycf fills it in from `wrangler whoami`).
    "CLOUDFLARE_ACCOUNT_ID": "",
    // Consecutive 429s on one (key, model) before the key cools until the provider's daily reset.
    "CONSECUTIVE_429_THRESHOLD": "2",
    // Distinct pool keys tried for one request.
    "MAX_ATTEMPTS": "10",
    // How often (seconds) an isolate asks D1 which keys changed (a poll every half of it, reading only changed
    // rows): a cooldown learned by one isolate reaches the others within this. 0 re-reads the pool on every request.
    "KEY_CACHE_TTL_SECONDS": "10",
    // Most keys of one provider an isolate holds (16 to 20000); a larger pool is held as a window of this many from
    // a random point, and the next window is read when one has no usable key.
    "KEY_WINDOW_SIZE": "1024",
    // Sticky keys: "on" keeps a conversation on one key while it is usable (named by the client, or a fingerprint of
    // its start), "named" only for sessions a header or body field names, "off" never.
    "SESSION_AFFINITY": "on",
    // Seconds between two writes of an isolate's per-key usage figures (requests, 429s, errors) to D1, 0 to 86400.
    // Each write costs one D1 row per key used since the last one; raise it if the free plan's 100,000 rows
    // written per day get tight (see README).
    "USAGE_FLUSH_SECONDS": "300",
    // Model names a client sends without a provider, sent to pool models: comma-separated pattern=provider/model,
    // a trailing * matching any ending, the first match winning. Claude Code sends its own names (claude-sonnet-…,
    // claude-haiku-…, claude-opus-…) and Codex its own (gpt-5.5), e.g.
    // "claude-haiku-*=google-ai-studio/gemini-2.5-flash,claude-*=google-ai-studio/gemini-2.5-pro,gpt-5*=google-ai-studio/gemini-2.5-pro"
    "MODEL_ALIASES": "",
    // Time allowed for an upstream to send response headers.
    "UPSTREAM_TIMEOUT_MS": "60000"
  },
  "d1_databases": [
    {
      "binding": "DB",
      "database_name": "one-balance",
      "database_id": "00000000-0000-0000-0000-000000000000",
      "migrations_dir": "migrations"
    }
  ],
  // The scheduled re-check of blocked and exhausted keys (a few keys per run; each key backs off 1 h, 2 h, 4 h … a day).
  "triggers": { "crons": ["*/15 * * * *"] },
  // Workers Logs keeps what the Worker logs (it never logs a key), but not the invocation log of each request: that
  // records the request URL with its query, and Gemini clients may put the service key in `?key=`.
  "observability": { "enabled": true, "logs": { "invocation_logs": false } },
  "dev": { "ip": "127.0.0.1", "port": 8787, "local_protocol": "http" }
}
