/**
 * Decodes JSON text the way Go's `encoding/json` (v1) fills Tyk's structs: keys match field names
 * case-insensitively (Unicode simple folding), the last matching key wins in document order, unknown keys
 * are ignored, `null` leaves the zero value and every type mismatch fails the whole decode. The hook
 * result's structs are in `sandbox/hook_result.ts`.
 *
 * Runs inside the sandbox, after plugin code (`sandbox/hook_result.ts`), with built-ins used directly, as
 * `sandbox/_primordials.ts` allows for code that only shapes a plugin's own result.
 */

/** A Go type the decoder fills; build them with the `GO_*` constants and `go*()` helpers below. */
export type GoType =
  | { readonly kind: "string" | "int" | "bool" | "bytes" | "any" | "object" }
  | { readonly kind: "slice" | "map"; readonly elem: GoType }
  | GoStruct;

/** A Go struct: fields matched by name (or alias) under case folding. */
export interface GoStruct {
  readonly kind: "struct";
  readonly fields: readonly GoField[];
  /** Exact field name or alias → field (Go tries the exact name first). */
  readonly byName: ReadonlyMap<string, GoField>;
  /** Folded field name or alias → field; built once by {@link goStruct}. */
  readonly byFolded: ReadonlyMap<string, GoField>;
}

/** One struct field: its Go name, extra accepted key names, and its type. */
export interface GoField {
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly type: GoType;
}

/** Go `string`. */
export const GO_STRING: GoType = { kind: "string" };
/** Go `int` (int64): a JSON integer literal only, no fraction, exponent or quotes. */
export const GO_INT: GoType = { kind: "int" };
/** Go `bool`. */
export const GO_BOOL: GoType = { kind: "bool" };
/** Go `[]byte`: a padded standard base64 string, kept as that (validated) string; `null` when absent. */
export const GO_BYTES: GoType = { kind: "bytes" };
/** Go `interface{}`: any JSON value. */
export const GO_ANY: GoType = { kind: "any" };
/** A JSON object or `null`, taken as it is (e.g. a session handed on to the keys parser). */
export const GO_OBJECT: GoType = { kind: "object" };

/** Go `[]elem`; `null` when absent. */
export function goSlice(elem: GoType): GoType {
  return { kind: "slice", elem };
}

/** Go `map[string]elem`; `null` when absent. */
export function goMap(elem: GoType): GoType {
  return { kind: "map", elem };
}

const ASCII = /^[\x20-\x7e]*$/;

/**
 * Folds a key as Go's `foldName` does, enough for ASCII field names: a–z upper-cased, the Kelvin sign
 * and the long s mapped to `K` and `S`; every other non-ASCII character folds to a non-ASCII one and
 * so never matches.
 */
function foldKey(key: string): string {
  if (ASCII.test(key)) return key.toUpperCase();
  return key.replace(/[a-z]/g, (c) => c.toUpperCase()).replaceAll("\u212a", "K").replaceAll("\u017f", "S");
}

/** Go `struct{…}` with the given fields. */
export function goStruct(fields: GoField[]): GoStruct {
  const byName = new Map<string, GoField>();
  const byFolded = new Map<string, GoField>();
  for (const field of fields) {
    for (const name of [field.name, ...(field.aliases ?? [])]) {
      byName.set(name, field);
      byFolded.set(foldKey(name), field);
    }
  }
  return { kind: "struct", fields, byName, byFolded };
}

/** The decode failed: the text is not JSON, or a value does not fit its field. */
export class GoJsonError extends Error {
  override name = "GoJsonError";
  /** Where it failed, e.g. `Request.SetHeaders["X-Count"]`; `""` for syntax errors. */
  readonly path: string;
  constructor(message: string, path = "") {
    super(message);
    this.path = path;
  }
}

const MAX_DEPTH = 10_000;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const INTEGER = /^-?(?:0|[1-9]\d*)$/;
// deno-lint-ignore no-control-regex -- raw control characters are invalid inside JSON strings
const CONTROL = /[\x00-\x1f]/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

interface Cursor {
  readonly text: string;
  pos: number;
  depth: number;
}

function syntaxError(cur: Cursor, what: string): GoJsonError {
  if (cur.pos >= cur.text.length) return new GoJsonError("Cannot decode JSON: unexpected end of input");
  return new GoJsonError(
    `Cannot decode JSON: invalid character ${JSON.stringify(cur.text[cur.pos])} ${what} at offset ${cur.pos}`,
  );
}

