// The conversion section of the bench (bench only): what serving Claude Code's Anthropic Messages and Codex's OpenAI
// Responses from a Gemini pool costs over passing the same work through natively.
//
// One one-balance Worker (10 Gemini keys) in its own workerd process, and a small chat-completions mock in this
// process. For each client body (a recorded Claude Code tool turn, a recorded Codex tool turn), two requests:
//   - converted: the client's own protocol (`/api/google-ai-studio/v1/messages`, `/api/compat/responses`), which the
//     Worker turns into a chat-completions request and whose answer it turns back;
//   - native: the very chat-completions body the converted request sent upstream (the mock keeps it), posted to the
//     native route `/api/google-ai-studio/v1beta/openai/chat/completions`, passed through byte for byte both ways.
// Each once with `stream: false` (the mock answers one chat.completion with text and a tool call) and once streamed
// (the mock answers STREAM_EVENTS chat.completion.chunk events in bursts of BURST events 1 ms apart, so the Worker
// reads them in many pieces as it would from a real upstream). CPU: the workerd process's user + system time over
// the requests of one target, per request; targets alternate within each repetition. The native row is the floor of
// the same work in the same run, so the figure that matters is converted − native.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const STREAM_EVENTS = 300;
const BURST = 5;
const NATIVE_PATH = "/api/google-ai-studio/v1beta/openai/chat/completions";

/** The chat-completions mock: keeps the last request body it got and answers as Gemini's OpenAI endpoint does. */
function chatMock() {
  const seen = { last: null };
  const server = createServer((req, res) => {
    const parts = [];
    req.on("data", (c) => parts.push(c));
    req.on("end", async () => {
      const text = Buffer.concat(parts).toString("utf8");
      seen.last = text;
      let stream = false;
      try {
        stream = JSON.parse(text).stream === true;
      } catch {
        /* answered as not streamed */
      }
      if (!stream) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(completion()));
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (let i = 0; i < STREAM_EVENTS && !res.destroyed; i++) {
        res.write(`data: ${JSON.stringify(chunk(i))}\n\n`);
        if (i % BURST === BURST - 1) await new Promise((r) => setTimeout(r, 1));
      }
      res.end("data: [DONE]\n\n");
    });
  });
  return { server, seen };
}

function completion() {
  return {
    id: "chatcmpl-bench",
    object: "chat.completion",
    created: 1_767_225_600,
    model: "gemini-2.5-flash",
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: "I will read the file first.",
          tool_calls: [{ id: "call_1", type: "function", function: { name: "Read", arguments: JSON.stringify({ file_path: "/work/src/lib.rs" }) } }],
        },
        finish_reason: "tool_calls",
      },
    ],
    usage: { prompt_tokens: 9120, completion_tokens: 31, total_tokens: 9151 },
  };
}

function chunk(i) {
  const last = i === STREAM_EVENTS - 1;
  return {
    id: "chatcmpl-bench",
    object: "chat.completion.chunk",
    created: 1_767_225_600,
    model: "gemini-2.5-flash",
    choices: [{ index: 0, delta: last ? {} : { role: "assistant", content: `word ${i} 你好 ` }, finish_reason: last ? "stop" : null }],
    ...(last ? { usage: { prompt_tokens: 9120, completion_tokens: STREAM_EVENTS, total_tokens: 9120 + STREAM_EVENTS } } : {}),
  };
}

/** The recorded client bodies, aimed at the bench's Gemini pool. */
function clientBodies(root) {
  const fixture = (name) => JSON.parse(readFileSync(join(root, "tests", "fixtures", "clients", name), "utf8"));
  const claude = fixture("claude-code-2.1.332-tool-turn.json");
  claude.model = "gemini-2.5-flash";
  const codex = fixture("codex-0.171.0-tool-turn.json");
  codex.model = "google-ai-studio/gemini-2.5-flash";
  return [
    { id: "messages", label: `Anthropic Messages → chat (Claude Code 2.1.332 tool turn, ${claude.tools.length} tools)`, path: "/api/google-ai-studio/v1/messages", auth: "x-api-key", body: claude, end: "message_stop" },
    { id: "responses", label: `OpenAI Responses → chat (Codex 0.171.0 tool turn, ${codex.tools.length} tools)`, path: "/api/compat/responses", auth: "authorization", body: codex, end: "response.completed" },
  ];
}

/** Posts `body` and reads the whole answer; throws unless it is a 200 that ends the way `end` says. */
async function post(base, path, auth, serviceKey, body, end) {
  const headers = { "content-type": "application/json", [auth]: auth === "authorization" ? `Bearer ${serviceKey}` : serviceKey };
  const response = await fetch(base + path, { method: "POST", headers, body });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`conversion bench: ${path} answered ${response.status}: ${text.slice(0, 300)}`);
  if (end && !text.includes(end)) throw new Error(`conversion bench: ${path} ended without ${end}: …${text.slice(-300)}`);
  return text;
}

