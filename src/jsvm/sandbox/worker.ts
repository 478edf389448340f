/**
 * Entry point of a JSVM sandbox: a `node:worker_threads` Worker with a heap limit that holds one API's
 * plugin code (see host/_sandbox_thread.ts for how it is started).
 *
 * It gets one `init` message on its port, gives up every permission, hardens its global scope, defines the Tyk bootstrap, evaluates the sources
 * and takes the state snapshot. Then it waits on the control buffer (a short spin, then `Atomics.wait`);
 * calls are read in order from the shared inbox lanes, run, and their outcomes written to the outbox lanes.
 * Promise jobs the call queued run next (as goja runs them at the end of a run), and only then is the
 * state put back for the next call.
 */

import { setImmediate } from "node:timers";
import { workerData } from "node:worker_threads";
import _ from "underscore";
import {
  AFTER_GRACE_MS,
  type CallFailure,
  CONTROL,
  DATA_MAX_BYTES,
  grownSize,
  HOOK_LIMITS,
  type HookRequest,
  type HookResponse,
  type HostCallOp,
  IDLE_POLL,
  INBOX,
  INBOX_LANE,
  inboxSlot,
  type InitMessage,
  OUTBOX_LANE,
  outboxSlot,
  OUTCOME,
  PART_SEPARATOR,
  PIPELINE_DEPTH,
  type PrepareMessage,
  REGISTERED_HANDLER,
  REPLY,
  SANDBOX_STATE,
  type SandboxFailure,
  type SandboxLogLevel,
  type ToHost,
} from "../protocol.ts";
import {
  createTykApi,
  createTykJS,
  defineGlobals,
  type HostCallReply,
  type TykNamespace,
  type TykRuntime,
} from "./bootstrap.ts";
import { RAW_BYTES, UTF8 } from "./tyk_base64.ts";
import { GoJsonError } from "../go/json.ts";
import { dropPermissions } from "./drop_permissions.ts";
import { hardenGlobal } from "./harden.ts";
import { requestHookEdits, requestObject } from "./request_hook.ts";
import { HookRunState } from "./hook_run.ts";
import { virtualRequestObject, virtualResult } from "./virtual_endpoint.ts";
import {
  decodeResponseHookResult,
  responseHookEdits,
  responseObject,
  responseRequestObject,
} from "./response_hook.ts";
import { decodeRequestHookResult } from "./hook_result.ts";
import { createCodeGuard, type Guarded, TICK } from "./code_guard.ts";
import { collectGarbage } from "./_collect_garbage.ts";
import { errorText } from "./source_check.ts";
import { type LoadedSources, loadSources } from "./source_loader.ts";
import { bootstrapObjects, RESET_ROOTS, resetTracked } from "./reset_scope.ts";
import { type BuiltinLock, guardBuiltins } from "./builtin_lock.ts";
import { snapshotState } from "./state_reset.ts";
import {
  append,
  ArrayIsArray,
  AtomicsLoad,
  AtomicsNotify,
  AtomicsStore,
  AtomicsWait,
  JSONParse,
  JSONStringify,
  ObjectKeys,
  PerformanceNow,
  PromisePrototypeThen,
  ReflectApply,
  ReflectDefineProperty,
  ReflectOwnKeys,
  SafeError,
  SafeInt32Array,
  SafePromise,
  SafeSet,
  SafeString,
  SafeUint8Array,
  SharedArrayBufferPrototypeGrow,
  StringPrototypeSplit,
  utf8Decode,
  utf8EncodeInto,
} from "./_primordials.ts";

type WorkerScope = {
  close(): void;
  addEventListener(type: string, listener: (event: Event & { data?: unknown }) => void): void;
};

