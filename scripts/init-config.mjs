#!/usr/bin/env node
// Creates wrangler.jsonc from wrangler.jsonc.tpl when it does not exist. Never overwrites an existing file.
import { copyFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const target = join(root, "wrangler.jsonc");
if (existsSync(target)) {
  console.log("wrangler.jsonc exists: kept as it is.");
} else {
  copyFileSync(join(root, "wrangler.jsonc.tpl"), target);
  console.log("wrangler.jsonc created from wrangler.jsonc.tpl.");
}
