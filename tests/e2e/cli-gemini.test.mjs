// The real Gemini CLI (`gemini -p`, 0.61.0 from the pinned devDependency) against the built Worker's native
// Gemini route, set up as the README says (GOOGLE_GEMINI_BASE_URL, GEMINI_API_KEY = the service key, settings.json
// `security.auth.selectedType: "gemini-api-key"`), with the first pool key answering 429: the Worker retries on the
// other key, so the CLI — allowed one attempt — never sees it and prints the mock's answer. The mock sees pool keys
// only.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "../harness/worker.mjs";
import { startMock } from "../harness/mock-upstream.mjs";
import { gemini as geminiReplies } from "../harness/providers.mjs";
import { seedKeys, waitFor } from "./support/pool.mjs";
import { describeRun, gemini, installed } from "./support/clients.mjs";

const SERVICE_KEY = "ob-e2e-gemini-cli-1b7f4d09e36a";

describe("Gemini CLI through the Worker", { skip: !installed("gemini") && "Gemini CLI is not installed (npm ci)", timeout: 300_000 }, () => {
  let mock;
  let worker;
  let pool;

  before(async () => {
    mock = await startMock();
    worker = await startWorker({ vars: { AUTH_KEY: SERVICE_KEY, KEY_CACHE_TTL_SECONDS: "0" }, mock });
    pool = await seedKeys(worker, "google-ai-studio", 2);
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });

  test("GOOGLE_GEMINI_BASE_URL=…/api/google-ai-studio, one key answering 429 first", async () => {
    mock.queue(geminiReplies.rateLimited({ retryDelay: "30s" }));
    mock.on({ method: "POST", path: "/google-ai-studio/v1beta/models/gemini-2.5-flash:streamGenerateContent" }, geminiReplies.stream({ texts: ["MOCK-", "ANSWER-42"] }));
    const r = await gemini({ baseUrl: `${worker.url}/api/google-ai-studio`, key: SERVICE_KEY, model: "gemini-2.5-flash", prompt: "Say hi" });
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stdout.trim(), "MOCK-ANSWER-42", describeRun(r));
    assert.equal(mock.requests.length, 2, "one 429, then the other key");
    for (const req of mock.requests) {
      assert.equal(req.url, "/google-ai-studio/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
      assert.ok(pool.some((k) => k.key === req.headers["x-goog-api-key"]), "a pool key in Gemini's own header");
      assert.ok(!(JSON.stringify(req.headers) + req.text()).includes(SERVICE_KEY), "never the service key");
    }
    assert.notEqual(mock.requests[0].headers["x-goog-api-key"], mock.requests[1].headers["x-goog-api-key"]);
    await waitFor(
      async () => {
        const row = await worker.d1.first("SELECT model_coolings FROM keys WHERE key = ?", mock.requests[0].headers["x-goog-api-key"]);
        return JSON.parse(row.model_coolings ?? "{}")["gemini-2.5-flash"];
      },
      { message: "the limited key to cool for the model" },
    );
  });
});
