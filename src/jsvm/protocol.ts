/**
 * The JSVM wire protocol between `host/` and `sandbox/`: the messages, the shared-memory layout and the
 * constants both sides must agree on. (Both sides also use `go/`, which holds Go's rules, not the protocol.)
 *
 * Host → sandbox: one `init` message (sources, shared buffers), then everything else through shared
 * memory: the host writes call number `k` into inbox lane `k % PIPELINE_DEPTH` (its buffer and slots),
 * raises `CONTROL.POSTED`, bumps the `CONTROL.SEQ` doorbell and notifies; a host-call reply goes into the
 * reply buffer and slots the same way. The sandbox spins briefly, then sleeps in `Atomics.wait` on the
 * doorbell, so a call wakes it without its event loop (and a plugin cannot intercept or forge it).
 * Sandbox → host: call `k`'s outcome goes into outbox lane `k % PIPELINE_DEPTH`, then `CONTROL.DONE`
 * becomes `k + 1`; the host watches it with `Atomics.waitAsync`, which wakes the host's event loop several
 * times faster than a message. Everything else (loading, logs, host calls) is a `postMessage` with `type`
 * and `id`.
 *
 * Imports nothing and makes no Deno calls.
 */

/** The synchronous host functions plugin code may call. */
export type HostCallOp =
  | "TykMakeHttpRequest"
  | "TykBatchRequest"
  | "TykGetKeyData"
  | "TykSetKeyData"
  | "TykStorageGet"
  | "TykStorageSet"
  | "TykStorageSetNX"
  | "TykStorageDel"
  | "TykStorageTTL"
  | "TykStorageIncr"
  /**
   * What `TykFetch` sends, once per microtask: a JSON array of `TykMakeHttpRequest` specs, answered with
   * a JSON array, in the same order, of `{"value": <TykMakeHttpRequest's result>}` or `{"error": "…"}`.
   */
  | "TykFetch";

/** How many arguments each host function passes on (missing ones arrive as the text "undefined"). */
export const HOST_CALL_ARITY: Readonly<Record<HostCallOp, number>> = {
  TykMakeHttpRequest: 1,
  TykBatchRequest: 1,
  TykGetKeyData: 2,
  TykSetKeyData: 3,
  TykStorageGet: 1,
  TykStorageSet: 3,
  TykStorageSetNX: 3,
  TykStorageDel: 1,
  TykStorageTTL: 1,
  TykStorageIncr: 2,
  TykFetch: 1,
};

/** Something that failed while an API's sources were evaluated; `line` is within `file`. */
export interface LoadIssue {
  file: string;
  line?: number;
  column?: number;
  message: string;
  /** Set by the host when the source did not finish loading within the timeout. */
  timedOut?: boolean;
}

/** Where a source is evaluated: `middleware` may be wrapped (driver "javascript"), the others never are. */
export type SourceKind = "library" | "virtual" | "middleware";

/** One source as the sandbox receives it; `exports` are the aliases of a wrapped middleware file. */
export interface SandboxSource {
  file: string;
  code: string;
  kind: SourceKind;
  exports: { name: string; alias: string }[];
  /**
   * `code` as the code guard returns it, when the host has run the guard already (it checks every source
   * when an API loads): the sandbox then evaluates this instead of parsing `code` again.
   */
  guarded?: { code: string; lexical: string[] };
}

/**
 * The host's first message: the sandbox hardens its global scope and builds its code guard, which need no
 * API. A spare sandbox gets it as it boots, before any API is known, so this work is done ahead of a cold
 * API's first call.
 */
export interface PrepareMessage {
  type: "prepare";
  id: 0;
  /** The source text of the parser the code guard runs (acorn's UMD build). */
  parserSource: string;
}