function typeError(path: string, want: string, got: string): GoJsonError {
  return new GoJsonError(`Cannot decode JSON: ${path || "value"} must be ${want}, got ${got}`, path);
}

function skipSpace(cur: Cursor): number {
  const text = cur.text;
  let pos = cur.pos;
  for (; pos < text.length; pos++) {
    const c = text.charCodeAt(pos);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
  }
  cur.pos = pos;
  return pos < text.length ? text.charCodeAt(pos) : -1;
}

function readString(cur: Cursor): string {
  const text = cur.text;
  const start = cur.pos + 1;
  let end = text.indexOf('"', start);
  for (;;) {
    if (end < 0) {
      cur.pos = text.length;
      throw syntaxError(cur, "in string literal");
    }
    let backslashes = 0;
    while (text.charCodeAt(end - 1 - backslashes) === 0x5c && end - 1 - backslashes >= start) backslashes++;
    if (backslashes % 2 === 0) break;
    end = text.indexOf('"', end + 1);
  }
  const raw = text.slice(start, end);
  if (CONTROL.test(raw)) {
    cur.pos = start + raw.search(CONTROL);
    throw syntaxError(cur, "in string literal");
  }
  let value = raw;
  if (raw.includes("\\")) {
    try {
      value = JSON.parse(`"${raw}"`);
    } catch {
      cur.pos = start + raw.indexOf("\\");
      throw syntaxError(cur, "in string escape code");
    }
  }
  cur.pos = end + 1;
  // Go replaces unpaired surrogates (from \ud800 escapes) with U+FFFD.
  return value.isWellFormed() ? value : value.toWellFormed();
}

function readNumber(cur: Cursor): string {
  NUMBER.lastIndex = cur.pos;
  const match = NUMBER.exec(cur.text);
  if (match === null) throw syntaxError(cur, "looking for beginning of value");
  cur.pos += match[0].length;
  return match[0];
}

function readLiteral(cur: Cursor, word: "true" | "false" | "null"): void {
  if (!cur.text.startsWith(word, cur.pos)) throw syntaxError(cur, "looking for beginning of value");
  cur.pos += word.length;
}

function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

function enter(cur: Cursor): void {
  if (++cur.depth > MAX_DEPTH) throw new GoJsonError("Cannot decode JSON: exceeded max depth");
}

/**
 * Walks an object's members: calls `member(key)` with the cursor on the value, which must consume it.
 */
function readObject(cur: Cursor, member: (key: string) => void): void {
  enter(cur);
  cur.pos++; // {
  if (skipSpace(cur) === 0x7d) {
    cur.pos++;
    cur.depth--;
    return;
  }
  for (;;) {
    if (skipSpace(cur) !== 0x22) throw syntaxError(cur, "looking for beginning of object key string");
    const key = readString(cur);
    if (skipSpace(cur) !== 0x3a) throw syntaxError(cur, "after object key");
    cur.pos++;
    member(key);
    const c = skipSpace(cur);
    cur.pos++;
    if (c === 0x7d) break;
    if (c !== 0x2c) {
      cur.pos--;
      throw syntaxError(cur, "after object key:value pair");
    }
  }
  cur.depth--;
}

function readArray(cur: Cursor, element: (index: number) => void): void {
  enter(cur);
  cur.pos++; // [
  if (skipSpace(cur) === 0x5d) {
    cur.pos++;
    cur.depth--;
    return;
  }
  for (let i = 0;; i++) {
    element(i);
    const c = skipSpace(cur);
    cur.pos++;
    if (c === 0x5d) break;
    if (c !== 0x2c) {
      cur.pos--;
      throw syntaxError(cur, "after array element");
    }
  }
  cur.depth--;
}

/** Reads any JSON value into plain JS values (objects, arrays, numbers, strings, booleans, null). */
function readAny(cur: Cursor): unknown {
  const c = skipSpace(cur);
  switch (c) {
    case 0x7b: {
      const out: Record<string, unknown> = {};
      readObject(cur, (key) => setKey(out, key, readAny(cur)));
      return out;
    }
    case 0x5b: {
      const out: unknown[] = [];
      readArray(cur, () => out.push(readAny(cur)));
      return out;
    }
    case 0x22:
      return readString(cur);
    case 0x74:
      readLiteral(cur, "true");
      return true;
    case 0x66:
      readLiteral(cur, "false");
      return false;
    case 0x6e:
      readLiteral(cur, "null");
      return null;
    default:
      return Number(readNumber(cur));
  }
}

