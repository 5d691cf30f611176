// Realistic upstream replies for the mock (status, headers, body), as the providers send them (PROVIDERS.md).
//
// Error bodies come from the shared fixtures in tests/fixtures/<provider>/*.json — the same files the Rust unit tests
// of the classifier read — so the Worker is tested end to end against exactly what its unit tests saw. Fixtures are
// read when a builder is called, not at import. Success bodies and streams are built here.
//
// Every builder returns a fresh reply object for mock.on()/mock.queue(); change it freely (e.g. add
// `reply.chunks[1].after = gate.promise` to hold a stream chunk back).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { ROOT } from "./project.mjs";

const FIXTURES = join(ROOT, "tests", "fixtures");

/** The parsed fixture tests/fixtures/<name>.json, e.g. fixture("gemini/429-per-day"). */
export function fixture(name) {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), "utf8"));
}

const id = (bytes = 12) => randomBytes(bytes).toString("hex");

/** Splits `text` into SSE `data:` events: each event's JSON, then the separator. */
function sse(events, { separator = "\n\n", delayMs = 0 } = {}) {
  return events.map((e) => ({ data: `data: ${typeof e === "string" ? e : JSON.stringify(e)}${separator}`, delayMs }));
}

// ---------------------------------------------------------------------------------------------------------------
// Google AI Studio (Gemini)

const GOOGLE_HEADERS = {
  "content-type": "application/json; charset=UTF-8",
  vary: "Origin, X-Origin, Referer",
  server: "scaffolding on HTTPServer2",
  "x-xss-protection": "0",
  "x-frame-options": "SAMEORIGIN",
  "x-content-type-options": "nosniff",
  "server-timing": "gfet4t7; dur=412",
  "alt-svc": 'h3=":443"; ma=2592000,h3-29=":443"; ma=2592000',
};

function googleError(name, status, edit) {
  const body = fixture(`gemini/${name}`);
  edit?.(body);
  return { status, headers: { ...GOOGLE_HEADERS }, body };
}

function setQuotaModel(body, model) {
  for (const d of body.error?.details ?? []) {
    for (const v of d.violations ?? []) if (v.quotaDimensions) v.quotaDimensions.model = model;
  }
}

