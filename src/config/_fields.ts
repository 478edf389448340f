/**
 * Field builders for the configuration schemas: Go zero-value defaults, and error texts that say what was
 * expected, so one issue reads `listen_port must be an integer from 0 to 65535, got "abc"`.
 */
import { z } from "zod";

const MUST_BE_OBJECT = "must be an object";
const MUST_BE_STRING = "must be a string";

/** A Go `bool`: `false` (or `fallback`) when omitted. */
export function bool(fallback = false) {
  return z.boolean({ error: "must be true or false" }).default(fallback);
}

/** A Go `string`: `""` (or `fallback`) when omitted. */
export function str(fallback = "") {
  return z.string({ error: MUST_BE_STRING }).default(fallback);
}

/** A string that falls back to `fallback` when omitted or empty, as Tyk does for its code-level defaults. */
export function strOr(fallback: string) {
  return str().transform((value) => value === "" ? fallback : value);
}

/** A Go integer within `[min, max]` when given: `fallback` when omitted. */
export function int(fallback = 0, min?: number, max?: number) {
  const expected = min !== undefined && max !== undefined
    ? `an integer from ${min} to ${max}`
    : min !== undefined
    ? `an integer of at least ${min}`
    : "an integer";
  const error = `must be ${expected}`;
  let schema = z.int({ error });
  if (min !== undefined) schema = schema.min(min, { error });
  if (max !== undefined) schema = schema.max(max, { error });
  return schema.default(fallback);
}

/** A Go integer of at least 0 where 0 (or less) means `effective`, e.g. `jsvm_timeout` 0 → 5. */
export function intOr(effective: number, max?: number) {
  return int(0, 0, max).transform((value) => value === 0 ? effective : value);
}

/** A Go `float64`: 0 when omitted. */
export function num(fallback = 0) {
  return z.number({ error: "must be a number" }).default(fallback);
}

/** A Go `[]string`: empty when omitted. */
export function strList() {
  return z.array(z.string({ error: MUST_BE_STRING }), { error: "must be a list of strings" }).default(
    () => [],
  );
}

/** A Go `map[string]string`: empty when omitted. */
export function strMap() {
  return z.record(z.string(), z.string({ error: MUST_BE_STRING }), { error: MUST_BE_OBJECT }).default(
    () => ({}),
  );
}

/** A Go `map[string]interface{}` kept as it is: empty when omitted. */
export function anyMap() {
  return z.record(z.string(), z.unknown(), { error: MUST_BE_OBJECT }).default(() => ({}));
}

/** A nested Go struct whose own defaults apply when it is omitted. */
export function obj<T extends z.ZodRawShape>(shape: T) {
  const schema = z.object(shape, { error: MUST_BE_OBJECT });
  // every field has a default, so `{}` is valid input; TypeScript cannot see that through the generic
  return schema.prefault({} as z.input<typeof schema>);
}

/** A struct inside a list or a map (no default of its own). */
export function entry<T extends z.ZodRawShape>(shape: T) {
  return z.object(shape, { error: MUST_BE_OBJECT });
}

/** A Go slice of `element`: empty when omitted. */
export function list<T extends z.ZodType>(element: T) {
  return z.array(element, { error: "must be a list" }).default(() => []);
}

/** A Go map of string to `value`: empty when omitted. */
export function recordOf<T extends z.ZodType>(value: T) {
  return z.record(z.string(), value, { error: MUST_BE_OBJECT }).default(() => ({}));
}

/** Tyk's event handler block, the same in `tyk.conf` and in API definitions. */
export function eventHandlers() {
  return obj({ events: recordOf(list(entry({ handler_name: str(), handler_meta: anyMap() }))) });
}

/** Strips defaults, optionals and transforms to reach the schema that checks the input's type. */
export function coreSchema(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const def = current._zod.def as { type: string; innerType?: z.ZodType; in?: z.ZodType };
    if (def.innerType) current = def.innerType;
    else if (def.type === "pipe" && def.in) current = def.in;
    else return current;
  }
}

/** True for a JSON object (not an array, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Shows a received value in an error message, shortened. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

/** Writes a path the way a user would type it: `http_server_options.certificates[0].cert_file`. */
export function pathText(path: readonly PropertyKey[]): string {
  let text = "";
  for (const part of path) {
    text += typeof part === "number" ? `[${part}]` : `${text === "" ? "" : "."}${String(part)}`;
  }
  return text;
}

/**
 * Turns zod issues into one sentence per issue, joined by `; `.
 * @param label how to name a field path, e.g. to add the environment variable it came from
 */
export function issuesText(
  issues: readonly z.core.$ZodIssue[],
  label: (path: string) => string = (path) => path,
): string {
  return issues.map((issue) => {
    const path = pathText(issue.path);
    const subject = path === "" ? "value" : label(path);
    if (issue.input === undefined) return `${subject} is missing`;
    return `${subject} ${issue.message}, got ${describeValue(issue.input)}`;
  }).join("; ");
}