/** The host's second and last message: one API's sources and the shared buffers. */
export interface InitMessage {
  type: "init";
  id: 0;
  apiId: string;
  orgId: string;
  driver: "otto" | "javascript";
  sources: SandboxSource[];
  persistState: boolean;
  /** `jsvm_timeout` in ms: promise jobs a call leaves behind may run until its deadline (see `SANDBOX_STATE.AFTER`). */
  timeoutMs: number;
  /** False when the API has no host-call handler: host functions then return undefined without a round trip. */
  hostCalls: boolean;
  /** Mutes log()/rawlog()/console while loading (every worker but an API's first). */
  quietLoad: boolean;
  control: SharedArrayBuffer;
  /** One buffer per inbox lane: the host writes calls' payloads here (and grows them when it must). */
  inboxes: SharedArrayBuffer[];
  /** The host writes host-call replies here. */
  reply: SharedArrayBuffer;
  /** One buffer per outbox lane: the sandbox writes calls' outcomes here (and grows them when it must). */
  outboxes: SharedArrayBuffer[];
  /** Slot 0: how many requests the gateway serves now (it decides how long an idle sandbox polls). */
  load: SharedArrayBuffer;
}

/** Log levels a sandbox can write at; `raw` is `rawlog()`. */
export type SandboxLogLevel = "debug" | "info" | "warn" | "error" | "raw";

/** Why a call failed inside the sandbox: `decode` is a hook result Go's JSON decoder would refuse. */
export type SandboxFailure = "threw" | "missing" | "decode";

/**
 * What a request hook call sends about the request (`INBOX.HOOK`): the gateway's view, raw. The sandbox
 * builds Tyk's request object from it, so the gateway thread does not.
 */
export interface HookRequest {
  method: string;
  requestURI: string;
  /** The current path and query, as Go prints `r.URL`. */
  url: string;
  scheme: string;
  /** The Host the client sent. */
  host: string;
  /** The current raw query. */
  query: string;
  /** Name, value, name, value…: the current headers (lower-case names), one pair per header line. */
  headers: string[];
  /** The buffered body, standard base64. */
  body: string;
  /** `ignore_canonical_mime_header_key`: SetHeaders and forced-response names kept as written. */
  ignoreCanonical: boolean;
}

/** What the chain does after a hook's edits were applied. */
export type HookDecision =
  /** Go on with the next step. */
  | { kind: "continue" }
  /**
   * `Request.URL` did not parse: Tyk returns at that point, so headers, params, session write-back,
   * ReturnOverrides and the auth session are skipped (the body edit stays) and the request goes on.
   */
  | { kind: "ignored" }
  /** ReturnOverrides code ≥ 400 without OverrideError: Tyk's error template with this message. */
  | { kind: "error"; status: number; message: string; headers: Record<string, string> }
  /** Any other non-zero ReturnOverrides code: this raw body, these headers, no upstream call. */
  | { kind: "respond"; status: number; body: string; headers: Record<string, string> };

/**
 * What a request hook's result asks of the request, already decoded like Go and compared with what was
 * sent: the answer to an `INBOX.HOOK` call, as JSON. The gateway applies it in
 * this order: body, then (unless the decision is `ignored`) path, query and headers.
 */
export interface HookEdits {
  /** The new body as standard base64; `null` keeps the bytes the request has. */
  body: string | null;
  /** The new path, or `null` when `Request.URL` kept it. */
  path: string | null;
  /** The new raw query (after URL and params edits), or `null` when unchanged. */
  query: string | null;
  /** Header names to delete, before `setHeaders`. */
  deleteHeaders: string[];
  /** Names (canonical unless `ignoreCanonical`) and values to set, in order. */
  setHeaders: [string, string][];
  decision: HookDecision;
  /** What the gateway should log as warnings about this result. */
  warnings: string[];
  /** `SessionMeta` as returned (`null` when absent). */
  sessionMeta: Record<string, string> | null;
  /** The returned `Session` as JSON text, `null` when absent. */
  session: string | null;
  /** `AuthValue`: the key a JS auth_check accepted. */
  authValue: string;
}

/**
 * What a virtual endpoint's function returned, decoded as Go decodes Tyk's `VMResponseObject`: the answer to an
 * `INBOX.VIRTUAL` call, as JSON.
 */
export interface VirtualResult {
  /** `Response.Code`. */
  status: number;
  /** `Response.Body`. */
  body: string;
  /** `Response.Headers`, names as the function wrote them. */
  headers: Record<string, string>;
  /** `SessionMeta`: any JSON object; `null` when absent. */
  sessionMeta: Record<string, unknown> | null;
}

