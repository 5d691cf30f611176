// Validation of what the operator passes to `npm run deploycf` through the environment.
//
// Everything here is pure and runs before any wrangler command, so a bad value stops the deploy before anything on
// Cloudflare changes. Messages never quote the AUTH_KEY value (they name a definition by its position instead).

/** The public default of the original project: anyone can guess it. */
export const PUBLIC_DEFAULT_KEY = "my-auth-key";

/**
 * Below this length an unrestricted service key is refused (the Worker refuses to start with one:
 * MIN_UNRESTRICTED_KEY_CHARS in src/service_keys.rs) and a model-restricted one gets a warning.
 */
export const SHORT_KEY_LENGTH = 16;

const GRAMMAR = "key[(unix_expiry)][=provider[,model…][&provider[,model…]…]], definitions separated by ';'";

/**
 * Checks an AUTH_KEY value. Mirrors the Worker's own grammar (src/service_keys.rs) and is stricter on one point:
 * whitespace anywhere is refused, because wrangler trims it and a stray space or newline from a copy-paste would
 * silently become part of (or vanish from) the secret.
 * Returns `{ ok: true, warnings }` or `{ ok: false, problem }`.
 * An unrestricted key shorter than SHORT_KEY_LENGTH is refused, a short restricted one only warned about.
 */
export function checkAuthKey(raw) {
  if (raw === undefined || raw === "") {
    return { ok: false, problem: "AUTH_KEY is empty." };
  }
  if (/\s/.test(raw)) {
    return { ok: false, problem: "AUTH_KEY contains whitespace (a space, tab or newline). Remove it; keys may not hold whitespace." };
  }
  const definitions = raw.split(";").filter((d) => d !== "");
  if (definitions.length === 0) {
    return { ok: false, problem: "AUTH_KEY holds no key (only ';')." };
  }
  const warnings = [];
  for (const [index, definition] of definitions.entries()) {
    const position = index + 1;
    const problem = checkDefinition(definition);
    if (problem === "default") {
      return {
        ok: false,
        problem:
          `AUTH_KEY definition ${position} is the public default \`${PUBLIC_DEFAULT_KEY}\`, which anyone can guess. ` +
          "Use a long random value instead.",
      };
    }
    if (problem) {
      return { ok: false, problem: `AUTH_KEY definition ${position} is malformed: ${problem}. Expected ${GRAMMAR}.` };
    }
    const key = definition.split("=")[0].replace(/\(\d+\)$/, "");
    const unrestricted = !definition.includes("=");
    if (unrestricted && [...key].length < SHORT_KEY_LENGTH) {
      return {
        ok: false,
        problem:
          `AUTH_KEY definition ${position} is an unrestricted key (it opens the admin page) shorter than ${SHORT_KEY_LENGTH} characters; ` +
          "the Worker refuses to start with it. Use a long random value.",
      };
    }
    if ([...key].length < SHORT_KEY_LENGTH) {
      warnings.push(
        `AUTH_KEY definition ${position} is shorter than ${SHORT_KEY_LENGTH} characters; a long random key is much harder to guess.`,
      );
    }
  }
  return { ok: true, warnings };
}

function checkDefinition(definition) {
  const eq = definition.indexOf("=");
  const head = eq === -1 ? definition : definition.slice(0, eq);
  const scope = eq === -1 ? undefined : definition.slice(eq + 1);
  let key = head;
  if (head.endsWith(")")) {
    const open = head.lastIndexOf("(");
    if (open === -1) return "')' without '('";
    if (!/^\d+$/.test(head.slice(open + 1, -1))) return "the expiry must be unix seconds";
    key = head.slice(0, open);
  }
  if (key === "") return "the key is empty";
  if (/[()=&,]/.test(key)) return "the key contains one of ( ) = & ,";
  if (key === PUBLIC_DEFAULT_KEY) return "default";
  if (scope !== undefined) {
    for (const part of scope.split("&")) {
      if (part.split(",")[0] === "") return "a provider name is empty";
    }
  }
  return undefined;
}

/** The vars `deploycf` may set from the environment, with their checks. */
export const OVERRIDES = {
  AI_GATEWAY: {
    describe: "comma-separated AI Gateway names of letters, digits, '-' and '_'",
    normalize(raw) {
      const names = raw.split(",").map((n) => n.trim());
      if (names.some((n) => !/^[A-Za-z0-9_-]+$/.test(n))) return undefined;
      return names.join(",");
    },
  },
  CONSECUTIVE_429_THRESHOLD: { describe: "a whole number from 1 to 100", normalize: wholeNumber(1, 100) },
  MAX_ATTEMPTS: { describe: "a whole number from 1 to 40", normalize: wholeNumber(1, 40) },
};

function wholeNumber(min, max) {
  return (raw) => {
    const text = raw.trim();
    if (!/^\d{1,6}$/.test(text)) return undefined;
    const value = Number(text);
    return value >= min && value <= max ? String(value) : undefined;
  };
}

/**
 * Reads the optional overrides from `env`. Only variables that are set (and not empty) count.
 * Returns `{ ok: true, values: { NAME: "normalized" } }` or `{ ok: false, problems: [..] }`.
 */
export function readOverrides(env) {
  const values = {};
  const problems = [];
  for (const [name, rule] of Object.entries(OVERRIDES)) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    const value = rule.normalize(raw);
    if (value === undefined) {
      problems.push(`${name}=${JSON.stringify(raw)} is not valid: it must be ${rule.describe}.`);
    } else {
      values[name] = value;
    }
  }
  return problems.length ? { ok: false, problems } : { ok: true, values };
}

/** A Cloudflare account id: 32 hex digits. */
export function isAccountId(value) {
  return typeof value === "string" && /^[0-9a-f]{32}$/i.test(value);
}

/** A D1 database name wrangler accepts and that is safe to pass as one command-line argument on every platform. */
export function isDatabaseName(value) {
  return typeof value === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(value);
}
