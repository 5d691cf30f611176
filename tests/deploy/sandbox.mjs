// Test helper: a throwaway copy of the files `npm run deploycf` uses, with the stand-in wrangler
// (./fake-wrangler.mjs) first on PATH, so the tests run the real script without touching the checkout or the network.

import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const fake = join(repo, "tests", "deploy", "fake-wrangler.mjs");

export const ACCOUNT = "0123456789abcdef0123456789abcdef";
export const NEW_DB = "11111111-2222-4333-8444-555555555555";
export const template = () => readFileSync(join(repo, "wrangler.jsonc.tpl"), "utf8");

/** Writes an executable stand-in at `path`: a copy of the fake wrangler, or a shell stub for build tools. */
/** Runs a command to its end with no stdin; resolves with its exit code and everything it printed. */
export function runCollecting(command, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

export function installFakeWrangler(path) {
  mkdirSync(dirname(path), { recursive: true });
  copyFileSync(fake, path);
  chmodSync(path, 0o755);
}

/**
 * Creates a sandbox. `state` seeds the fake account (see fake-wrangler.mjs); `config` is an initial wrangler.jsonc
 * text (none by default: a clean checkout); `buildTools: false` leaves worker-build and cargo off PATH.
 */
export function makeSandbox({ state = {}, config, buildTools = true } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "ob-deploy-"));
  const root = join(dir, "repo");
  const bin = join(dir, "bin");
  const fakeDir = join(dir, "fake");
  mkdirSync(root);
  mkdirSync(fakeDir);
  mkdirSync(join(dir, "home"));
  copyFileSync(join(repo, "wrangler.jsonc.tpl"), join(root, "wrangler.jsonc.tpl"));
  copyFileSync(join(repo, "package.json"), join(root, "package.json"));
  cpSync(join(repo, "migrations"), join(root, "migrations"), { recursive: true });
  mkdirSync(join(root, "scripts"));
  copyFileSync(join(repo, "scripts", "deploycf.mjs"), join(root, "scripts", "deploycf.mjs"));
  copyFileSync(join(repo, "scripts", "init-config.mjs"), join(root, "scripts", "init-config.mjs"));
  cpSync(join(repo, "scripts", "deploy"), join(root, "scripts", "deploy"), { recursive: true });
  if (config !== undefined) writeFileSync(join(root, "wrangler.jsonc"), config);
  installFakeWrangler(join(bin, "wrangler"));
  if (buildTools) {
    for (const tool of ["worker-build", "cargo"]) {
      writeFileSync(join(bin, tool), "#!/bin/sh\nexit 0\n");
      chmodSync(join(bin, tool), 0o755);
    }
  }
  writeFileSync(join(fakeDir, "state.json"), JSON.stringify(state));

  return {
    dir,
    root,
    bin,
    configPath: join(root, "wrangler.jsonc"),
    /** Runs deploycf with only `env` (plus PATH, HOME and the fake's directory) in its environment. */
    deploy(env = {}) {
      const childEnv = {
        PATH: [bin, dirname(process.execPath)].join(":"),
        HOME: join(dir, "home"),
        FAKE_WRANGLER_DIR: fakeDir,
        NO_COLOR: "1",
        ...env,
      };
      return runCollecting(process.execPath, [join(root, "scripts", "deploycf.mjs")], { cwd: root, env: childEnv });
    },
    /** The wrangler calls made so far, oldest first. */
    calls() {
      const path = join(fakeDir, "calls.jsonl");
      if (!existsSync(path)) return [];
      return readFileSync(path, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
    },
    commands() {
      return this.calls().map((c) => c.args.join(" "));
    },
    state() {
      return JSON.parse(readFileSync(join(fakeDir, "state.json"), "utf8"));
    },
    config() {
      return existsSync(join(root, "wrangler.jsonc")) ? readFileSync(join(root, "wrangler.jsonc"), "utf8") : undefined;
    },
    /** Every file under the sandbox whose bytes contain `needle`. */
    filesContaining(needle) {
      const hits = [];
      const walk = (path) => {
        for (const entry of readdirSync(path, { withFileTypes: true })) {
          const full = join(path, entry.name);
          if (entry.isDirectory()) walk(full);
          else if (entry.isFile() && readFileSync(full).includes(needle)) hits.push(full);
        }
      };
      walk(dir);
      return hits;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