/** What a response hook call sends about the response (`INBOX.RESPONSE`): the gateway's view, raw. */
export interface HookResponse {
  status: number;
  /** Name, value, name, value…: the headers (lower-case names), one pair per header line. */
  headers: string[];
  /** The body as text (bytes that are not UTF-8 read as U+FFFD). */
  body: string;
}

/**
 * What a response hook's result asks of the response, decoded as Go decodes Tyk's
 * `VMResponseReturnObject`: the answer to an `INBOX.RESPONSE` call, as JSON. The gateway deletes headers,
 * then sets them, then replaces the body and, when `status` is not 0, the status.
 */
export interface ResponseEdits {
  /** `Response.StatusCode`; 0 keeps the status. */
  status: number;
  /** `Response.Body`; `null` when it is the text the hook was given, so the original bytes are kept. */
  body: string | null;
  deleteHeaders: string[];
  /** Names (canonical unless `ignoreCanonical`) and values to set, in order. */
  setHeaders: [string, string][];
}

/**
 * One hook of an `INBOX.HOOKS` call: the name the sandbox calls, its session argument as JSON, and `true`
 * when a `Request.URL` that does not parse ends the run after it (an auth_check: the gateway then rejects
 * the request) instead of letting the next hook run.
 */
export type RunHook = [target: string, session: string, stopIfIgnored?: true];

/**
 * What an `INBOX.HOOKS` call answers, as JSON: the edits of each hook called, in order. The run ends at
 * the first hook that fails (`failure`, and no edits of its own), answers (`decision` "error" or
 * "respond"), or whose edits leave a request the sandbox cannot describe for certain; hooks after that were
 * not called, and the gateway sends them in a call of their own.
 */
export interface HookRun {
  edits: HookEdits[];
  failure: CallFailure | null;
}

/** A failed call, as the JSON text of an `OUTCOME.FAILED` outbox entry. */
export interface CallFailure {
  kind: SandboxFailure;
  message: string;
  file?: string;
  line?: number;
}

/** Messages the sandbox posts to the host. `id` is the call id (0 while loading). */
export type ToHost =
  | { type: "loading"; id: 0; file: string }
  | { type: "loaded"; id: 0; issues: LoadIssue[]; permissions: Record<string, string> }
  | { type: "hostCall"; id: number; op: HostCallOp; args: string[] }
  | { type: "log"; id: number; level: SandboxLogLevel; text: string };

/**
 * Calls a sandbox holds at once: the one it runs and those queued behind it. The host queues a call in a
 * busy sandbox, so the sandbox starts the next call as it finishes one instead of sleeping until the
 * gateway's thread gets round to handing it over (waking a sleeping thread costs both threads more than a
 * hook). Call `k` of a sandbox sits in inbox lane `k % PIPELINE_DEPTH`, its outcome in outbox lane
 * `k % PIPELINE_DEPTH`.
 */
export const PIPELINE_DEPTH = 4;

/** Int32 slots of the control buffer. */
export const CONTROL = {
  /**
   * Bumped by the host after each write the sandbox must see (a call, a host-call reply, an abort); the
   * sandbox waits on it.
   */
  SEQ: 0,
  /** Calls the host has written so far. */
  POSTED: 1,
  /** Calls the sandbox has started so far. */
  TAKEN: 2,
  /**
   * Outcomes the sandbox has written so far; the host waits on it. The host bumps it too when it gives up
   * on the sandbox, to release its own waiter.
   */
  DONE: 3,
  /** Bumped by the host after each host-call reply. */
  REPLY_SEQ: 4,
  /** The call id the reply belongs to. */
  REPLY_ID: 5,
  /** One of `REPLY`. */
  REPLY_STATUS: 6,
  /** Byte length of the UTF-8 reply in the reply buffer. */
  REPLY_LENGTH: 7,
  /**
   * Set to 1 by the host when it gives up on the sandbox (timeout, close). Plugin code's loop and function
   * ticks then throw, and the sandbox closes itself: `worker.terminate()` alone does not stop a Worker
   * that is busy in JavaScript (denoland/deno#35657).
   */
  ABORT: 8,
  /**
   * 1 while the sandbox blocks in `Atomics.wait` on `SEQ` (set before the wait, back to 0 after it), 2 once
   * the host notified it. The host notifies only on the change from 1 to 2: a notify costs the gateway's
   * thread a lock and often a system call (3-9 µs here), a sandbox that polls or runs a call sees `SEQ`
   * move anyway, and one that is waking up needs no second notify (under load, two calls in three arrived
   * while their sandbox was still waking). The host may also wake a sleeping sandbox without writing
   * anything (a notify on `SEQ` alone) when a request that will reach JS arrives, so the thread is up by
   * the first hook; the sandbox goes back to polling.
   */
  SLEEPING: 9,
  /** What the sandbox's thread does now, one of `SANDBOX_STATE`; written by the sandbox, read by the watchdog. */
  STATE: 10,
} as const;