export const gemini = {
  /**
   * 429 RESOURCE_EXHAUSTED with a per-minute QuotaFailure and RetryInfo `retryDelay` (default "37s").
   * `retryDelay: null` drops the RetryInfo detail; any string (even a malformed one) is sent as given.
   */
  rateLimited({ retryDelay = "37s", model = "gemini-2.5-flash", quotaId } = {}) {
    return googleError("429-retry-info", 429, (body) => {
      setQuotaModel(body, model);
      const details = body.error.details;
      if (quotaId) for (const d of details) for (const v of d.violations ?? []) v.quotaId = quotaId;
      const i = details.findIndex((d) => d["@type"] === "type.googleapis.com/google.rpc.RetryInfo");
      if (retryDelay === null) details.splice(i, 1);
      else details[i].retryDelay = retryDelay;
    });
  },
  /** 429 with the per-day quota id `GenerateRequestsPerDayPerProjectPerModel-FreeTier` (cool until midnight PT). */
  dailyQuotaExhausted({ model = "gemini-2.5-flash" } = {}) {
    return googleError("429-per-day", 429, (body) => setQuotaModel(body, model));
  },
  /** 429 with no details at all ("Resource has been exhausted"). */
  rateLimitedPlain() {
    return googleError("429-plain", 429);
  },
  /** 429 "… limit per minute for a region": not the key's fault. */
  regionRateLimited() {
    return googleError("429-region", 429);
  },
  /** 400 INVALID_ARGUMENT with ErrorInfo reason API_KEY_INVALID. */
  invalidKey() {
    return googleError("400-api-key-invalid", 400);
  },
  /** 401 UNAUTHENTICATED without a key-scoped reason: a suspect, confirmed by a probe before any block. */
  unauthenticated() {
    return googleError("401-unauthenticated", 401);
  },
  /** 403 PERMISSION_DENIED for a `fileData.fileUri` another project owns: the request's fault. */
  filePermissionDenied() {
    return googleError("403-file-permission", 403);
  },
  /** 403 PERMISSION_DENIED "The caller does not have permission": a suspect, like the 401 above. */
  callerPermissionDenied() {
    return googleError("403-caller-permission", 403);
  },
  /** 403 PERMISSION_DENIED "Consumer 'api_key:…' has been suspended." */
  suspended() {
    return googleError("403-suspended", 403);
  },
  /** 400 FAILED_PRECONDITION "User location is not supported for the API use." */
  locationNotSupported() {
    return googleError("400-location", 400);
  },
  /** 403 PERMISSION_DENIED about the user's location (not the key's fault). */
  locationForbidden() {
    return googleError("403-location", 403);
  },
  /** 503 UNAVAILABLE "The model is overloaded." */
  overloaded() {
    return googleError("503-overloaded", 503);
  },
  /** 400 INVALID_ARGUMENT about the request itself: a client error to pass through. */
  badRequest() {
    return googleError("400-bad-request", 400);
  },
  /** A streaming error as Gemini sends it for non-SSE streamGenerateContent: a JSON array holding the error. */
  rateLimitedStreamArray() {
    return googleError("429-stream-array", 429);
  },
  /** 200 generateContent response. */
  success({ text = "Hello from the mock Gemini.", model = "gemini-2.5-flash" } = {}) {
    return {
      status: 200,
      headers: { ...GOOGLE_HEADERS },
      body: {
        candidates: [{ content: { parts: [{ text }], role: "model" }, finishReason: "STOP", index: 0 }],
        usageMetadata: {
          promptTokenCount: 8,
          candidatesTokenCount: 7,
          totalTokenCount: 15,
          promptTokensDetails: [{ modality: "TEXT", tokenCount: 8 }],
        },
        modelVersion: model,
        responseId: id(11),
      },
    };
  },
  /**
   * 200 `:streamGenerateContent?alt=sse`: one `data: {…}\r\n\r\n` event per text piece, the last with
   * finishReason STOP, as Google sends them.
   */
  stream({ texts = ["Hello", " from the", " mock Gemini."], model = "gemini-2.5-flash", delayMs = 0 } = {}) {
    const responseId = id(11);
    const events = texts.map((text, i) => {
      const last = i === texts.length - 1;
      return {
        candidates: [
          { content: { parts: [{ text }], role: "model" }, ...(last ? { finishReason: "STOP" } : {}), index: 0 },
        ],
        usageMetadata: last
          ? { promptTokenCount: 8, candidatesTokenCount: texts.length, totalTokenCount: 8 + texts.length }
          : { promptTokenCount: 8, totalTokenCount: 8 },
        modelVersion: model,
        responseId,
      };
    });
    return {
      status: 200,
      headers: { ...GOOGLE_HEADERS, "content-type": "text/event-stream", "content-disposition": "attachment" },
      chunks: sse(events, { separator: "\r\n\r\n", delayMs }),
    };
  },
};

// ---------------------------------------------------------------------------------------------------------------
// OpenAI (and the OpenAI-compatible providers that copy its shapes)

const openaiHeaders = () => ({
  "content-type": "application/json",
  "openai-organization": "org-mock",
  "openai-processing-ms": "310",
  "openai-version": "2020-10-01",
  "x-request-id": `req_${id(16)}`,
});

