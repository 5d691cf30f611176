// A small JSONC reader and editor that changes a file only where it is told to.
//
// `wrangler.jsonc` is the operator's file: comments, key order, indentation and trailing commas must survive a
// redeploy. So instead of parse → mutate → stringify (which loses all of that), this module parses the text into a
// tree that remembers where every value starts and ends, and an edit replaces exactly one value's characters (or
// inserts one property before an object's closing brace). Everything else stays byte for byte.
//
// Supported: JSON plus `//` and `/* */` comments and trailing commas (what wrangler accepts in .jsonc).

/** A parse error with a 1-based line and column. */
export class JsoncError extends Error {
  constructor(message, text, offset) {
    const before = text.slice(0, offset);
    const line = before.split("\n").length;
    const column = offset - before.lastIndexOf("\n");
    super(`${message} at line ${line}, column ${column}`);
    this.name = "JsoncError";
  }
}

/**
 * Parses JSONC text. Returns `{ value, root }`: `value` is the plain JavaScript value, `root` the positioned tree.
 * Tree nodes: `{ kind: "object", start, end, props: [{ key, keyStart, value: node }] }`,
 * `{ kind: "array", start, end, items: [node] }`, `{ kind: "string"|"number"|"literal", start, end, value }`.
 * `start`/`end` are offsets into `text` (`end` exclusive).
 */
export function parseJsonc(text) {
  let pos = 0;

  const fail = (message, at = pos) => {
    throw new JsoncError(message, text, at);
  };

  // Skips whitespace and comments.
  const skip = () => {
    for (;;) {
      const c = text[pos];
      if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\ufeff") {
        pos += 1;
      } else if (c === "/" && text[pos + 1] === "/") {
        const nl = text.indexOf("\n", pos);
        pos = nl === -1 ? text.length : nl + 1;
      } else if (c === "/" && text[pos + 1] === "*") {
        const close = text.indexOf("*/", pos + 2);
        if (close === -1) fail("unterminated /* comment");
        pos = close + 2;
      } else {
        return;
      }
    }
  };

  const parseString = () => {
    const start = pos;
    pos += 1; // opening quote
    for (;;) {
      const c = text[pos];
      if (c === undefined || c === "\n") fail("unterminated string", start);
      if (c === "\\") {
        pos += 2;
      } else if (c === '"') {
        pos += 1;
        break;
      } else {
        pos += 1;
      }
    }
    let value;
    try {
      value = JSON.parse(text.slice(start, pos));
    } catch {
      fail("invalid string escape", start);
    }
    return { kind: "string", start, end: pos, value };
  };

  const parseValue = () => {
    skip();
    const start = pos;
    const c = text[pos];
    if (c === "{") return parseObject();
    if (c === "[") return parseArray();
    if (c === '"') return parseString();
    const number = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(pos, pos + 64));
    if (number) {
      pos += number[0].length;
      return { kind: "number", start, end: pos, value: Number(number[0]) };
    }
    for (const [word, value] of [["true", true], ["false", false], ["null", null]]) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return { kind: "literal", start, end: pos, value };
      }
    }
    return fail(c === undefined ? "unexpected end of file" : `unexpected character ${JSON.stringify(c)}`);
  };

  const parseObject = () => {
    const start = pos;
    pos += 1;
    const props = [];
    for (;;) {
      skip();
      if (text[pos] === "}") break;
      if (text[pos] !== '"') fail('expected a property name in double quotes or "}"');
      const keyNode = parseString();
      skip();
      if (text[pos] !== ":") fail('expected ":" after a property name');
      pos += 1;
      const value = parseValue();
      props.push({ key: keyNode.value, keyStart: keyNode.start, value });
      skip();
      if (text[pos] === ",") {
        pos += 1;
      } else if (text[pos] !== "}") {
        fail('expected "," or "}"');
      }
    }
    pos += 1;
    return { kind: "object", start, end: pos, props };
  };

  const parseArray = () => {
    const start = pos;
    pos += 1;
    const items = [];
    for (;;) {
      skip();
      if (text[pos] === "]") break;
      items.push(parseValue());
      skip();
      if (text[pos] === ",") {
        pos += 1;
      } else if (text[pos] !== "]") {
        fail('expected "," or "]"');
      }
    }
    pos += 1;
    return { kind: "array", start, end: pos, items };
  };

  const root = parseValue();
  skip();
  if (pos !== text.length) fail("unexpected text after the end of the document");
  return { value: toPlain(root), root };
}