/**
 * What a sandbox's thread does (`CONTROL.STATE`). The host's watchdog reads it to notice a thread that is
 * still busy after its deadline, in code the tick cannot interrupt (a long built-in), and says so in the log.
 */
export const SANDBOX_STATE = {
  /** Evaluating its sources. */
  LOADING: 0,
  /** Waiting for a call (polling or asleep). */
  IDLE: 1,
  /** Running a call. */
  CALL: 2,
  /**
   * The call answered; promise jobs it left behind run now, until its deadline, or until 10 ms after the
   * answer once another call waits (`AFTER_GRACE_MS`); then they stop at their next tick.
   */
  AFTER: 3,
  /** Its thread is ending: nothing of the plugin runs any more. */
  CLOSED: 4,
} as const;

/** How long promise jobs of an answered call may still run once another call waits for the sandbox. */
export const AFTER_GRACE_MS = 10;

/** Per-call slots of an inbox lane, at `inboxSlot(k, …)`. */
export const INBOX_LANE = {
  /** One of `INBOX`. */
  KIND: 0,
  /** Byte length of the UTF-8 payload in the lane's buffer. */
  LENGTH: 1,
  /** The call id. */
  ID: 2,
} as const;

/** Per-call slots of an outbox lane, at `outboxSlot(k, …)`. */
export const OUTBOX_LANE = {
  /** One of `OUTCOME`. */
  KIND: 0,
  /** Byte length of the UTF-8 outcome in the lane's buffer. */
  LENGTH: 1,
  /** The call id the outcome belongs to. */
  ID: 2,
  /**
   * How many `log` messages the call posted before its outcome: the host settles the call only once it has
   * received them all, so a plugin's log lines come before whatever its result causes.
   */
  LOGS: 3,
} as const;

const LANES_AT = 11;
const INBOX_LANE_SLOTS = 3;
const OUTBOX_LANE_SLOTS = 4;
const OUTBOXES_AT = LANES_AT + PIPELINE_DEPTH * INBOX_LANE_SLOTS;

/** The control slot of `field` (an `INBOX_LANE` value) for the sandbox's call number `k`. */
export function inboxSlot(k: number, field: number): number {
  return LANES_AT + (k % PIPELINE_DEPTH) * INBOX_LANE_SLOTS + field;
}

/** The control slot of `field` (an `OUTBOX_LANE` value) for the sandbox's call number `k`. */
export function outboxSlot(k: number, field: number): number {
  return OUTBOXES_AT + (k % PIPELINE_DEPTH) * OUTBOX_LANE_SLOTS + field;
}

/** Number of Int32 slots in the control buffer. */
export const CONTROL_SLOTS = OUTBOXES_AT + PIPELINE_DEPTH * OUTBOX_LANE_SLOTS;

/**
 * Inbox contents. A `HOOK` is a call whose first argument is a `HookRequest` and whose value is answered
 * as `HookEdits` JSON. A `VIRTUAL` call's first argument is a `HookRequest` too, from which the sandbox
 * builds a virtual endpoint's request object; its value is answered as `VirtualResult` JSON. A `RESPONSE`
 * call's first two arguments are a `HookResponse` and a `HookRequest`; its value is answered as
 * `ResponseEdits` JSON.
 */