export const openai = {
  /** 429 rate_limit_exceeded with `x-ratelimit-reset-requests` (and `retry-after` when given, in seconds). */
  rateLimited({ resetRequests = "20s", resetTokens = "6m0s", retryAfter } = {}) {
    const headers = {
      ...openaiHeaders(),
      "x-ratelimit-limit-requests": "3",
      "x-ratelimit-limit-tokens": "40000",
      "x-ratelimit-remaining-requests": "0",
      "x-ratelimit-remaining-tokens": "39950",
      "x-ratelimit-reset-requests": resetRequests,
      "x-ratelimit-reset-tokens": resetTokens,
    };
    if (retryAfter !== undefined) headers["retry-after"] = String(retryAfter);
    return { status: 429, headers, body: fixture("openai/429-rate-limit") };
  },
  /** 429 insufficient_quota: spend/credit exhausted, not a short cooldown. */
  insufficientQuota() {
    return { status: 429, headers: openaiHeaders(), body: fixture("openai/429-insufficient-quota") };
  },
  /** 401 invalid_api_key. */
  invalidKey() {
    return { status: 401, headers: openaiHeaders(), body: fixture("openai/401-invalid-key") };
  },
  /** 403 unsupported_country_region_territory: not the key's fault. */
  regionUnsupported() {
    return { status: 403, headers: openaiHeaders(), body: fixture("openai/403-region") };
  },
  /** 400 invalid_request_error about the request: a client error to pass through. */
  badRequest() {
    return { status: 400, headers: openaiHeaders(), body: fixture("openai/400-bad-request") };
  },
  /** 200 chat.completion. */
  chatCompletion({ content = "Hello from the mock OpenAI.", model = "gpt-4o-mini-2024-07-18" } = {}) {
    return {
      status: 200,
      headers: openaiHeaders(),
      body: {
        id: `chatcmpl-${id(14)}`,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content, refusal: null, annotations: [] },
            logprobs: null,
            finish_reason: "stop",
          },
        ],
        usage: {
          prompt_tokens: 9,
          completion_tokens: 6,
          total_tokens: 15,
          prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
        },
        service_tier: "default",
        system_fingerprint: "fp_mock0001",
      },
    };
  },
  /** 200 Responses SSE (`POST /responses`, `stream: true`): one message item whose text comes in `deltas`. */
  responsesStream({ deltas = ["Hello from", " the mock OpenAI."], model = "gpt-5" } = {}) {
    const responseId = `resp_${id(12)}`;
    const itemId = `msg_${id(12)}`;
    const text = deltas.join("");
    const base = { id: responseId, object: "response", created_at: Math.floor(Date.now() / 1000), model, store: false, error: null, incomplete_details: null };
    const part = (t) => ({ type: "output_text", text: t, annotations: [] });
    const item = { id: itemId, type: "message", status: "completed", role: "assistant", content: [part(text)] };
    const events = [
      { type: "response.created", response: { ...base, status: "in_progress", output: [] } },
      { type: "response.in_progress", response: { ...base, status: "in_progress", output: [] } },
      { type: "response.output_item.added", output_index: 0, item: { ...item, status: "in_progress", content: [] } },
      { type: "response.content_part.added", item_id: itemId, output_index: 0, content_index: 0, part: part("") },
      ...deltas.map((delta) => ({ type: "response.output_text.delta", item_id: itemId, output_index: 0, content_index: 0, delta })),
      { type: "response.output_text.done", item_id: itemId, output_index: 0, content_index: 0, text },
      { type: "response.content_part.done", item_id: itemId, output_index: 0, content_index: 0, part: part(text) },
      { type: "response.output_item.done", output_index: 0, item },
      {
        type: "response.completed",
        response: { ...base, status: "completed", output: [item], usage: { input_tokens: 42, input_tokens_details: { cached_tokens: 0 }, output_tokens: 7, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 49 } },
      },
    ];
    return {
      status: 200,
      headers: { ...openaiHeaders(), "content-type": "text/event-stream; charset=utf-8" },
      chunks: events.map((e, n) => `event: ${e.type}\ndata: ${JSON.stringify({ ...e, sequence_number: n })}\n\n`),
    };
  },
  /** 200 SSE chat.completion.chunk events (role first, one per delta, finish_reason stop), then `data: [DONE]`. */
  stream({ deltas = ["Hello", " from the", " mock OpenAI."], model = "gpt-4o-mini-2024-07-18", delayMs = 0 } = {}) {
    const base = {
      id: `chatcmpl-${id(14)}`,
      object: "chat.completion.chunk",
      created: Math.floor(Date.now() / 1000),
      model,
      service_tier: "default",
      system_fingerprint: "fp_mock0001",
    };
    const choice = (delta, finish = null) => ({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
    const events = [
      choice({ role: "assistant", content: "", refusal: null }),
      ...deltas.map((content) => choice({ content })),
      choice({}, "stop"),
      "[DONE]",
    ];
    return {
      status: 200,
      headers: { ...openaiHeaders(), "content-type": "text/event-stream; charset=utf-8" },
      chunks: sse(events, { delayMs }),
    };
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Anthropic

const anthropicHeaders = () => ({
  "content-type": "application/json",
  "request-id": `req_${id(12)}`,
  "anthropic-organization-id": "00000000-0000-4000-8000-000000000000",
  "x-should-retry": "true",
});

export const anthropic = {
  /** 429 rate_limit_error with `retry-after` (seconds) and `anthropic-ratelimit-requests-reset` (RFC 3339). */
  rateLimited({ retryAfter = 30, resetAt = new Date(Date.now() + retryAfter * 1000) } = {}) {
    return {
      status: 429,
      headers: {
        ...anthropicHeaders(),
        "retry-after": String(retryAfter),
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": resetAt.toISOString().replace(/\.\d{3}Z$/, "Z"),
      },
      body: fixture("anthropic/429-rate-limit"),
    };
  },
  /** 529 overloaded_error: transient, not the key's fault. */
  overloaded() {
    return { status: 529, headers: anthropicHeaders(), body: fixture("anthropic/529-overloaded") };
  },
  /** 401 authentication_error "invalid x-api-key". */
  invalidKey() {
    return { status: 401, headers: anthropicHeaders(), body: fixture("anthropic/401-authentication") };
  },
  /** 403 permission_error. */
  permissionDenied() {
    return { status: 403, headers: anthropicHeaders(), body: fixture("anthropic/403-permission") };
  },
  /** 400 invalid_request_error "Your credit balance is too low…": exhausted. */
  creditTooLow() {
    return { status: 400, headers: anthropicHeaders(), body: fixture("anthropic/400-credit") };
  },
  /** 200 Messages SSE (`stream: true` on `v1/messages`), the text in `texts.length` deltas, as Anthropic sends it. */
  stream({ texts = ["Hello from", " the mock Claude."], model = "claude-sonnet-4-5" } = {}) {
    const events = [
      ["message_start", { type: "message_start", message: { id: `msg_${id(12)}`, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 42, output_tokens: 1 } } }],
      ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }],
      ...texts.map((text) => ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } }]),
      ["content_block_stop", { type: "content_block_stop", index: 0 }],
      ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: texts.length } }],
      ["message_stop", { type: "message_stop" }],
    ];
    return {
      status: 200,
      headers: { ...anthropicHeaders(), "content-type": "text/event-stream; charset=utf-8" },
      chunks: events.map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`),
    };
  },
  /** 200 OpenAI-compatible chat completion as Anthropic's compatibility layer returns it. */
  chatCompletion({ content = "Hello from the mock Claude.", model = "claude-sonnet-4-5" } = {}) {
    const reply = openai.chatCompletion({ content, model });
    reply.headers = anthropicHeaders();
    return reply;
  },
};

// ---------------------------------------------------------------------------------------------------------------
// OpenRouter

export const openrouter = {
  /** 429 with `X-RateLimit-Reset` in epoch milliseconds (header and body metadata agree). */
  rateLimited({ resetAtMs = Date.now() + 60_000 } = {}) {
    const body = fixture("openrouter/429-rate-limit");
    body.error.metadata.headers["X-RateLimit-Reset"] = String(resetAtMs);
    return {
      status: 429,
      headers: {
        "content-type": "application/json",
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": String(resetAtMs),
      },
      body,
    };
  },
  /** 402 "This request requires more credits, or fewer max_tokens": about this request's size, not the account. */
  requestExceedsCredits() {
    return { status: 402, headers: { "content-type": "application/json" }, body: fixture("openrouter/402-request-exceeds-credits") };
  },
  /** 402 insufficient credits: the account is empty. */
  paymentRequired() {
    return { status: 402, headers: { "content-type": "application/json" }, body: fixture("openrouter/402-credits") };
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Cloudflare AI Gateway's own errors (never the pool key's fault)

export const aiGateway = {
  /** 401 `[{"code":2009,"message":"Unauthorized"}]`: authenticated gateway without cf-aig-authorization. */
  unauthorized() {
    return { status: 401, headers: { "content-type": "application/json" }, body: fixture("gateway/401-2009") };
  },
  /** The same error wrapped as `{"success":false,…,"error":[{"code":2009,…}]}`. */
  unauthorizedWrapped() {
    return { status: 401, headers: { "content-type": "application/json" }, body: fixture("gateway/401-2009-wrapped") };
  },
  /** 429 from the gateway's own rate limiting (no provider-shaped body). */
  rateLimited() {
    return { status: 429, headers: { "content-type": "application/json" }, body: fixture("gateway/429-rate-limited") };
  },
};

// ---------------------------------------------------------------------------------------------------------------
// OpenAI-style chat completions as Gemini's OpenAI-compatible endpoint (`v1beta/openai/chat/completions`) answers
// them: what a converted Anthropic Messages or OpenAI Responses request gets back. Tool calls come whole, one entry
// each with an `id` and no `index`, the first carrying Gemini's thought signature in `extra_content`.

/**
 * A tool call for `chat.completion` / `chat.stream`: `{ id, name, args (object or JSON text), signature }`.
 * @typedef {{ id?: string, name: string, args?: object|string, signature?: string }} ChatToolCall
 */
const toolCallOf = (call, i) => ({
  ...(call.signature ? { extra_content: { google: { thought_signature: call.signature } } } : {}),
  function: { arguments: typeof call.args === "string" ? call.args : JSON.stringify(call.args ?? {}), name: call.name },
  id: call.id ?? `function-call-${1000 + i}`,
  type: "function",
});

export const chat = {
  /** 200 chat.completion with `content` and/or `toolCalls` (finish_reason tool_calls when there are calls). */
  completion({ content = "Hello from the mock chat.", toolCalls = [], model = "gemini-2.5-flash", usage = { prompt_tokens: 11, completion_tokens: 5 } } = {}) {
    return {
      status: 200,
      headers: { "content-type": "application/json", "x-request-id": `req_${id(8)}` },
      body: {
        choices: [
          {
            finish_reason: toolCalls.length > 0 ? "tool_calls" : "stop",
            index: 0,
            message: { content: toolCalls.length > 0 && !content ? null : content, role: "assistant", ...(toolCalls.length > 0 ? { tool_calls: toolCalls.map(toolCallOf) } : {}) },
          },
        ],
        created: Math.floor(Date.now() / 1000),
        id: id(11),
        model,
        object: "chat.completion",
        usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
      },
    };
  },
  /**
   * The events of a streamed chat completion: one per text delta, one per tool call, a last one with the finish
   * reason and usage, then `[DONE]` (unless `done: false`). Each event is `data: {…}\n\n`.
   */
  events({ texts = [], toolCalls = [], model = "gemini-2.5-flash", finishReason, done = true } = {}) {
    const base = { created: Math.floor(Date.now() / 1000), id: id(11), model, object: "chat.completion.chunk" };
    const chunk = (delta, extra = {}) => ({ ...base, choices: [{ delta: { role: "assistant", ...delta }, index: 0, ...extra }] });
    const events = [
      ...texts.map((content) => chunk({ content })),
      ...toolCalls.map((call, i) => chunk({ tool_calls: [toolCallOf(call, i)] })),
      { ...chunk({}, { finish_reason: finishReason ?? (toolCalls.length > 0 ? "tool_calls" : "stop") }), usage: { completion_tokens: 7, prompt_tokens: 12, total_tokens: 19 } },
    ];
    return [...events.map((e) => `data: ${JSON.stringify(e)}\n\n`), ...(done ? ["data: [DONE]\n\n"] : [])];
  },
  /** 200 SSE reply of `chat.events(options)`, one mock chunk per event (put `after` on one to hold it back). */
  stream(options = {}) {
    return {
      status: 200,
      headers: { "content-type": "text/event-stream", "x-request-id": `req_${id(8)}` },
      chunks: chat.events(options).map((data) => ({ data })),
    };
  },
};
