// The JSONC editor behind deploycf's edits to wrangler.jsonc: it must read what wrangler reads and change nothing
// but the one value it is asked to set.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { JsoncError, findNode, parseJsonc, setValue } from "../../scripts/deploy/jsonc.mjs";
import { repo } from "./sandbox.mjs";

const tpl = readFileSync(join(repo, "wrangler.jsonc.tpl"), "utf8");

describe("parseJsonc", () => {
  test("reads comments, trailing commas and strings that look like comments", () => {
    const text = `// head
{
  /* block */ "a": "x // not a comment", // line
  "b": [1, -2.5e3, true, null,],
  "c": { "d": "q\\"uote /* still a string */" },
}
`;
    assert.deepEqual(parseJsonc(text).value, {
      a: "x // not a comment",
      b: [1, -2500, true, null],
      c: { d: 'q"uote /* still a string */' },
    });
  });

  test("reads the template the same way as JSON.parse of its comment-free form", () => {
    const { value } = parseJsonc(tpl);
    assert.equal(value.d1_databases[0].binding, "DB");
    assert.equal(value.vars.CLOUDFLARE_ACCOUNT_ID, "");
    assert.equal(value.dev.port, 8787);
  });

  test("reports where a file is broken", () => {
    assert.throws(() => parseJsonc('{\n  "a": 1\n  "b": 2\n}'), (e) => e instanceof JsoncError && /line 3, column 3/.test(e.message));
    assert.throws(() => parseJsonc('{ "a": "open'), /unterminated string/);
    assert.throws(() => parseJsonc("{ /* never closed"), /unterminated \/\* comment/);
    assert.throws(() => parseJsonc("{} {}"), /after the end/);
    assert.throws(() => parseJsonc("{ a: 1 }"), /property name/);
  });

  test("finds nodes by property names and array indexes, the last duplicate winning like JSON.parse", () => {
    const { root } = parseJsonc('{ "x": [ { "id": "first" }, { "id": "second" } ], "k": 1, "k": 2 }');
    assert.equal(findNode(root, ["x", 1, "id"]).value, "second");
    assert.equal(findNode(root, ["k"]).value, 2);
    assert.equal(findNode(root, ["x", 5]), undefined);
    assert.equal(findNode(root, ["missing", "deeper"]), undefined);
  });
});

describe("setValue", () => {
  test("replaces exactly the value's characters and nothing else", () => {
    const text = tpl;
    const out = setValue(text, ["d1_databases", 0, "database_id"], "abc");
    const at = text.indexOf('"00000000-0000-0000-0000-000000000000"');
    assert.equal(out, text.slice(0, at) + '"abc"' + text.slice(at + 38));
  });

  test("writes any JSON value escaped", () => {
    const out = setValue('{ "a": 1 }', ["a"], 'he said "hi"\n');
    assert.equal(out, '{ "a": "he said \\"hi\\"\\n" }');
    assert.equal(parseJsonc(out).value.a, 'he said "hi"\n');
  });

  test("adds a missing property after the last one, indented like it, keeping its comment on its line", () => {
    const text = '{\n  "vars": {\n    // c\n    "A": "1" // note\n  },\n}\n';
    const out = setValue(text, ["vars", "B"], "2");
    assert.equal(out, '{\n  "vars": {\n    // c\n    "A": "1", // note\n    "B": "2"\n  },\n}\n');
  });

  test("does not add a second comma after a trailing comma", () => {
    const out = setValue('{\n  "vars": {\n    "A": "1", /* x */\n  }\n}', ["vars", "B"], "2");
    assert.equal(out, '{\n  "vars": {\n    "A": "1", /* x */\n    "B": "2"\n  }\n}');
    assert.deepEqual(parseJsonc(out).value, { vars: { A: "1", B: "2" } });
  });

  test("adds to empty and one-line objects", () => {
    assert.equal(setValue('{ "vars": {} }', ["vars", "A"], "1"), '{ "vars": { "A": "1" } }');
    assert.equal(setValue('{ "vars": { "A": "1" } }', ["vars", "B"], "2"), '{ "vars": { "A": "1", "B": "2" } }');
    assert.equal(setValue('{\n  "vars": {\n  }\n}', ["vars", "A"], "1"), '{\n  "vars": {\n    "A": "1"\n  }\n}');
  });

  test("keeps CRLF line endings when it adds a line", () => {
    const out = setValue('{\r\n  "vars": {\r\n    "A": "1"\r\n  }\r\n}\r\n', ["vars", "B"], "2");
    assert.equal(out, '{\r\n  "vars": {\r\n    "A": "1",\r\n    "B": "2"\r\n  }\r\n}\r\n');
  });

  test("refuses a path whose parent is not an object", () => {
    assert.throws(() => setValue('{ "a": [1] }', ["a", "b"], 1), /parent is not an object/);
    assert.throws(() => setValue('{ "a": 1 }', ["x", "y"], 1), /parent is not an object/);
  });

  test("every edit of the template leaves the rest of it untouched and parseable", () => {
    for (const [path, value] of [
      [["vars", "AI_GATEWAY"], "a,b"],
      [["vars", "CLOUDFLARE_ACCOUNT_ID"], "0123456789abcdef0123456789abcdef"],
      [["vars", "NEW_ONE"], "x"],
      [["d1_databases", 0, "database_id"], "11111111-2222-4333-8444-555555555555"],
    ]) {
      const out = setValue(tpl, path, value);
      assert.equal(findNode(parseJsonc(out).root, path).value, value);
      const outLines = out.split("\n");
      const changed = outLines.filter((line) => !tpl.split("\n").includes(line));
      assert.ok(changed.length <= 2, `${path.join(".")}: changed ${JSON.stringify(changed)}`);
      for (const comment of tpl.split("\n").filter((l) => l.trim().startsWith("//"))) {
        assert.ok(outLines.includes(comment), `comment kept: ${comment}`);
      }
    }
  });
});