/** The host's end of the channel is the other side of this port (see host/_sandbox_thread.ts). */
const port = (workerData as {
  port: MessagePort & {
    on(type: string, fn: (msg: unknown) => void): void;
    off(type: string, fn: (msg: unknown) => void): void;
  };
}).port;
const global = globalThis as unknown as Record<string, unknown>;
const scope = globalThis as unknown as WorkerScope;
const post: (message: ToHost) => void = port.postMessage.bind(port);
const listen = scope.addEventListener.bind(globalThis);
const closeWorker = scope.close.bind(globalThis);
let control: Int32Array;
let inboxes: SharedArrayBuffer[];
let reply: SharedArrayBuffer;
let outboxes: SharedArrayBuffer[];
let outBytes: Uint8Array[];
let load: Int32Array;
/** Calls started so far; the next call is number `taken`. */
let taken = 0;
let hostCalls = false;
let persistState = false;
/** What runs now: host calls work while loading and during a call, not while promise jobs drain or files replay. */
let phase: "load" | "call" | "after" = "load";
let muted = false;
let currentId = 0;
/** The running call's number (its lanes). */
let currentCall = 0;
/** `log` messages the running call has posted so far (see `OUTBOX_LANE.LOGS`). */
let callLogs = 0;
/** While promise jobs of an answered call run: when it answered and its deadline (`performance.now()`); else 0. */
let answeredAt = 0;
let callStart = 0;
let afterDeadline = 0;
let timeoutMs = 0;
/** Driver `javascript`: a call may return a promise, whose outcome is the call's (see `Settling`). */
let asyncCalls = false;
/** The call whose promise has not settled yet, if any. */
let settling: Settling | null = null;
let loaded: LoadedSources;
let tykJS: TykNamespace;
let restoreState: (() => void) | null = null;
/** The run of hooks the running call makes (`INBOX.HOOKS`), until its answer is written. */
let run: HookRunState | null = null;
/** The code guard, built by `prepare`. */
let guard: ((code: string) => Guarded) | null = null;
/** What `prepare` left of each permission (none may be "granted"), for the host to check. */
let permissions: Record<string, string> = {};
/** The built-ins as `prepare` found them, sealed once the plugins have loaded. */
let builtinLock: BuiltinLock;
/** Whether the sandbox has slept after a call yet: before that sleep it collects its start-up garbage. */
let slept = false;

function readLane(buffer: SharedArrayBuffer, length: number): string {
  return utf8Decode(new SafeUint8Array(buffer, 0, length));
}

function callPosted(): boolean {
  return AtomicsLoad(control, CONTROL.POSTED) > taken;
}

/**
 * Waits until the host posts a call or wakes the sandbox up early (see `CONTROL.SLEEPING`): polls for a
 * while first (see IDLE_POLL), then sleeps.
 */
function idle(): void {
  const seq = AtomicsLoad(control, CONTROL.SEQ);
  if (callPosted()) return;
  const quiet = AtomicsLoad(load, 0) <= IDLE_POLL.quietLoad;
  // reading the clock costs more than a poll
  const until = PerformanceNow() + (quiet ? IDLE_POLL.quietMicros : IDLE_POLL.busyMicros) / 1000;
  for (let n = 1; AtomicsLoad(control, CONTROL.SEQ) === seq; n++) {
    if ((n & 63) === 0 && PerformanceNow() >= until) {
      // After its first call, not right after loading: the host is about to post that call then.
      if (!slept && taken > 0) {
        slept = true;
        collectGarbage(); // a few ms, once; a call posted meanwhile is seen as the wait starts
      }
      AtomicsStore(control, CONTROL.SLEEPING, 1);
      AtomicsWait(control, CONTROL.SEQ, seq);
      AtomicsStore(control, CONTROL.SLEEPING, 0);
      return;
    }
  }
}

/**
 * Writes the running call's outcome to its outbox lane and wakes the host. In a run of hooks, a hook's
 * outcome goes to the run instead, which answers once it ends.
 */
function answer(kind: number, id: number, text: string): void {
  if (run !== null) {
    const whole = run.record(kind, text);
    if (whole === null) return;
    run = null;
    kind = OUTCOME.VALUE;
    text = whole;
  }
  writeOutcome(kind, id, text);
}

function writeOutcome(kind: number, id: number, text: string): void {
  const k = currentCall;
  const lane = k % PIPELINE_DEPTH;
  const out = outboxes[lane];
  const size = grownSize(out.byteLength, text.length);
  if (size > 0) SharedArrayBufferPrototypeGrow(out, size);
  const bytes = outBytes[lane];
  let { read, written } = utf8EncodeInto(text, bytes);
  if (read < text.length) {
    kind = OUTCOME.FAILED;
    const failure: CallFailure = {
      kind: "threw",
      message: `The JS result is larger than ${DATA_MAX_BYTES} bytes`,
    };
    written = utf8EncodeInto(JSONStringify(failure), bytes).written;
  }
  AtomicsStore(control, outboxSlot(k, OUTBOX_LANE.LENGTH), written);
  AtomicsStore(control, outboxSlot(k, OUTBOX_LANE.LOGS), callLogs);
  AtomicsStore(control, outboxSlot(k, OUTBOX_LANE.KIND), kind);
  AtomicsStore(control, outboxSlot(k, OUTBOX_LANE.ID), id);
  AtomicsStore(control, CONTROL.DONE, k + 1);
  AtomicsNotify(control, CONTROL.DONE);
}