/** Names the JSON kind starting at the cursor, for a type error; a character no value starts with is a syntax error. */
function kindAt(cur: Cursor, c: number): string {
  switch (c) {
    case 0x7b:
      return "object";
    case 0x5b:
      return "array";
    case 0x22:
      return "string";
    case 0x74:
    case 0x66:
      return "bool";
  }
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return "number";
  throw syntaxError(cur, "looking for beginning of value");
}

/** The zero value Go gives a field of this type. */
function zeroOf(type: GoType): unknown {
  switch (type.kind) {
    case "string":
      return "";
    case "int":
      return 0;
    case "bool":
      return false;
    case "struct": {
      const out: Record<string, unknown> = {};
      for (const field of type.fields) out[field.name] = zeroOf(field.type);
      return out;
    }
    default:
      return null;
  }
}

/**
 * Decodes the value at the cursor into `type`. `current` is what the field holds already: Go leaves it on
 * `null` for strings, numbers, booleans and structs, and decodes objects into an existing map or struct.
 */
function decodeValue(cur: Cursor, type: GoType, current: unknown, path: string): unknown {
  const c = skipSpace(cur);
  if (c === 0x6e) {
    readLiteral(cur, "null");
    switch (type.kind) {
      case "string":
      case "int":
      case "bool":
      case "struct":
        return current;
      default:
        return null;
    }
  }
  switch (type.kind) {
    case "any":
      return readAny(cur);
    case "object":
      if (c !== 0x7b) throw typeError(path, "an object", kindAt(cur, c));
      return readAny(cur);
    case "string":
      if (c !== 0x22) throw typeError(path, "a string", kindAt(cur, c));
      return readString(cur);
    case "bytes": {
      if (c !== 0x22) throw typeError(path, "a base64 string", kindAt(cur, c));
      const text = readString(cur);
      const compact = text.replace(/[\r\n]/g, "");
      if (compact.length % 4 !== 0 || !BASE64.test(compact)) {
        throw new GoJsonError(`Cannot decode JSON: ${path} is not valid base64`, path);
      }
      return compact;
    }
    case "bool":
      if (c !== 0x74 && c !== 0x66) throw typeError(path, "a boolean", kindAt(cur, c));
      readLiteral(cur, c === 0x74 ? "true" : "false");
      return c === 0x74;
    case "int": {
      if (kindAt(cur, c) !== "number") throw typeError(path, "an integer", kindAt(cur, c));
      const literal = readNumber(cur);
      if (!INTEGER.test(literal)) throw typeError(path, "an integer", `number ${literal}`);
      const big = BigInt(literal);
      if (big < INT64_MIN || big > INT64_MAX) throw typeError(path, "an int64", `number ${literal}`);
      return Number(big);
    }
    case "slice": {
      if (c !== 0x5b) throw typeError(path, "an array", kindAt(cur, c));
      const previous = Array.isArray(current) ? current : [];
      const out: unknown[] = [];
      readArray(cur, (i) => {
        out.push(
          decodeValue(cur, type.elem, i < previous.length ? previous[i] : zeroOf(type.elem), `${path}[${i}]`),
        );
      });
      return out;
    }
    case "map": {
      if (c !== 0x7b) throw typeError(path, "an object", kindAt(cur, c));
      const out = (current ?? {}) as Record<string, unknown>;
      readObject(cur, (key) => {
        setKey(out, key, decodeValue(cur, type.elem, zeroOf(type.elem), `${path}[${JSON.stringify(key)}]`));
      });
      return out;
    }
    case "struct": {
      if (c !== 0x7b) throw typeError(path, "an object", kindAt(cur, c));
      const out = current as Record<string, unknown>;
      readObject(cur, (key) => {
        const field = type.byName.get(key) ?? type.byFolded.get(foldKey(key));
        if (field === undefined) {
          readAny(cur);
          return;
        }
        out[field.name] = decodeValue(
          cur,
          field.type,
          out[field.name],
          path ? `${path}.${field.name}` : field.name,
        );
      });
      return out;
    }
  }
}

