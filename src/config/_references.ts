/**
 * `env://NAME` and `secrets://key` inside API definitions (Tyk's `replaceSecrets`). Tyk rewrites the file
 * text; we rewrite each string value, which gives the same result as inserting the JSON-escaped value.
 */
import { isPlainObject } from "./_fields.ts";

/** Where references are looked up. */
export interface ReferenceSources {
  /** Environment for `env://NAME`; the process environment when omitted. */
  env?: Record<string, string>;
  /** `tyk.conf` `secrets` for `secrets://key`. */
  secrets?: Record<string, string>;
}

/** Tyk's `env://([^"]+)`: the name runs to the end of the string value. */
const ENV_REFERENCE = /env:\/\/(.+)$/s;

function replaceIn(
  text: string,
  lookupEnv: (name: string) => string | undefined,
  secretKeys: string[],
  secrets: Record<string, string>,
): string {
  let out = text;
  if (out.includes("env://")) {
    const match = ENV_REFERENCE.exec(out);
    // an unset or empty variable leaves the reference as it was, as Tyk does
    const value = match ? lookupEnv(match[1]) : undefined;
    if (match && value) out = out.slice(0, match.index) + value;
  }
  if (out.includes("secrets://")) {
    for (const key of secretKeys) out = out.replaceAll(`secrets://${key}`, secrets[key]);
  }
  return out;
}

function walk(value: unknown, replace: (text: string) => string): unknown {
  if (typeof value === "string") return value.includes("://") ? replace(value) : value;
  if (Array.isArray(value)) return value.map((item) => walk(item, replace));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) out[key] = walk(child, replace);
    return out;
  }
  return value;
}

/** Returns a copy of decoded JSON with every `env://` and `secrets://` reference in its strings replaced. */
export function replaceReferences(value: unknown, sources: ReferenceSources = {}): unknown {
  const env = sources.env;
  const lookupEnv = env ? (name: string) => env[name] : (name: string) => Deno.env.get(name);
  const secrets = sources.secrets ?? {};
  // longest key first, so `secrets://ab` is not taken for key `a` followed by "b"
  const secretKeys = Object.keys(secrets).sort((a, b) => b.length - a.length);
  return walk(value, (text) => replaceIn(text, lookupEnv, secretKeys, secrets));
}