function toPlain(node) {
  switch (node.kind) {
    case "object": {
      const out = {};
      for (const prop of node.props) out[prop.key] = toPlain(prop.value);
      return out;
    }
    case "array":
      return node.items.map(toPlain);
    default:
      return node.value;
  }
}

/** The node at `path` (property names and array indexes), or undefined. The last duplicate key wins, as in JSON.parse. */
export function findNode(root, path) {
  let node = root;
  for (const step of path) {
    if (node === undefined) return undefined;
    if (typeof step === "number") {
      node = node.kind === "array" ? node.items[step] : undefined;
    } else {
      node = node.kind === "object" ? node.props.findLast((p) => p.key === step)?.value : undefined;
    }
  }
  return node;
}

/**
 * Returns `text` with the value at `path` set to `value` (any JSON value, written with JSON.stringify).
 * An existing value's characters are replaced in place; a missing property is added at the end of its parent object,
 * indented like its siblings. The parent object must exist. Nothing else in the text changes.
 */
export function setValue(text, path, value) {
  if (path.length === 0) throw new Error("setValue needs a non-empty path");
  const { root } = parseJsonc(text);
  const existing = findNode(root, path);
  if (existing !== undefined) {
    return text.slice(0, existing.start) + JSON.stringify(value) + text.slice(existing.end);
  }
  const key = path[path.length - 1];
  const parent = findNode(root, path.slice(0, -1));
  if (typeof key !== "string" || parent?.kind !== "object") {
    throw new Error(`cannot add ${JSON.stringify(path)}: its parent is not an object in the file`);
  }
  return insertProperty(text, parent, key, value);
}

function insertProperty(text, object, key, value) {
  const close = object.end - 1; // index of "}"
  const last = object.props[object.props.length - 1];
  const multiline = text.slice(object.start, object.end).includes("\n");
  // Insert after the last thing inside the object (a value, a trailing comma or a comment), before the
  // whitespace that leads to "}", so a comment stays with the line it was written on.
  let at = close;
  while (at > object.start + 1 && /\s/.test(text[at - 1])) at -= 1;

  let indent = "";
  if (multiline) {
    const anchor = last ? last.keyStart : close;
    const lineStart = text.lastIndexOf("\n", anchor - 1) + 1;
    indent = /^[ \t]*/.exec(text.slice(lineStart))[0];
    if (!last) indent += "  ";
  }
  const entry = `${JSON.stringify(key)}: ${JSON.stringify(value)}`;
  const newline = text.includes("\r\n") ? "\r\n" : "\n";
  const separator = multiline ? `${newline}${indent}` : " ";

  if (!last) {
    // Empty object: `{}` or `{ // comment \n }`.
    const tail = multiline ? "" : " ";
    return text.slice(0, at) + separator + entry + tail + text.slice(at);
  }
  // A comma is needed after the last value unless the file already has a trailing comma.
  const between = text.slice(last.value.end, at);
  const hasTrailingComma = stripComments(between).trim().startsWith(",");
  const withComma = hasTrailingComma ? text : text.slice(0, last.value.end) + "," + text.slice(last.value.end);
  const shift = hasTrailingComma ? 0 : 1;
  return withComma.slice(0, at + shift) + separator + entry + withComma.slice(at + shift);
}

function stripComments(fragment) {
  return fragment.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/[^\n]*/g, "");
}
