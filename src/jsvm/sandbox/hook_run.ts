/**
 * A run of request hooks in one sandbox call (`INBOX.HOOKS`): the gateway sends the request once with the
 * hooks that follow each other in its chain, and the sandbox calls them in order, each on the request as
 * the previous hooks' edits left it, answering with every hook's edits at once. The state is put back
 * between the hooks as between calls, so none sees another's globals.
 *
 * Each hook's request is the one the gateway would have sent after applying the previous edits
 * (`chain/js/hook_edits.ts`, then `chain/js/hook_request.ts`). Where that cannot be told here for certain
 * (a header value Fetch would trim or refuse, or one that may stand for several lines the client sent), the
 * run stops after that hook and the gateway sends the rest in a call of its own. The next request is worked
 * out only after the state was put back, so built-ins a hook replaced cannot shape it.
 */
import { decodeBase64, encodeBase64 } from "../go/base64.ts";
import type { HookEdits, HookRequest, RunHook } from "../protocol.ts";
import { OUTCOME } from "../protocol.ts";
import {
  append,
  ArrayPrototypeJoin,
  JSONParse,
  RegExpPrototypeTest,
  SafeString,
  StringPrototypeIndexOf,
} from "./_primordials.ts";

/** An HTTP token (RFC 9110): a name Fetch's `Headers` takes as it is. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A value Fetch's `Headers.set` keeps as it is: visible ASCII, inner spaces and tabs, nothing to trim. */
const PLAIN_VALUE = /^(?:[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?)?$/;

/**
 * The request after `edits`, as the gateway would describe it for the next hook; `null` when that cannot
 * be told here for certain.
 */
export function nextHookRequest(sent: HookRequest, edits: HookEdits): HookRequest | null {
  const next: HookRequest = { ...sent, headers: sent.headers };
  let headers = sent.headers;
  if (edits.body !== null) {
    const before = decodeBase64(sent.body)?.length ?? 0;
    const bytes = decodeBase64(edits.body) ?? new Uint8Array(0);
    next.body = encodeBase64(bytes);
    if (bytes.length !== before) headers = replaced(headers, "content-length", `${bytes.length}`, true);
  }
  if (edits.decision.kind !== "ignored") {
    let path = sent.query === "" ? sent.url : sent.url.slice(0, sent.url.length - sent.query.length - 1);
    if (edits.path !== null) path = edits.path;
    if (edits.query !== null) next.query = edits.query;
    next.url = next.query === "" ? path : `${path}?${next.query}`;
    for (let i = 0; i < edits.deleteHeaders.length; i++) {
      const name = edits.deleteHeaders[i];
      if (!RegExpPrototypeTest(TOKEN, name)) return null;
      headers = replaced(headers, name.toLowerCase(), null, false);
    }
    for (let i = 0; i < edits.setHeaders.length; i++) {
      const name = edits.setHeaders[i][0];
      const value = edits.setHeaders[i][1];
      // a joined value that matches the lines the client sent goes out as those lines, which only the gateway knows
      if (
        !RegExpPrototypeTest(TOKEN, name) || !RegExpPrototypeTest(PLAIN_VALUE, value) ||
        StringPrototypeIndexOf(value, ", ") !== -1
      ) {
        return null;
      }
      headers = replaced(headers, name.toLowerCase(), value, false);
    }
  }
  next.headers = headers;
  return next;
}

/**
 * `lines` (name, value, … with lower-case names) with every line of `name` gone and, unless `value` is
 * null, one line `name: value` in their place; `onlyIfPresent` changes nothing when there is no such line.
 */
function replaced(lines: string[], name: string, value: string | null, onlyIfPresent: boolean): string[] {
  const out: string[] = [];
  let found = false;
  for (let i = 0; i + 1 < lines.length; i += 2) {
    if (lines[i] === name) {
      found = true;
      continue;
    }
    append(out, lines[i]);
    append(out, lines[i + 1]);
  }
  if (onlyIfPresent && !found) return lines;
  if (value !== null) {
    append(out, name);
    append(out, value);
  }
  return out;
}

/** The hooks of one `INBOX.HOOKS` call and what they gave so far. */
export class HookRunState {
  #hooks: RunHook[];
  #spec: unknown;
  #next = 0;
  #request: HookRequest;
  #edits: HookEdits[] = [];
  /** The JSON of each of `#edits`, as the sandbox wrote it. */
  #texts: string[] = [];

  /** @throws SyntaxError when an argument is not JSON */
  constructor(request: string, spec: string, hooks: string) {
    this.#request = JSONParse(request) as HookRequest;
    this.#spec = JSONParse(spec);
    this.#hooks = JSONParse(hooks) as RunHook[];
  }

  /** The hook to call now: its target, the request it gets, and its arguments after the request object. */
  current(): { target: string; request: HookRequest; session: unknown; spec: unknown } {
    const hook = this.#hooks[this.#next];
    return {
      target: SafeString(hook[0]),
      request: this.#request,
      session: JSONParse(SafeString(hook[1])),
      spec: this.#spec,
    };
  }

  /**
   * Takes the current hook's outcome (as the sandbox would answer it alone). Returns `null` when the run
   * may go on (see `advance`), else the whole run's answer (`HookRun` JSON).
   */
  record(kind: number, text: string): string | null {
    this.#next++;
    if (kind !== OUTCOME.VALUE) return this.#answer(text);
    const edits = JSONParse(text) as HookEdits;
    append(this.#edits, edits);
    append(this.#texts, text);
    const decision = edits.decision.kind;
    const go = decision === "continue" || (decision === "ignored" && this.#hooks[this.#next - 1][2] !== true);
    return go && this.#next < this.#hooks.length ? null : this.#answer(null);
  }

  /** The run's `HookRun` JSON, from the edits' own JSON and the failure's, if any. */
  #answer(failure: string | null): string {
    return `{"edits":[${ArrayPrototypeJoin(this.#texts, ",")}],"failure":${failure ?? "null"}}`;
  }

  /**
   * Once the state is back: moves on to the next hook's request. Returns `null` when it can be called,
   * else the whole run's answer, which ends with the last hook called.
   */
  advance(): string | null {
    const edits = this.#edits;
    let request: HookRequest | null = null;
    try {
      request = nextHookRequest(this.#request, edits[edits.length - 1]);
    } catch {
      // edits the gateway will refuse anyway: it answers for the run as it stands
    }
    if (request === null) return this.#answer(null);
    this.#request = request;
    return null;
  }
}