/** Whether the host gave up on this sandbox (a call timed out, or the pool closes). */
function aborted(): boolean {
  return AtomicsLoad(control, CONTROL.ABORT) !== 0;
}

/** Tells the host's watchdog what this thread does now. */
function setState(state: number): void {
  AtomicsStore(control, CONTROL.STATE, state);
}

/** What instrumented plugin code calls at every function entry and loop iteration (see code_guard.ts). */
function tick(): void {
  if (AtomicsLoad(control, CONTROL.ABORT) !== 0) {
    throw new SafeError("JS execution stopped: the sandbox is shutting down after a timeout");
  }
  if (afterDeadline !== 0) leftoverTick();
}

/**
 * A tick in a promise job of a call that has answered already: it may run until the call's deadline, and
 * only 10 ms past the answer once another call waits, so a job that queues itself forever
 * (`var f = () => queueMicrotask(f)`) neither keeps the thread busy nor holds up the next call.
 */
function leftoverTick(): void {
  const now = PerformanceNow();
  if (now > afterDeadline || (callPosted() && now > answeredAt + AFTER_GRACE_MS)) {
    throw new SafeError("JS execution stopped: promise jobs of an answered call ran out of time");
  }
}

const runtime: TykRuntime = {
  log(level: SandboxLogLevel, text: string) {
    if (muted) return;
    post({ type: "log", id: currentId, level, text });
    if (phase === "call") callLogs++;
  },
  hostCall(op: HostCallOp, args: string[]): HostCallReply | undefined {
    if (!hostCalls || phase === "after") return undefined;
    const replies = AtomicsLoad(control, CONTROL.REPLY_SEQ);
    post({ type: "hostCall", id: currentId, op, args });
    for (;;) {
      const seq = AtomicsLoad(control, CONTROL.SEQ);
      const answered = AtomicsLoad(control, CONTROL.REPLY_SEQ) !== replies;
      if (answered && AtomicsLoad(control, CONTROL.REPLY_ID) === currentId) break;
      tick(); // the host gave up waiting for this call: stop it here
      AtomicsStore(control, CONTROL.SLEEPING, 1);
      AtomicsWait(control, CONTROL.SEQ, seq);
      AtomicsStore(control, CONTROL.SLEEPING, 0);
    }
    const status = AtomicsLoad(control, CONTROL.REPLY_STATUS);
    const value = status === REPLY.UNDEFINED
      ? ""
      : readLane(reply, AtomicsLoad(control, CONTROL.REPLY_LENGTH));
    return { status, value };
  },
};

function fail(
  id: number,
  kind: SandboxFailure,
  message: string,
  where: { file?: string; line?: number },
) {
  const failure: CallFailure = { kind, message };
  if (where.file !== undefined) failure.file = where.file;
  if (where.line !== undefined) failure.line = where.line;
  answer(OUTCOME.FAILED, id, JSONStringify(failure));
}

/**
 * What a call of `kind` answers for the plugin's `value`: the Go-decoded result, or the edits it asks of
 * the request or response it was given (`hook`, `response`).
 * @throws GoJsonError when Go's decoder would refuse the value
 */
function decodeAnswer(
  kind: number,
  value: string,
  hook: HookRequest,
  response: HookResponse | null,
): unknown {
  switch (kind) {
    case INBOX.HOOK_DECODED:
      return decodeRequestHookResult(value);
    case INBOX.RESPONSE_DECODED:
      return decodeResponseHookResult(value);
    case INBOX.VIRTUAL:
      return virtualResult(value);
    case INBOX.RESPONSE:
      return responseHookEdits(value, response!, hook.ignoreCanonical);
    default:
      return requestHookEdits(value, hook, tykJS.isStringified(value));
  }
}

/** The header-setting parts of a call's answer (request and response edits, forced responses). */
interface HeaderCarrier {
  setHeaders?: [string, string][];
  headers?: unknown;
  decision?: { headers?: unknown };
}

