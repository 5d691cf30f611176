// The real Codex CLI (`codex exec`, 0.171.0 from the pinned devDependency) against the built Worker: on a Gemini
// pool through /api/compat/responses (converted statelessly; Codex's hosted tools left out), with an exec_command
// round trip, and on an OpenAI pool through `base_url = …/api/openai/v1` as guides write it (OpenAI's own Responses
// API at `…/openai/responses`, not `/v1/v1/responses`). Codex prints the mock's answer; the mock sees pool keys only.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";
import { chat, gemini, openai } from "../harness/providers.mjs";
import { seedKeys } from "./support/pool.mjs";
import { assertPoolKeysOnly, codex, describeRun, installed } from "./support/clients.mjs";

const SERVICE_KEY = "ob-e2e-codex-c48d17e2a9f6";
const GEMINI_CHAT = "/google-ai-studio/v1beta/openai/chat/completions";

describe("Codex through the Worker", { skip: !installed("codex") && "Codex is not installed (npm ci)", timeout: 300_000 }, () => {
  let mock;
  let worker;
  let pools;

  before(async () => {
    mock = await startMock();
    worker = await startWorker({ vars: { AUTH_KEY: SERVICE_KEY, KEY_CACHE_TTL_SECONDS: "0" }, mock });
    pools = { openai: await seedKeys(worker, "openai", 2), gemini: await seedKeys(worker, "google-ai-studio", 2) };
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });
  beforeEach(() => mock.reset());

  /** The mock saw only pool keys (as `Authorization: Bearer`), each of its provider's pool, never the service key. */
  const poolKeysOnly = () =>
    assertPoolKeysOnly(mock, SERVICE_KEY, (req) => ({
      key: req.headers.authorization?.startsWith("Bearer ") ? req.headers.authorization.slice("Bearer ".length) : undefined,
      pool: req.path.startsWith("/openai/") ? pools.openai : pools.gemini,
    }));

  test("a Gemini pool: base_url = …/api/compat, model google-ai-studio/gemini-2.5-flash, a 429 it never sees", async () => {
    mock.queue(gemini.rateLimited({ retryDelay: "30s" }));
    mock.on({ method: "POST", path: GEMINI_CHAT }, chat.stream({ texts: ["MOCK-", "ANSWER-42"] }));
    const r = await codex({ baseUrl: `${worker.url}/api/compat`, key: SERVICE_KEY, model: "google-ai-studio/gemini-2.5-flash", prompt: "Say hi" });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stdout.trim(), "MOCK-ANSWER-42", describeRun(r));
    assert.equal(mock.requests.length, 2, "the 429 was retried on the other key");
    const body = mock.requests[1].json();
    assert.equal(body.model, "gemini-2.5-flash");
    assert.equal(body.stream, true);
    assert.ok(body.tools.every((t) => t.type === "function"), "hosted and custom tools are left out");
    await worker.waitForLog(/left out tools a chat API cannot run/);
    poolKeysOnly();
  });

  test("an exec_command round trip on a Gemini pool: function_call out, function_call_output back", async () => {
    mock.queue(
      chat.stream({ toolCalls: [{ id: "function-call-1", name: "exec_command", args: { cmd: "echo TOOL-OUTPUT-7" } }] }),
      chat.stream({ texts: ["DONE-", "7"] }),
    );
    const r = await codex({
      baseUrl: `${worker.url}/api/compat`,
      key: SERVICE_KEY,
      model: "google-ai-studio/gemini-2.5-flash",
      prompt: "Run the marker command",
      // The command runs outside Codex's sandbox: bubblewrap may be unavailable in a CI container.
      args: ["--dangerously-bypass-approvals-and-sandbox"],
    });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stdout.trim(), "DONE-7", describeRun(r));
    assert.equal(mock.requests.length, 2);
    const second = mock.requests[1].json();
    const call = second.messages.find((m) => m.role === "assistant" && m.tool_calls)?.tool_calls[0];
    assert.equal(call.id, "function-call-1");
    assert.equal(call.function.name, "exec_command");
    const output = second.messages.find((m) => m.role === "tool");
    assert.equal(output.tool_call_id, "function-call-1");
    assert.match(output.content, /TOOL-OUTPUT-7/);
    poolKeysOnly();
  });

  test("an OpenAI pool: base_url = …/api/openai/v1 reaches OpenAI's own /responses", async () => {
    mock.on({ method: "POST", path: "/openai/responses" }, openai.responsesStream({ deltas: ["MOCK-", "ANSWER-42"], model: "gpt-5.5" }));
    const r = await codex({ baseUrl: `${worker.url}/api/openai/v1`, key: SERVICE_KEY, model: "gpt-5.5", prompt: "Say hi" });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stdout.trim(), "MOCK-ANSWER-42", describeRun(r));
    assert.deepEqual(mock.requests.map((q) => q.path), ["/openai/responses"]);
    const body = mock.requests[0].json();
    assert.equal(body.model, "gpt-5.5");
    assert.equal(body.store, false);
    assert.ok(body.tools.some((t) => t.type === "web_search"), "OpenAI gets Codex's request as it was, hosted tools included");
    poolKeysOnly();
  });
});
