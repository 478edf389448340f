/**
 * `TYK_GW_*` environment overrides (kelseyhightower/envconfig as Tyk uses it): the variable for a field is
 * its path with underscores removed, upper-cased and joined by `_` (`TYK_GW_STORAGE_HOST`). Values are
 * converted to the field's type; a value that does not convert is kept as text so the schema reports it.
 */
import { z } from "zod";
import { coreSchema, isPlainObject } from "./_fields.ts";

/** Prefix of every gateway override. */
const PREFIX = "TYK_GW";

/** Tyk's Go field names that are not their JSON names without underscores; both spellings are read. */
const GO_FIELD_NAMES: Record<string, string> = {
  max_idle_connections: "MAXIDLECONNS",
  max_idle_connections_per_host: "MAXIDLECONNSPERHOST",
  "local_session_cache.disable_cached_session_state": "DISABLECACHESESSIONSTATE",
  "storage.optimisation_max_idle": "MAXIDLE",
  "storage.optimisation_max_active": "MAXACTIVE",
};

const TRUE_WORDS = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE_WORDS = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** Go's `strconv.ParseBool`; `undefined` for anything else. */
export function parseGoBool(text: string | undefined): boolean | undefined {
  if (text === undefined) return undefined;
  if (TRUE_WORDS.has(text)) return true;
  if (FALSE_WORDS.has(text)) return false;
  return undefined;
}

function toNumber(text: string): number | string {
  const value = Number(text.trim());
  return text.trim() !== "" && Number.isFinite(value) ? value : text;
}

/** Converts one variable to the type `schema` checks, or `undefined` when envconfig cannot set it. */
function convert(text: string, schema: z.ZodType): unknown {
  if (schema instanceof z.ZodBoolean) return parseGoBool(text) ?? text;
  if (schema instanceof z.ZodNumber) return toNumber(text);
  if (schema instanceof z.ZodString || schema instanceof z.ZodEnum) return text;
  const items = text === "" ? [] : text.split(",").map((item) => item.trim());
  if (schema instanceof z.ZodArray) {
    const element = coreSchema(schema._zod.def.element as z.ZodType);
    if (element instanceof z.ZodString) return items;
    if (element instanceof z.ZodNumber) return items.map(toNumber);
    return undefined;
  }
  if (
    schema instanceof z.ZodRecord && coreSchema(schema._zod.def.valueType as z.ZodType) instanceof z.ZodString
  ) {
    // envconfig's map syntax: `key1:value1,key2:value2`
    return Object.fromEntries(items.map((item) => {
      const colon = item.indexOf(":");
      return colon < 0 ? [item, ""] : [item.slice(0, colon), item.slice(colon + 1)];
    }));
  }
  return undefined;
}

function setAt(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (!isPlainObject(node[key])) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
}

function walk(
  schema: z.ZodObject,
  path: string[],
  visit: (path: string[], leaf: z.ZodType, names: string[]) => void,
): void {
  for (const [key, child] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
    const core = coreSchema(child);
    const childPath = [...path, key];
    if (core instanceof z.ZodObject) {
      walk(core, childPath, visit);
      continue;
    }
    const names = [[PREFIX, ...childPath.map((part) => part.replaceAll("_", "").toUpperCase())].join("_")];
    const goName = GO_FIELD_NAMES[childPath.join(".")];
    if (goName) {
      names.push([PREFIX, ...path.map((part) => part.replaceAll("_", "").toUpperCase()), goName].join("_"));
    }
    visit(childPath, core, names);
  }
}

/**
 * Writes every `TYK_GW_*` variable that names a field of `schema` into the decoded file `raw`.
 * @returns the variable that set each overridden field, by dotted path, for error messages
 */
export function applyEnvOverrides(
  raw: Record<string, unknown>,
  schema: z.ZodObject,
  env: Record<string, string>,
): Map<string, string> {
  const sources = new Map<string, string>();
  walk(schema, [], (path, leaf, names) => {
    for (const name of names) {
      if (env[name] === undefined) continue;
      const value = convert(env[name], leaf);
      if (value === undefined) continue;
      setAt(raw, path, value);
      sources.set(path.join("."), name);
    }
  });
  return sources;
}