/** Bytes (UTF-16 units, close enough for a limit) of the header names and values an answer sets. */
function headerBytes(answer: HeaderCarrier): number {
  let bytes = 0;
  const record = (value: unknown) => {
    if (typeof value !== "object" || value === null || ArrayIsArray(value)) return;
    const names = ObjectKeys(value);
    for (let i = 0; i < names.length; i++) {
      const v = (value as Record<string, unknown>)[names[i]];
      bytes += names[i].length + (typeof v === "string" ? v.length : 0);
    }
  };
  const set = answer.setHeaders;
  if (ArrayIsArray(set)) {
    for (let i = 0; i < set.length; i++) {
      bytes += set[i][0].length + set[i][1].length;
    }
  }
  record(answer.headers);
  record(answer.decision?.headers);
  return bytes;
}

/** The target `REGISTERED_HANDLER` names. */
function registeredHandler(): { found: true; value: unknown } | { found: false; reason: string } {
  const value = tykJS.registered();
  return value === undefined
    ? {
      found: false,
      reason:
        "plugin did not register a request or response handler via NewProcessRequest/NewProcessResponse",
    }
    : { found: true, value };
}

/** What answering a call needs once its value is known. */
interface Settling {
  id: number;
  /** The handler's name, for errors. */
  name: string;
  kind: number;
  hook: HookRequest | null;
  response: HookResponse | null;
  done: boolean;
}

/** Answers a call with its value: as it is for `CALL`, otherwise decoded as its kind asks. */
function complete(call: Settling, value: string): void {
  call.done = true;
  if (value.length > HOOK_LIMITS.resultChars) {
    fail(
      call.id,
      "decode",
      `Cannot use the result of ${call.name}: ${value.length} characters, more than the ${HOOK_LIMITS.resultChars} a JS hook may return`,
      {},
    );
    return;
  }
  if (call.kind === INBOX.CALL) {
    answer(OUTCOME.VALUE, call.id, value);
    return;
  }
  let edits: string;
  try {
    const decoded = decodeAnswer(call.kind, value, call.hook!, call.response);
    const headers = headerBytes(decoded as HeaderCarrier);
    if (headers > HOOK_LIMITS.headerBytes) {
      fail(
        call.id,
        "decode",
        `Cannot use the result of ${call.name}: it sets ${headers} bytes of headers, more than the ${HOOK_LIMITS.headerBytes} a JS hook may set`,
        {},
      );
      return;
    }
    edits = JSONStringify(decoded);
  } catch (error) {
    fail(call.id, "decode", error instanceof GoJsonError ? error.message : errorText(error), {});
    return;
  }
  answer(OUTCOME.VALUE, call.id, edits);
}

/**
 * An async handler's promise settled: answer its call, unless the sandbox answered for it already.
 * Host calls stop with the answer, and the rest of its promise jobs get the leftover rules.
 */
function settle(call: Settling, value: string | null, error?: unknown): void {
  if (call.done) return;
  if (value === null) {
    call.done = true;
    fail(call.id, "threw", errorText(error), loaded.locate(error));
  } else complete(call, value);
  settling = null;
  phase = "after";
  setState(SANDBOX_STATE.AFTER);
  answeredAt = PerformanceNow();
}

/**
 * Runs the call in the inbox and writes its outcome. For a `HOOK`, `VIRTUAL` or `RESPONSE` call the
 * gateway's raw views (`HookRequest`, `HookResponse`) become Tyk's objects here, and the value is
 * answered as the `HookEdits`, `VirtualResult` or `ResponseEdits` it asks for. Under driver
 * `javascript` a handler may return a promise; the call is answered when it settles (see `settle`).
 */
function runCall(k: number): void {
  const kind = AtomicsLoad(control, inboxSlot(k, INBOX_LANE.KIND));
  const id = AtomicsLoad(control, inboxSlot(k, INBOX_LANE.ID));
  currentCall = k;
  currentId = id;
  phase = "call";
  setState(SANDBOX_STATE.CALL);
  callStart = PerformanceNow();
  callLogs = 0;
  const payload = readLane(
    inboxes[k % PIPELINE_DEPTH],
    AtomicsLoad(control, inboxSlot(k, INBOX_LANE.LENGTH)),
  );
  const parts = StringPrototypeSplit(payload, PART_SEPARATOR);
  const target = parts[0];
  const method = parts[1] === "" ? null : parts[1];
  const name = method === null ? target : `${target}.${method}`;
  if (kind === INBOX.HOOKS) {
    try {
      run = new HookRunState(parts[2], parts[3], parts[4]);
    } catch (error) {
      fail(id, "threw", `Cannot call ${name}: an argument is not JSON (${errorText(error)})`, {});
      return;
    }
    runHook(run);
    return;
  }
  const args: unknown[] = [];
  let hook: HookRequest | null = null;
  let response: HookResponse | null = null;
  try {
    let first = 2;
    if (kind === INBOX.HOOK || kind === INBOX.VIRTUAL) {
      hook = JSONParse(parts[2]) as HookRequest;
      append(args, kind === INBOX.HOOK ? requestObject(hook) : virtualRequestObject(hook));
      first = 3;
    } else if (kind === INBOX.RESPONSE) {
      response = JSONParse(parts[2]) as HookResponse;
      hook = JSONParse(parts[3]) as HookRequest;
      append(args, responseObject(response));
      append(args, responseRequestObject(hook));
      first = 4;
    }
    for (let i = first; i < parts.length; i++) append(args, JSONParse(parts[i]));
  } catch (error) {
    fail(id, "threw", `Cannot call ${name}: an argument is not JSON (${errorText(error)})`, {});
    return;
  }
  invoke(id, kind, target, method, args, hook, response);
}