/**
 * Measures the section. `deps`: the harness's own helpers (startWorkerd, obWorker, migrate, seedKeys,
 * groupCpuSeconds, stopProcess, log) and settings (root, serviceKey, quick, reps). Returns the rows of its table and
 * how they were measured.
 */
export async function measureConversion(deps) {
  const { startWorkerd, obWorker, migrate, seedKeys, groupCpuSeconds, stopProcess, log, root, serviceKey, quick, reps } = deps;
  const { server, seen } = chatMock();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const mockBase = `http://127.0.0.1:${server.address().port}`;
  const proc = await startWorkerd("obconv", [obWorker("obconv", mockBase)]);
  const base = `http://127.0.0.1:${proc.port}`;
  try {
    await migrate(base);
    await seedKeys(base, 10);
    const requests = { plain: quick ? 20 : 60, stream: quick ? 5 : 20 };
    // Each converted request once, to learn the chat body it sends upstream (the native target's body).
    const targets = [];
    for (const client of clientBodies(root)) {
      for (const stream of [false, true]) {
        const body = JSON.stringify({ ...client.body, stream });
        await post(base, client.path, client.auth, serviceKey, body, stream ? client.end : null);
        const upstreamBody = seen.last;
        const kind = stream ? "stream" : "plain";
        const what = stream ? `streamed, ${STREAM_EVENTS} events` : "not streamed";
        targets.push({ key: `${client.id}-${kind}`, client: client.id, kind, converted: true, label: `${client.label}, ${what}`, path: client.path, auth: client.auth, body, bytes: body.length, end: stream ? client.end : null });
        targets.push({ key: `${client.id}-${kind}-native`, client: client.id, kind, converted: false, label: `native chat completions, the same request's upstream body, ${what}`, path: NATIVE_PATH, auth: "authorization", body: upstreamBody, bytes: upstreamBody.length, end: stream ? "[DONE]" : null });
      }
    }
    const cpu = Object.fromEntries(targets.map((t) => [t.key, []]));
    log(`== conversion: ${reps} repetition(s) × ${targets.length} targets, ${requests.plain} requests each (${requests.stream} streamed), 4 at a time`);
    for (let rep = 1; rep <= reps; rep++) {
      for (const t of targets) {
        const count = requests[t.kind];
        const before = groupCpuSeconds(proc.pgid);
        let next = 0;
        const worker = async () => {
          while (next < count) {
            next++;
            await post(base, t.path, t.auth, serviceKey, t.body, t.end);
          }
        };
        await Promise.all([worker(), worker(), worker(), worker()]);
        const ms = ((groupCpuSeconds(proc.pgid) - before) * 1000) / count;
        cpu[t.key].push(ms);
        log(`   rep ${rep} ${t.key.padEnd(24)} ${ms.toFixed(3)} ms CPU/request`);
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const rows = targets.map((t) => {
      const native = `${t.client}-${t.kind}-native`;
      return { ...t, cpu: median(cpu[t.key]), overNative: t.converted ? median(cpu[t.key]) - median(cpu[native]) : null, ratio: t.converted ? median(cpu[t.key]) / median(cpu[native]) : null };
    });
    return { rows, requests, reps };
  } finally {
    await stopProcess(proc);
    server.close();
  }
}

/** The section's markdown. */
export function conversionMarkdown({ rows, requests, reps }) {
  const f = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : "—");
  const lines = [
    `## Conversion: Claude Code's and Codex's protocols on a Gemini pool`,
    "",
    `One Worker with 10 Gemini keys; a chat-completions mock answers one chat.completion (text and a tool call), or, streamed, ${STREAM_EVENTS} chunk events in bursts of ${BURST} 1 ms apart. ` +
      `Each converted request is followed by the native request that carries the very body the conversion sent upstream, passed through untouched: ` +
      `the native row is the floor of the same work in the same run. CPU: the workerd process per request, median of ${reps} repetition(s) of ${requests.plain} requests (${requests.stream} streamed), 4 at a time (bench/conversion.mjs).`,
    "",
    "| request | body bytes | CPU ms/request | over native ms | × native |",
    "|---|---|---|---|---|",
  ];
  for (const r of rows) lines.push(`| ${r.label} | ${r.bytes.toLocaleString("en-US")} | ${f(r.cpu)} | ${r.converted ? f(r.overNative) : "(floor)"} | ${r.converted ? f(r.ratio, 2) + "×" : "1.00×"} |`);
  lines.push("");
  return lines;
}
