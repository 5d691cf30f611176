// The SSE mock upstream: every request gets `text/event-stream` headers at once, then CHUNKS `data:` events, the
// first FIRST_MS after the headers and the rest SPACING_MS apart. nginx cannot space chunks, hence this small server.
//
//   node bench/sse-server.mjs <port> [chunks=6] [spacingMs=50] [firstMs=20]
import { createServer } from "node:http";

const [port, chunks = 6, spacingMs = 50, firstMs = 20] = process.argv.slice(2).map(Number);
const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.flushHeaders();
    let sent = 0;
    const send = () => {
      if (res.destroyed) return;
      sent++;
      res.write(`data: {"candidates":[{"content":{"parts":[{"text":"chunk ${sent}"}],"role":"model"}}]}\r\n\r\n`);
      if (sent < chunks) setTimeout(send, spacingMs);
      else res.end();
    };
    setTimeout(send, firstMs);
  });
});
server.keepAliveTimeout = 120_000;
server.listen(port, "127.0.0.1", () => process.stdout.write(`listening ${port}\n`));
process.on("SIGTERM", () => process.exit(0));