/** Calls the run's current hook as a `HOOK` call. */
function runHook(hooks: HookRunState): void {
  const { target, request, session, spec } = hooks.current();
  let args: unknown[];
  try {
    args = [requestObject(request), session, spec];
  } catch (error) {
    fail(currentId, "threw", `Cannot call ${target}.DoProcessRequest: ${errorText(error)}`, {});
    return;
  }
  invoke(currentId, INBOX.HOOK, target, "DoProcessRequest", args, request, null);
}

/** Calls `target.method(...args)` (or `target(...args)`) and answers with its value as `kind` asks. */
function invoke(
  id: number,
  kind: number,
  target: string,
  method: string | null,
  args: unknown[],
  hook: HookRequest | null,
  response: HookResponse | null,
): void {
  const name = method === null ? target : `${target}.${method}`;
  const resolved = target === REGISTERED_HANDLER ? registeredHandler() : loaded.resolve(target);
  if (!resolved.found) {
    fail(id, "missing", `Cannot call ${name}: ${resolved.reason}`, {});
    return;
  }
  const call: Settling = { id, name, kind, hook, response, done: false };
  let value: unknown;
  try {
    const holder = resolved.value as Record<string, unknown>;
    const fn = method === null ? holder : holder[method];
    if (typeof fn !== "function") {
      fail(id, "missing", `Cannot call ${name}: it is not a function`, {});
      return;
    }
    value = ReflectApply(fn, method === null ? undefined : holder, args);
    if (asyncCalls && value instanceof SafePromise) {
      settling = call;
      PromisePrototypeThen(
        value,
        (result) => settle(call, SafeString(result)),
        (error) => settle(call, null, error),
      );
      return;
    }
    value = SafeString(value);
  } catch (error) {
    fail(id, "threw", errorText(error), loaded.locate(error));
    return;
  }
  complete(call, value as string);
}

/**
 * Waits for the next call; returns after running one, to let its promise jobs run before `afterCall`.
 * When the host has given up on the sandbox, closes it instead: returning to the event loop ends the thread.
 */
function serve(): void {
  setState(SANDBOX_STATE.IDLE);
  for (;;) {
    if (aborted()) {
      setState(SANDBOX_STATE.CLOSED);
      closeWorker();
      return;
    }
    if (!callPosted()) {
      idle();
      continue;
    }
    const k = taken++;
    AtomicsStore(control, CONTROL.TAKEN, taken);
    try {
      runCall(k);
    } catch (error) {
      fail(currentId, "threw", `JS sandbox error: ${errorText(error)}`, {});
    }
    afterRunning();
    return;
  }
}

/** A call (or a hook of a run) returned: let its promise jobs run, then `afterCall`. */
function afterRunning(): void {
  afterDeadline = callStart + timeoutMs;
  if (settling === null) {
    phase = "after";
    setState(SANDBOX_STATE.AFTER);
    answeredAt = PerformanceNow();
  } else answeredAt = Infinity; // not answered yet: its promise jobs are still the call
  // Runs once the call's promise jobs are all done; a MessagePort message would not wait for them (Deno
  // dispatches it from a promise job of its own, between theirs).
  setImmediate(afterCall);
}

/** Promise jobs of the last call have run: make the state fresh again, then wait for the next call. */
function afterCall(): void {
  if (settling !== null) {
    // nothing is left to run, and a sandbox has no timers or I/O that could settle it later
    settle(settling, null, new SafeError("The handler's promise never settled"));
  }
  afterDeadline = 0;
  try {
    if (!persistState) {
      muted = true;
      loaded.replay();
      muted = false;
      restoreState?.();
    }
  } catch (error) {
    muted = false;
    runtime.log("error", `JS sandbox error while resetting state: ${errorText(error)}`);
  }
  if (run !== null) nextHook(run);
  else serve();
}