/**
 * Decodes JSON text into a value of `type` with Go's `json.Unmarshal` semantics.
 * @throws GoJsonError when the text is not JSON or a value has the wrong type.
 * @example decodeGoJson<{ Code: number }>('{"code":200}', goStruct([{ name: "Code", type: GO_INT }]))
 */
export function decodeGoJson<T>(text: string, type: GoType): T {
  const cur: Cursor = { text, pos: 0, depth: 0 };
  const value = decodeValue(cur, type, zeroOf(type), "");
  if (skipSpace(cur) !== -1) throw syntaxError(cur, "after top-level value");
  return value as T;
}

/** Returned by {@link fitExactly} when a value needs the full decoder. */
const NOT_EXACT = Symbol("not exact");

/**
 * Fits a `JSON.parse` result to `type` when it is already exactly Go-shaped: every key a field's own name,
 * every value of the field's JSON type, no `null` where Go would keep a previous value. Anything else is
 * `NOT_EXACT`, never an error: the full decoder then gives Go's answer.
 */
function fitExactly(value: unknown, type: GoType): unknown {
  switch (type.kind) {
    case "string":
      return typeof value === "string" ? value : NOT_EXACT;
    case "bool":
      return typeof value === "boolean" ? value : NOT_EXACT;
    case "int":
      return Number.isSafeInteger(value) ? value : NOT_EXACT;
    case "bytes":
      return typeof value === "string" && value.length % 4 === 0 && BASE64.test(value) ? value : NOT_EXACT;
    case "any":
      return value;
    case "object":
      return value === null || (typeof value === "object" && !Array.isArray(value)) ? value : NOT_EXACT;
    case "slice": {
      if (value === null) return null;
      if (!Array.isArray(value)) return NOT_EXACT;
      for (let i = 0; i < value.length; i++) {
        const item = fitExactly(value[i], type.elem);
        if (item === NOT_EXACT || item === null) return NOT_EXACT;
        value[i] = item;
      }
      return value;
    }
    case "map": {
      if (value === null) return null;
      if (typeof value !== "object" || Array.isArray(value) || Object.hasOwn(value, "__proto__")) {
        return NOT_EXACT;
      }
      const map = value as Record<string, unknown>;
      for (const key in map) {
        const item = fitExactly(map[key], type.elem);
        if (item === NOT_EXACT || item === null) return NOT_EXACT;
        map[key] = item;
      }
      return map;
    }
    case "struct": {
      // In place, like maps: the parsed object is ours, and a Go-shaped one needs no write but the
      // zero values of missing fields
      if (typeof value !== "object" || value === null || Array.isArray(value)) return NOT_EXACT;
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        const field = type.byName.get(key);
        if (field === undefined || field.name !== key) return NOT_EXACT;
        const item = fitExactly(record[key], field.type);
        if (item === NOT_EXACT) return NOT_EXACT;
        if (item !== record[key]) record[key] = item;
      }
      if (keys.length < type.fields.length) {
        for (const field of type.fields) {
          if (!Object.hasOwn(record, field.name)) record[field.name] = zeroOf(field.type);
        }
      }
      return record;
    }
  }
}

/**
 * Decodes as {@link decodeGoJson} does, faster when the text is already Go-shaped.
 *
 * Such text skips the full decoder (it costs several times `JSON.parse`). The shortcut is taken only when
 * writing the parsed value back gives the same text, which rules out what `JSON.parse` and Go read
 * differently: repeated keys (Go merges them), numbers like `2e2` or `200.0` (Go refuses them for an int),
 * and, with no `\u` escape in the text, lone surrogates (Go reads U+FFFD).
 * @param stringified `text` is known to be `JSON.stringify` output, which writing back cannot change
 * @throws GoJsonError as {@link decodeGoJson} does.
 */
export function decodeGoShaped<T>(text: string, type: GoType, stringified = false): T {
  if (!text.includes("\\u")) {
    let parsed: unknown = NOT_EXACT;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: the full decoder words the error as Go does
    }
    if (parsed !== NOT_EXACT && (stringified || JSON.stringify(parsed) === text)) {
      const fitted = fitExactly(parsed, type);
      if (fitted !== NOT_EXACT) return fitted as T;
    }
  }
  return decodeGoJson<T>(text, type);
}
