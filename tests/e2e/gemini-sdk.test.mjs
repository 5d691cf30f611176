// Google's own SDK (@google/genai) pointed at the Worker's native Gemini route: generateContent, the SSE stream
// (proved incremental with a gate), models listing, a rate limit that the SDK never notices, and the 429 it does see
// when every key is cooling.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ApiError, GoogleGenAI } from "@google/genai";
import { startWorker } from "../harness/worker.mjs";
import { deferred, startMock } from "../harness/mock-upstream.mjs";
import { gemini } from "../harness/providers.mjs";
import { withTimeout } from "../harness/project.mjs";
import { nowS, seedKeys } from "./support/pool.mjs";

const AUTH_KEY = "ob-e2e-gemini-sdk-91d0c7e3a4f5";
const FLASH = "gemini-2.5-flash";

describe("@google/genai through the Worker", { timeout: 60_000 }, () => {
  let mock;
  let worker;
  let keys;
  let ai;

  before(async () => {
    mock = await startMock();
    worker = await startWorker({ vars: { AUTH_KEY, KEY_CACHE_TTL_SECONDS: "0" }, mock });
    ai = new GoogleGenAI({
      apiKey: AUTH_KEY,
      httpOptions: { baseUrl: `${worker.url}/api/google-ai-studio`, apiVersion: "v1beta", timeout: 15_000 },
    });
  });
  after(async () => {
    await worker?.stop();
    await mock?.close();
  });
  beforeEach(async () => {
    mock.reset();
    await worker.d1.exec("DELETE FROM keys");
    keys = await seedKeys(worker, "google-ai-studio", 3);
  });

  const poolKeyOf = (req) => keys.find((k) => k.key === req.headers["x-goog-api-key"]);

  test("generateContent returns the upstream's answer; the upstream gets a pool key, never the service key", async () => {
    mock.on({ method: "POST", path: `/google-ai-studio/v1beta/models/${FLASH}:generateContent` }, gemini.success({ text: "Hello through the pool" }));
    const response = await ai.models.generateContent({ model: FLASH, contents: "Say hello", config: { temperature: 0.2 } });
    assert.equal(response.text, "Hello through the pool");
    assert.equal(response.candidates[0].finishReason, "STOP");
    assert.equal(mock.requests.length, 1);
    const up = mock.requests[0];
    assert.ok(poolKeyOf(up), "a pool key in x-goog-api-key");
    assert.ok(![up.url, ...up.rawHeaders, up.text()].join("\n").includes(AUTH_KEY), "the service key stays behind");
    const sent = up.json();
    assert.equal(sent.contents[0].parts[0].text, "Say hello");
    assert.equal(sent.generationConfig.temperature, 0.2);
    assert.match(up.headers["x-goog-api-client"] ?? "", /google-genai-sdk\//, "the SDK's client header travels");
  });

  test("generateContentStream yields each chunk as it arrives, and the whole text intact", async () => {
    const texts = ["Pools ", "of keys, ", "one URL — ", "你好 👋🏽"];
    const reply = gemini.stream({ texts });
    const gate = deferred();
    reply.chunks[1].after = gate.promise;
    mock.on({ method: "POST", path: `/google-ai-studio/v1beta/models/${FLASH}:streamGenerateContent` }, reply);

    const stream = await ai.models.generateContentStream({ model: FLASH, contents: "Stream please" });
    const iterator = stream[Symbol.asyncIterator]();
    const received = [];
    try {
      const first = await withTimeout(iterator.next(), 10_000, "the first chunk before the gate opens");
      assert.equal(first.done, false);
      received.push(first.value.text);
      assert.equal(first.value.text, texts[0], "the first chunk arrived while the upstream held the rest back");
    } finally {
      gate.resolve();
    }
    for (;;) {
      const next = await withTimeout(iterator.next(), 10_000, "the rest of the stream");
      if (next.done) break;
      received.push(next.value.text);
    }
    assert.deepEqual(received, texts);
    assert.equal(mock.requests[0].query, "alt=sse");
    assert.ok(poolKeyOf(mock.requests[0]));
  });

  test("models.list goes through without a model", async () => {
    mock.on({ method: "GET", path: "/google-ai-studio/v1beta/models" }, {
      status: 200,
      body: { models: [{ name: "models/gemini-2.5-flash", displayName: "Gemini 2.5 Flash" }, { name: "models/gemini-2.5-pro", displayName: "Gemini 2.5 Pro" }] },
    });
    const pager = await ai.models.list();
    const names = [];
    for await (const model of pager) names.push(model.name);
    assert.deepEqual(names, ["models/gemini-2.5-flash", "models/gemini-2.5-pro"]);
    assert.ok(poolKeyOf(mock.requests[0]));
  });

  test("a 429 on the first key is invisible to the SDK", async () => {
    mock.queue(gemini.rateLimited({ retryDelay: "37s" }));
    mock.on(() => true, gemini.success({ text: "from another key" }));
    const response = await ai.models.generateContent({ model: FLASH, contents: "hi" });
    assert.equal(response.text, "from another key");
    assert.equal(mock.requests.length, 2);
    assert.notEqual(poolKeyOf(mock.requests[0]), poolKeyOf(mock.requests[1]));
  });

  test("when every key is cooling the SDK gets a 429 ApiError", async () => {
    await worker.d1.exec("DELETE FROM keys");
    const end = nowS() + 120;
    keys = await seedKeys(worker, "google-ai-studio", [{ coolings: { [FLASH]: { end_at: end, total_seconds: 65 } } }]);
    mock.on(() => true, gemini.rateLimited({ retryDelay: "37s" }));
    await assert.rejects(
      ai.models.generateContent({ model: FLASH, contents: "hi" }),
      (err) => {
        assert.ok(err instanceof ApiError, String(err));
        assert.equal(err.status, 429);
        return true;
      },
    );
    assert.ok(mock.requests.length <= 1);
  });

  test("a wrong service key is refused with 401 and nothing is forwarded", async () => {
    const stranger = new GoogleGenAI({
      apiKey: "AIzaSy-not-the-service-key",
      httpOptions: { baseUrl: `${worker.url}/api/google-ai-studio`, apiVersion: "v1beta", timeout: 15_000 },
    });
    await assert.rejects(stranger.models.generateContent({ model: FLASH, contents: "hi" }), (err) => {
      assert.ok(err instanceof ApiError, String(err));
      assert.equal(err.status, 401);
      return true;
    });
    assert.equal(mock.requests.length, 0);
  });
});