/** The state is back after a hook of a run: call the next one, or answer for the run. */
function nextHook(hooks: HookRunState): void {
  if (aborted()) {
    run = null;
    serve();
    return;
  }
  const whole = hooks.advance();
  if (whole !== null) {
    run = null;
    writeOutcome(OUTCOME.VALUE, currentId, whole);
    serve();
    return;
  }
  phase = "call";
  setState(SANDBOX_STATE.CALL);
  callStart = PerformanceNow();
  try {
    runHook(hooks);
  } catch (error) {
    fail(currentId, "threw", `JS sandbox error: ${errorText(error)}`, {});
  }
  afterRunning();
}

function init(msg: InitMessage): void {
  control = new SafeInt32Array(msg.control);
  inboxes = msg.inboxes;
  reply = msg.reply;
  outboxes = msg.outboxes;
  outBytes = [];
  for (let i = 0; i < outboxes.length; i++) append(outBytes, new SafeUint8Array(outboxes[i]));
  load = new SafeInt32Array(msg.load);
  hostCalls = msg.hostCalls;
  persistState = msg.persistState;
  timeoutMs = msg.timeoutMs;
  muted = msg.quietLoad;

  // otto strings hold Go's raw bytes, so invalid UTF-8 in a body survives what a plugin does with it
  const options = {
    codec: msg.driver === "otto" ? RAW_BYTES : UTF8,
    asyncHandlers: asyncCalls = msg.driver === "javascript",
  };
  const tyk = tykJS = createTykJS(runtime, options);
  const api = createTykApi(runtime, options);
  defineGlobals(global, { TykJS: tyk.TykJS, _, ...api });
  const builtins = new SafeSet(ReflectOwnKeys(global));

  loaded = loadSources(msg.sources, msg.driver, guard!, {
    beforeSource: (file) => post({ type: "loading", id: 0, file }),
    afterLibrary: () => defineGlobals(global, api),
    stopped: aborted,
  });
  muted = false;
  phase = "after";
  if (!persistState) {
    builtinLock.lock(bootstrapObjects(tyk));
    restoreState = snapshotState({
      global,
      builtins,
      roots: RESET_ROOTS,
      tracked: resetTracked(tyk, builtinLock.objects),
      lexical: loaded.lexical,
      globalChanged: builtinLock.globalChanged,
    });
  }
  post({ type: "loaded", id: 0, issues: loaded.issues, permissions });
  serve();
}

// Once loaded, a promise job that throws or rejects unhandled must not end the sandbox (Tyk's VMs ignore
// them; here they are logged). Before that, an uncaught error is the sandbox's own: the host sees a crash.
listen("error", (event) => {
  if (restoreState === null && phase === "load") return;
  event.preventDefault();
  runtime.log("warn", `Uncaught exception in JS: ${errorText((event as ErrorEvent).error)}`);
});
listen("unhandledrejection", (event) => {
  event.preventDefault();
  runtime.log(
    "warn",
    `Unhandled promise rejection in JS: ${errorText((event as PromiseRejectionEvent).reason)}`,
  );
});
/**
 * Gives up every permission, hardens the global scope and builds the code guard: nothing here depends on the
 * API, so a spare sandbox does it as it boots, before one is known.
 */
function prepare(msg: PrepareMessage): void {
  permissions = dropPermissions();
  guard = createCodeGuard(msg.parserSource);
  hardenGlobal(global, guard);
  ReflectDefineProperty(global, TICK, { __proto__: null, value: tick } as PropertyDescriptor);
  builtinLock = guardBuiltins(global);
  collectGarbage();
}

// Only the host's first two messages count; afterwards everything comes through the shared buffer. Plugin
// code never runs inside a port's message handler: a thread that reaches its heap limit there is not ended
// (Deno 2.9), one that reaches it in a setImmediate callback is.
const onMessage = (data: unknown) => {
  const msg = data as PrepareMessage | InitMessage;
  const expected = guard === null ? "prepare" : "init";
  if (msg?.type !== expected) {
    port.off("message", onMessage);
    throw new Error(`Cannot start the JS sandbox: expected "${expected}", got "${msg?.type}"`);
  }
  if (msg.type === "prepare") {
    prepare(msg);
    return;
  }
  port.off("message", onMessage);
  setImmediate(() => init(msg));
};
port.on("message", onMessage);
