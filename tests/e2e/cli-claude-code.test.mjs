// The real Claude Code CLI (`claude -p`, 2.1.332 from the pinned devDependency) against the built Worker: on an
// Anthropic pool through the native route, and on a Gemini pool through /api/compat with its own Claude model name
// sent where MODEL_ALIASES says — each with the service key as ANTHROPIC_API_KEY (x-api-key) and as
// ANTHROPIC_AUTH_TOKEN (Bearer) — plus a Bash tool round trip and a 429 it never sees. Claude Code prints the mock's
// answer; the mock sees pool keys only.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";
import { anthropic, chat, gemini } from "../harness/providers.mjs";
import { seedKeys } from "./support/pool.mjs";
import { assertPoolKeysOnly, claude, describeRun, installed } from "./support/clients.mjs";

const SERVICE_KEY = "ob-e2e-claude-code-7a3e91c0d5b2";
const GEMINI_CHAT = "/google-ai-studio/v1beta/openai/chat/completions";

describe("Claude Code through the Worker", { skip: !installed("claude") && "Claude Code is not installed (npm ci)", timeout: 300_000 }, () => {
  let mock;
  let worker;
  let pools;

  before(async () => {
    mock = await startMock();
    worker = await startWorker({ vars: { AUTH_KEY: SERVICE_KEY, MODEL_ALIASES: "claude-*=google-ai-studio/gemini-2.5-flash", KEY_CACHE_TTL_SECONDS: "0" }, mock });
    pools = { anthropic: await seedKeys(worker, "anthropic", 2), gemini: await seedKeys(worker, "google-ai-studio", 2) };
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });
  beforeEach(() => mock.reset());

  /** The mock saw only pool keys, each where its provider takes it, and never the service key. */
  const poolKeysOnly = () =>
    assertPoolKeysOnly(mock, SERVICE_KEY, (req) =>
      req.path.startsWith("/anthropic/")
        ? { key: req.headers["x-api-key"], pool: pools.anthropic }
        : { key: req.headers.authorization?.replace(/^Bearer /, ""), pool: pools.gemini },
    );

  for (const auth of ["api-key", "token"]) {
    test(`an Anthropic pool: ANTHROPIC_BASE_URL=…/api/anthropic, the service key as ${auth === "token" ? "ANTHROPIC_AUTH_TOKEN" : "ANTHROPIC_API_KEY"}`, async () => {
      mock.on({ method: "POST", path: "/anthropic/v1/messages" }, anthropic.stream({ texts: ["MOCK-", "ANSWER-42"] }));
      const r = await claude({ baseUrl: `${worker.url}/api/anthropic`, key: SERVICE_KEY, auth, prompt: "Say hi" });
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(r.stdout.trim(), "MOCK-ANSWER-42", describeRun(r));
      assert.equal(mock.requests.length, 1);
      const up = mock.requests[0];
      assert.equal(up.url, "/anthropic/v1/messages?beta=true");
      assert.equal(up.json().stream, true);
      assert.match(up.headers["anthropic-beta"], /claude-code/, "Claude Code's betas reach Anthropic");
      assert.equal(up.headers.authorization, undefined);
      poolKeysOnly();
    });

    test(`a Gemini pool: ANTHROPIC_BASE_URL=…/api/compat, its Claude model mapped by MODEL_ALIASES, the key as ${auth === "token" ? "ANTHROPIC_AUTH_TOKEN" : "ANTHROPIC_API_KEY"}`, async () => {
      if (auth === "api-key") mock.queue(gemini.rateLimited({ retryDelay: "30s" }));
      mock.on({ method: "POST", path: GEMINI_CHAT }, chat.stream({ texts: ["MOCK-", "ANSWER-42"] }));
      const r = await claude({ baseUrl: `${worker.url}/api/compat`, key: SERVICE_KEY, auth, prompt: "Say hi" });
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(r.stdout.trim(), "MOCK-ANSWER-42", describeRun(r));
      const posts = mock.requests.filter((q) => q.path === GEMINI_CHAT);
      assert.equal(posts.length, auth === "api-key" ? 2 : 1, "a 429 on the first key was retried on the other, unseen");
      const body = posts.at(-1).json();
      assert.equal(body.model, "gemini-2.5-flash");
      assert.equal(body.stream, true);
      assert.equal(body.messages[0].role, "system");
      poolKeysOnly();
    });
  }

  test("a Bash tool round trip on a Gemini pool: tool_use converted out, the tool's output converted back", async () => {
    mock.queue(
      chat.stream({ toolCalls: [{ id: "function-call-1", name: "Bash", args: { command: "echo TOOL-OUTPUT-7", description: "Print a marker" }, signature: "c2lnbmF0dXJl" }] }),
      chat.stream({ texts: ["DONE-", "7"] }),
    );
    const r = await claude({ baseUrl: `${worker.url}/api/compat`, key: SERVICE_KEY, prompt: "Run the marker command", args: ["--allowedTools", "Bash"] });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stdout.trim(), "DONE-7", describeRun(r));
    assert.equal(mock.requests.length, 2);
    const second = mock.requests[1].json();
    const call = second.messages.find((m) => m.role === "assistant" && m.tool_calls)?.tool_calls[0];
    assert.equal(call.id, "function-call-1");
    assert.deepEqual(call.extra_content, { google: { thought_signature: "c2lnbmF0dXJl" } }, "the signature went to Claude Code inside the id and came back");
    const result = second.messages.find((m) => m.role === "tool");
    assert.equal(result.tool_call_id, "function-call-1");
    assert.match(result.content, /TOOL-OUTPUT-7/);
    poolKeysOnly();
  });
});
