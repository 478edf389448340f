/**
 * Go `encoding/json` key matching for our schemas: an object key binds the field of the same name, or else
 * the field whose name matches ignoring case (`"Listen_Port"` binds `listen_port`); the last duplicate wins;
 * `null` leaves the field at its default; keys no field matches are dropped (and reported when asked).
 */
import { z } from "zod";
import { coreSchema, isPlainObject } from "./_fields.ts";

/** What to do with keys that match no field. */
export interface FoldKeysOptions {
  /** Called once per unknown key with its dotted path (`storage.hots`). */
  onUnknown?: (path: string) => void;
  /** Lower-case dotted paths of keys known to Tyk that we accept and drop without a word. */
  accepted?: ReadonlySet<string>;
}

const LOWER_CASE_INDEX = new WeakMap<z.ZodObject, Map<string, string>>();

function lowerCaseIndex(schema: z.ZodObject): Map<string, string> {
  let index = LOWER_CASE_INDEX.get(schema);
  if (!index) {
    index = new Map(Object.keys(schema.shape).map((key) => [key.toLowerCase(), key]));
    LOWER_CASE_INDEX.set(schema, index);
  }
  return index;
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function fold(value: unknown, schema: z.ZodType, path: string, options: FoldKeysOptions): unknown {
  const core = coreSchema(schema);
  if (core instanceof z.ZodObject && isPlainObject(value)) {
    const shape = core.shape as Record<string, z.ZodType>;
    const keepUnknown = core._zod.def.catchall !== undefined;
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      if (child === null) continue;
      const field = Object.hasOwn(shape, key) ? key : lowerCaseIndex(core).get(key.toLowerCase());
      if (field !== undefined) {
        out[field] = fold(child, shape[field], join(path, field), options);
      } else if (keepUnknown) {
        out[key] = child;
      } else if (!options.accepted?.has(join(path, key).toLowerCase())) {
        options.onUnknown?.(join(path, key));
      }
    }
    return out;
  }
  if (core instanceof z.ZodRecord && isPlainObject(value)) {
    const valueSchema = core._zod.def.valueType as z.ZodType;
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      if (child !== null) out[key] = fold(child, valueSchema, join(path, key), options);
    }
    return out;
  }
  if (core instanceof z.ZodArray && Array.isArray(value)) {
    const element = core._zod.def.element as z.ZodType;
    return value.map((child, i) => fold(child, element, `${path}[${i}]`, options));
  }
  return value;
}

/**
 * Renames the keys of decoded JSON to the schema's field names the way Go's decoder matches them.
 * @param value the decoded JSON
 * @param schema the zod schema the result is parsed with next
 */
export function foldGoJsonKeys(value: unknown, schema: z.ZodType, options: FoldKeysOptions = {}): unknown {
  return fold(value, schema, "", options);
}
