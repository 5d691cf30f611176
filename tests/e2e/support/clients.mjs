// The coding-agent CLIs the e2e tests drive headless against the Worker — Claude Code (`claude -p`), Codex
// (`codex exec`) and Gemini CLI (`gemini -p`) — from the pinned npm devDependencies (their platform binaries ship
// inside the npm packages; nothing is downloaded at run time). Each run gets a fresh HOME and TMPDIR, an
// environment that holds only what the CLI needs (the caller's real keys never leak in), and every switch that
// stops the CLI's own outside traffic (telemetry, update checks, plugin sync), as measured in
// /work/notes/clients/REPORT.md: with these, the CLIs contacted nothing but the base URL on 127.0.0.1.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ROOT } from "../../harness/project.mjs";

const BIN = join(ROOT, "node_modules", ".bin");
/** The node running the tests, first on the CLIs' PATH (Codex's and Gemini CLI's launchers are node scripts). */
const PATH = `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`;

/** Whether the CLI `name` (claude, codex, gemini) is installed. */
export const installed = (name) => existsSync(join(BIN, name));

/** A fresh home for one run, under `base` (Codex refuses to put helper binaries under /tmp: /var/tmp then). */
function freshHome(base = tmpdir()) {
  const home = mkdtempSync(join(base, "ob-cli-"));
  mkdirSync(join(home, "work"));
  mkdirSync(join(home, "tmp"));
  return home;
}

/**
 * Runs `bin` with `args` and exactly `env` (plus PATH, HOME, TMPDIR), stdin closed (`codex exec` waits for EOF on
 * an open pipe), in `home/work`. Resolves `{ code, stdout, stderr, ms }`; kills the process group after `timeoutMs`.
 */
function run(bin, args, env, home, timeoutMs) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(join(BIN, bin), args, {
      cwd: join(home, "work"),
      env: { PATH, HOME: home, TMPDIR: join(home, "tmp"), TERM: "dumb", LANG: "C.UTF-8", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      rmSync(home, { recursive: true, force: true });
      resolve({ code: code ?? signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/**
 * Claude Code, `claude -p prompt`, with `ANTHROPIC_BASE_URL = baseUrl` and the key as `ANTHROPIC_API_KEY`
 * (`x-api-key`) or, with `auth: "token"`, `ANTHROPIC_AUTH_TOKEN` (`Authorization: Bearer`). `model` goes in
 * `ANTHROPIC_MODEL` (unset: Claude Code's default Claude model). Retries off, so an error shows at once.
 */
export function claude({ baseUrl, key, auth = "api-key", prompt, model, args = [], timeoutMs = 90_000 }) {
  const env = {
    ANTHROPIC_BASE_URL: baseUrl,
    [auth === "token" ? "ANTHROPIC_AUTH_TOKEN" : "ANTHROPIC_API_KEY"]: key,
    ...(model ? { ANTHROPIC_MODEL: model } : {}),
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_TELEMETRY: "1",
    DISABLE_ERROR_REPORTING: "1",
    DISABLE_AUTOUPDATER: "1",
    CLAUDE_CODE_MAX_RETRIES: "0",
  };
  return run("claude", ["-p", prompt, ...args], env, freshHome(), timeoutMs);
}

/**
 * Codex, `codex exec prompt`, with a `model_providers.pool` whose `base_url` is `baseUrl` (Codex POSTs to
 * `{base_url}/responses`) and whose key is the env var ONE_BALANCE_KEY. Plugin sync, analytics, feedback and
 * OpenTelemetry off; no retries of its own.
 */
export function codex({ baseUrl, key, prompt, model, args = [], timeoutMs = 90_000 }) {
  const home = freshHome(existsSync("/var/tmp") ? "/var/tmp" : tmpdir());
  mkdirSync(join(home, ".codex"));
  writeFileSync(
    join(home, ".codex", "config.toml"),
    [
      `model = ${JSON.stringify(model)}`,
      'model_provider = "pool"',
      "check_for_update_on_startup = false",
      "features.plugins = false",
      "",
      "[model_providers.pool]",
      'name = "one-balance"',
      `base_url = ${JSON.stringify(baseUrl)}`,
      'env_key = "ONE_BALANCE_KEY"',
      'wire_api = "responses"',
      "request_max_retries = 0",
      "stream_max_retries = 0",
      "",
      "[analytics]",
      "enabled = false",
      "",
      "[feedback]",
      "enabled = false",
      "",
      "[otel]",
      'exporter = "none"',
      "log_user_prompt = false",
      "",
    ].join("\n"),
  );
  const env = { CODEX_HOME: join(home, ".codex"), ONE_BALANCE_KEY: key };
  return run("codex", ["exec", "--skip-git-repo-check", "--ephemeral", "--color", "never", ...args, prompt], env, home, timeoutMs);
}

/**
 * Gemini CLI, `gemini -m model -p prompt`, with `GOOGLE_GEMINI_BASE_URL = baseUrl` and `GEMINI_API_KEY = key`
 * (`x-goog-api-key`). settings.json selects the API-key auth (headless mode refuses the "gateway" auth a custom
 * base URL would otherwise pick: exit 41), turns usage statistics, telemetry and auto-update off, and allows one
 * attempt (a 429 that reached it would fail the run).
 */
export function gemini({ baseUrl, key, prompt, model, args = [], timeoutMs = 90_000 }) {
  const home = freshHome();
  mkdirSync(join(home, ".gemini"));
  const settings = {
    security: { auth: { selectedType: "gemini-api-key" } },
    privacy: { usageStatisticsEnabled: false },
    telemetry: { enabled: false },
    general: { enableAutoUpdate: false, enableAutoUpdateNotification: false, maxAttempts: 1 },
  };
  writeFileSync(join(home, ".gemini", "settings.json"), JSON.stringify(settings, null, 2));
  const env = { GOOGLE_GEMINI_BASE_URL: baseUrl, GEMINI_API_KEY: key, GEMINI_CLI_TRUST_WORKSPACE: "true", GEMINI_CLI_NO_RELAUNCH: "true" };
  return run("gemini", ["-m", model, "-p", prompt, ...args], env, home, timeoutMs);
}

/** A one-line account of a run, for assertion messages. */
export const describeRun = (r) => `exit ${r.code} after ${r.ms} ms\n--- stdout ---\n${r.stdout.slice(-2000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;

/**
 * Asserts that a CLI run reached the mock, that the service key appears in none of the requests the mock saw, and
 * that each carried a key of its pool: `keyAndPool(req)` says which key the request carries and which pool (seeded
 * keys) it must come from.
 * @param {{ requests: any[] }} mock
 * @param {string} serviceKey
 * @param {(req: any) => { key: string | undefined, pool: { key: string }[] }} keyAndPool
 */
export function assertPoolKeysOnly(mock, serviceKey, keyAndPool) {
  assert.ok(mock.requests.length > 0);
  for (const req of mock.requests) {
    assert.ok(!(JSON.stringify(req.headers) + req.text()).includes(serviceKey), `the service key reached ${req.path}`);
    const { key, pool } = keyAndPool(req);
    assert.ok(pool.some((k) => k.key === key), `a pool key on ${req.path}`);
  }
}
