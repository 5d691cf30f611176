// README.md and its Chinese translation README.zh-CN.md keep the same outline: headings, tables, fenced code and links.
// The translation may reword prose freely (including comments inside code blocks); everything else must match.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { repo } from "./sandbox.mjs";

const EN = "README.md";
const ZH = "README.zh-CN.md";

/**
 * Reads a Markdown text into what the two versions must share: headings (levels, in order), tables (rows and columns,
 * outside code), fenced code blocks and link targets (outside code blocks and code spans).
 */
function parse(text) {
  const headings = [];
  const tables = [];
  const blocks = [];
  const links = [];
  const headingTexts = [];
  let fence;
  let table;
  for (const line of text.split("\n")) {
    if (fence) {
      const close = line.match(/^\s*(`{3,}|~{3,})\s*$/);
      if (close && close[1][0] === fence.marker[0] && close[1].length >= fence.marker.length) {
        blocks.push({ indent: fence.indent, info: fence.info, lines: fence.lines });
        fence = undefined;
      } else {
        fence.lines.push(line);
      }
      continue;
    }
    const open = line.match(/^(\s*)(`{3,}|~{3,})\s*([^`\s]*)/);
    if (open) {
      fence = { indent: open[1], marker: open[2], info: open[3], lines: [] };
      table = undefined;
      continue;
    }
    if (/^\s*\|/.test(line)) {
      if (!table) tables.push((table = { rows: 0, columns: undefined }));
      table.rows += 1;
      if (/^\s*\|(\s*:?-+:?\s*\|)+\s*$/.test(line)) table.columns = line.trim().split("|").length - 2;
    } else {
      table = undefined;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      headings.push(heading[1].length);
      headingTexts.push(heading[2]);
    }
    const prose = line.replace(/`[^`]*`/g, "");
    for (const [, target] of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push(target);
    const definition = prose.match(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/);
    if (definition) links.push(definition[1]);
    for (const [, target] of prose.matchAll(/<(https?:\/\/[^>\s]+)>/g)) links.push(target);
  }
  assert.equal(fence, undefined, "a fenced code block is never closed");
  return { headings, headingTexts, tables, blocks, links };
}

/** The comment syntax of a fence's language, if the translation may rewrite comments in it. */
function commentMarker(info) {
  if (/^(sh|bash|shell|zsh|console|python|py|toml|ya?ml)$/i.test(info)) return "#";
  if (/^(js|javascript|mjs|ts|typescript|jsonc|rust|rs|c|cpp|go)$/i.test(info)) return "//";
  return undefined;
}

/**
 * A code block with prose comments set aside: per line, the code before a comment (trailing spaces dropped) and
 * whether a comment follows. A comment starts at the marker at the line start or after whitespace, so `https://`
 * and `a#b` are code.
 */
function codeOf(block) {
  const marker = commentMarker(block.info);
  return block.lines.map((line) => {
    if (marker) {
      const at = line.search(marker === "#" ? /(^|\s)#/ : /(^|\s)\/\//);
      if (at >= 0) return { code: line.slice(0, at).trimEnd(), comment: true };
    }
    return { code: line.trimEnd(), comment: false };
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped (letters of any script stay), spaces to hyphens. */
const slug = (heading) =>
  heading
    .replace(/`/g, "")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");

/**
 * Where an English link should point in the Chinese document: a file with a Chinese version points there, the Chinese
 * README's own link back to English points at README.md, and a link into the document itself (#anchor) just has to
 * exist (anchors are translated with their headings).
 */
function toChinese(target) {
  if (target.startsWith("#")) return "#";
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return target;
  const [path, anchor] = target.split("#");
  const rest = anchor === undefined ? "" : "#";
  if (path === ZH) return EN + rest;
  if (path.endsWith(".md") && !path.endsWith(".zh-CN.md")) {
    const chinese = path.replace(/\.md$/, ".zh-CN.md");
    if (existsSync(join(repo, chinese))) return chinese + rest;
  }
  return path + rest;
}

const ignoreAnchors = (target) => target.replace(/#.*$/, "#");

describe("README.md and README.zh-CN.md", () => {
  const en = parse(readFileSync(join(repo, EN), "utf8"));
  const zh = parse(readFileSync(join(repo, ZH), "utf8"));

  test("have the same headings at each level, in the same order", () => {
    assert.ok(en.headings.length > 0);
    assert.deepEqual(zh.headings, en.headings);
  });

  test("have the same tables, each with the same number of rows and columns", () => {
    assert.ok(en.tables.length > 0);
    assert.deepEqual(zh.tables, en.tables);
  });

  test("have the same fenced code blocks; only comments may be translated", () => {
    assert.equal(zh.blocks.length, en.blocks.length, "number of code blocks");
    en.blocks.forEach((block, i) => {
      const other = zh.blocks[i];
      assert.equal(other.info, block.info, `code block ${i + 1}: language`);
      assert.equal(other.indent, block.indent, `code block ${i + 1}: indentation`);
      assert.deepEqual(codeOf(other), codeOf(block), `code block ${i + 1}: code and where its comments are`);
    });
  });

  test("link every target README.md links, mapped to the Chinese documents where they exist", () => {
    const expected = en.links.map(toChinese);
    for (const target of expected) assert.ok(zh.links.map(ignoreAnchors).includes(ignoreAnchors(target)), `${ZH} lacks a link to ${target}`);
    assert.deepEqual([...zh.links.map(ignoreAnchors)].sort(), [...expected.map(ignoreAnchors)].sort(), "the same links, no more");
  });

  test("link only files that exist and anchors that exist", () => {
    for (const [doc, parsed] of [[EN, en], [ZH, zh]]) {
      const anchors = new Set(parsed.headingTexts.map(slug));
      for (const target of parsed.links) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
        if (target.startsWith("#")) {
          assert.ok(anchors.has(decodeURIComponent(target.slice(1))), `${doc}: no heading for ${target}`);
        } else {
          assert.ok(existsSync(join(repo, target.split("#")[0])), `${doc}: ${target} does not exist`);
        }
      }
    }
  });
});
