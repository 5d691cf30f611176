// Runs the Worker the way a developer does: the configuration template, wrangler's D1 migrations, `wrangler dev`
// (which runs build.command = worker-build first). Slower than tests/harness/worker.mjs; use it only to prove that
// path works.
//
//   const dev = await startWranglerDev({ vars: { AUTH_KEY: "…" } });
//   await fetch(`${dev.url}/health`);
//   await dev.stop();
//
// The config is a byte-for-byte copy of wrangler.jsonc.tpl written to the repo root as `.wrangler-test-<pid>-<n>.jsonc`
// (git-ignored), because `main`, `build` and `migrations_dir` are relative to the config file; the user's own
// wrangler.jsonc is never read or touched. An empty `--env-file` keeps the developer's .dev.vars / .env out of the
// test; test values are passed with `--var`.
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, TEMPLATE_PATH, toolEnv, withTimeout } from "./project.mjs";

const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const STOP_GRACE_MS = 10_000;
let configCounter = 0;
const liveGroups = new Set();
const liveFiles = new Set();

// Last resort if a test forgets stop() or the process dies of an exception: no orphaned wrangler/workerd, no stray
// config file in the repo.
process.once("exit", () => {
  for (const pid of liveGroups) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  for (const file of liveFiles) rmSync(file, { force: true });
});

/** A port that was free a moment ago on 127.0.0.1 (wrangler needs numbers up front; collisions are retried). */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs wrangler to completion; resolves with its output, rejects with it on a non-zero exit or after timeoutMs. */
export function runWrangler(args, { env, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER, ...args], {
      cwd: ROOT,
      env: env ?? toolEnv(),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    liveGroups.add(child.pid);
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // gone
      }
      reject(new Error(`wrangler ${args.join(" ")} timed out after ${timeoutMs} ms\n${output}`));
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      liveGroups.delete(child.pid);
      if (code === 0) resolve(output);
      else reject(new Error(`wrangler ${args.join(" ")} exited with ${code ?? signal}\n${output}`));
    });
  });
}

/**
 * Applies the migrations into a temporary persist dir and starts `wrangler dev --local` on free ports.
 *
 * @param {object} [options]
 * @param {Record<string,string>} [options.vars]   passed as `--var K:V` (override the template's vars)
 * @param {string} [options.persistDir]            local state dir (default: a new temp dir, removed on stop)
 * @param {number} [options.readyTimeoutMs]        how long to wait for GET /health (includes worker-build)
 * @returns {Promise<{ url: string, persistDir: string, configPath: string, logs: string[], pid: number,
 *   d1Query: (sql: string) => Promise<object[]>, stop: () => Promise<void> }>}
 */
export async function startWranglerDev({ vars = {}, persistDir, readyTimeoutMs = 180_000 } = {}) {
  const workDir = mkdtempSync(join(tmpdir(), "ob-wrangler-"));
  const statePath = persistDir ?? join(workDir, "state");
  const configPath = join(ROOT, `.wrangler-test-${process.pid}-${++configCounter}.jsonc`);
  const envFile = join(workDir, "empty.env");
  writeFileSync(envFile, "");
  copyFileSync(TEMPLATE_PATH, configPath);
  liveFiles.add(configPath);
  const env = toolEnv({ WRANGLER_LOG_PATH: join(workDir, "logs") });
  const common = ["--config", configPath, "--env-file", envFile];
  const cleanupFiles = () => {
    rmSync(configPath, { force: true });
    liveFiles.delete(configPath);
    rmSync(workDir, { recursive: true, force: true }); // holds the state too, unless persistDir was given
  };

  try {
    await runWrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", statePath, ...common], { env });
    let lastError;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        const dev = await spawnDev({ vars, statePath, common, env, readyTimeoutMs });
        return {
          ...dev,
          persistDir: statePath,
          configPath,
          /** Runs SQL against the same local D1 through `wrangler d1 execute`; resolves with the result rows. */
          async d1Query(sql) {
            const out = await runWrangler(
              ["d1", "execute", "DB", "--local", "--persist-to", statePath, "--json", "--command", sql, ...common],
              { env },
            );
            return JSON.parse(out.slice(out.indexOf("[")))[0].results;
          },
          async stop() {
            await dev.stop();
            cleanupFiles();
          },
        };
      } catch (err) {
        lastError = err;
        if (!/EADDRINUSE|address already in use/i.test(err.message)) break;
      }
    }
    throw lastError;
  } catch (err) {
    cleanupFiles();
    throw err;
  }
}

async function spawnDev({ vars, statePath, common, env, readyTimeoutMs }) {
  const port = await freePort();
  const inspectorPort = await freePort();
  const args = [
    "dev",
    "--local",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    statePath,
    "--show-interactive-dev-session=false",
    ...common,
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  // detached: its own process group, so stop() reaches wrangler, both workerd processes and esbuild at once.
  const child = spawn(process.execPath, [WRANGLER, ...args], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  liveGroups.add(child.pid);
  const logs = [];
  let partial = "";
  const onData = (d) => {
    partial += d;
    const lines = partial.split("\n");
    partial = lines.pop();
    logs.push(...lines);
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  let hasExited = false;
  exited.then(() => {
    hasExited = true;
    liveGroups.delete(child.pid);
  });

  const signalGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
      return true;
    } catch {
      return false; // the whole group is gone
    }
  };
  let stopping;
  const stop = () => {
    stopping ??= (async () => {
      if (signalGroup("SIGINT")) {
        await withTimeout(exited, STOP_GRACE_MS, "wrangler dev did not stop on SIGINT").catch(() => {});
      }
      // Anything left in the group (wrangler itself after a timeout, or an orphaned workerd) is killed outright,
      // and stop() resolves only once the group is gone (or after a last grace period).
      const deadline = Date.now() + STOP_GRACE_MS;
      while (signalGroup("SIGKILL") && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      await withTimeout(exited, STOP_GRACE_MS, "wrangler dev did not die on SIGKILL").catch(() => {});
      liveGroups.delete(child.pid);
    })();
    return stopping;
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
  try {
    for (;;) {
      if (hasExited) throw new Error("wrangler dev exited before /health answered");
      if (Date.now() > deadline) throw new Error(`wrangler dev: /health did not answer within ${readyTimeoutMs} ms`);
      try {
        const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
      await Promise.race([new Promise((resolve) => setTimeout(resolve, 250)), exited]);
    }
  } catch (err) {
    await stop();
    err.message += `\n--- wrangler output ---\n${[...logs, partial].slice(-60).join("\n")}`;
    throw err;
  }
  return { url, logs, pid: child.pid, stop };
}