export const INBOX = {
  CALL: 1,
  HOOK: 2,
  VIRTUAL: 3,
  RESPONSE: 4,
  /**
   * A plain call of `DoProcessRequest` (arguments as JSON, as for `CALL`) whose value is answered as Go
   * decodes it: Tyk's `VMReturnObject`, as JSON.
   */
  HOOK_DECODED: 5,
  /** The same for `DoProcessResponse`: the value is answered as Tyk's `VMResponseReturnObject`, as JSON. */
  RESPONSE_DECODED: 6,
  /**
   * Request hooks that follow each other in the chain, each as a `HOOK` call on the request the previous
   * left (see `sandbox/hook_run.ts`): the arguments are a `HookRequest`, the spec and a JSON list of
   * `RunHook`; the answer is a `HookRun`. The call's deadline is `jsvm_timeout` per hook.
   */
  HOOKS: 7,
} as const;

/**
 * A call target no plugin can name (it is not a JavaScript name): the middleware object whose
 * `NewProcessRequest` or `NewProcessResponse` ran last. The plugin test runner calls it, as Tyk's does,
 * without knowing the plugin's global name.
 */
export const REGISTERED_HANDLER = "<registered handler>";

/** Outbox contents: the call's value as text, or a `CallFailure` as JSON. */
export const OUTCOME = { VALUE: 1, FAILED: 2 } as const;

/**
 * How long an idle sandbox polls its inbox before it sleeps: long while the gateway serves at most
 * `quietLoad` requests (the pool's `load` gauge), otherwise only a few dozen loads (`busyMicros` 0): under
 * load, with a request's hooks in one call, a polling sandbox mostly takes the core the gateway's thread
 * needs to send the next call (see bench/RESULTS.md). While quiet, the gateway also polls the outbox for
 * `hostMicros` before it waits for a call's outcome asynchronously.
 */
export const IDLE_POLL = { quietLoad: 2, quietMicros: 1000, busyMicros: 0, hostMicros: 100 } as const;

/** Outcome of a host call, as written into `CONTROL.REPLY_STATUS`. */
export const REPLY = { VALUE: 0, UNDEFINED: 1, ERROR: 2 } as const;

/**
 * Separates the parts of a call payload: `target`, `method` (empty for a plain function call), then each
 * argument's JSON text. JSON text and JS names never contain a raw U+0000.
 */
export const PART_SEPARATOR = "\u0000";

/** Initial size of each growable buffer (inbox and outbox lanes, replies). */
export const DATA_INITIAL_BYTES = 16 * 1024;

/**
 * What one hook may answer: its result as text (the body it sets included) and the headers it sets, names
 * and values together. Past them the call fails with a message that says which; Tyk has no such limit, but
 * a result of hundreds of megabytes takes the whole process down.
 */
export const HOOK_LIMITS = { resultChars: 64 * 1024 * 1024, headerBytes: 1024 * 1024 } as const;

/** Largest payload (call, host-call reply or outcome) a lane or reply buffer grows to. */
export const DATA_MAX_BYTES = 256 * 1024 * 1024;

/**
 * The size to grow a lane or reply buffer of `byteLength` bytes to before `textLength` UTF-16 units are
 * written into it as UTF-8 (at most 3 bytes each): double, or what the text may need, up to
 * `DATA_MAX_BYTES`; 0 when the buffer is big enough or cannot grow. Uses no built-ins, so plugin code that
 * replaced `Math` cannot change it inside the sandbox.
 */
export function grownSize(byteLength: number, textLength: number): number {
  const need = textLength * 3;
  if (need <= byteLength || byteLength >= DATA_MAX_BYTES) return 0;
  const size = need > byteLength * 2 ? need : byteLength * 2;
  return size < DATA_MAX_BYTES ? size : DATA_MAX_BYTES;
}

/** Ends a `switch` over message types; a new type that no case handles fails `deno check`. */
export function unhandled(msg: never): never {
  throw new Error(`Cannot handle JSVM message: unknown type "${(msg as { type?: string }).type}"`);
}
