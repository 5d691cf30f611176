#!/usr/bin/env node
// Creates wrangler.jsonc from wrangler.jsonc.tpl when it does not exist. Never overwrites an existing file.
// Run directly (`npm run init:config`) or imported by scripts/deploycf.mjs (`ensureConfig`).
import { constants, copyFileSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const defaultRoot = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Copies `<root>/wrangler.jsonc.tpl` to `<root>/wrangler.jsonc` unless the latter exists.
 * Returns `{ path, created }`. The copy is exclusive (COPYFILE_EXCL), so even a file that appears meanwhile is kept.
 */
export function ensureConfig(root = defaultRoot) {
  const path = join(root, "wrangler.jsonc");
  try {
    copyFileSync(join(root, "wrangler.jsonc.tpl"), path, constants.COPYFILE_EXCL);
    return { path, created: true };
  } catch (error) {
    if (error.code === "EEXIST") return { path, created: false };
    throw error;
  }
}

function isMain() {
  try {
    return realpathSync(process.argv[1] ?? "") === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const { created } = ensureConfig();
  console.log(created ? "wrangler.jsonc created from wrangler.jsonc.tpl." : "wrangler.jsonc exists: kept as it is.");
}
