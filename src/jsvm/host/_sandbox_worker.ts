/**
 * One sandbox Worker as the host sees it: a small state machine (`starting` → `idle` ⇄ `busy` → `dead`).
 * `terminate()` twice is harmless, a reply for a call that is no longer current is dropped, a dead
 * worker's pending call and load are rejected, and an `error`/`messageerror` event kills it ("crashed").
 * The only `new Worker` for plugin code is in `startWorker()` below.
 */

import type { Logger } from "../../log.ts";
import {
  type CallFailure,
  CONTROL,
  CONTROL_SLOTS,
  DATA_INITIAL_BYTES,
  DATA_MAX_BYTES,
  type HostCallOp,
  IDLE_POLL,
  INBOX,
  type InitMessage,
  type LoadIssue,
  OUTCOME,
  REPLY,
  type ToHost,
  unhandled,
} from "../protocol.ts";
import { gatewayIsQuiet, LOAD_GAUGE } from "./load_gauge.ts";

/**
 * What went wrong with a call: `threw` (plugin exception), `missing` (no such function), `decode` (a hook
 * result Go's JSON decoder would refuse), `timeout`, `crashed` (the sandbox died), `closed` (the pool is
 * closed).
 */
export type JsvmErrorKind = "timeout" | "threw" | "missing" | "decode" | "crashed" | "closed";

/** A failed call: `kind` tells the caller what happened; message and file:line are for the log. */
export class JsvmError extends Error {
  override name = "JsvmError";
  /** The plugin file the exception came from, when known. */
  file?: string;
  /** The line within `file`. */
  line?: number;
  constructor(
    readonly kind: JsvmErrorKind,
    message: string,
    options?: { file?: string; line?: number; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.file !== undefined) this.file = options.file;
    if (options?.line !== undefined) this.line = options.line;
  }
}

/**
 * Serves one synchronous call made from plugin code; resolves to the string returned to JS, or undefined.
 * `signal` aborts when the call it serves times out or its sandbox dies, so the work can stop.
 */
export type HostCallHandler = (
  op: HostCallOp,
  args: string[],
  signal: AbortSignal,
) => Promise<string | undefined>;

/** A call as a worker runs it; `settle` is called exactly once. */
export interface WorkerJob {
  id: number;
  /** `INBOX.CALL`, or `INBOX.HOOK` for a request hook. */
  kind: number;
  /** Target, method and JSON arguments joined by `PART_SEPARATOR`. */
  payload: string;
  settle(error: JsvmError | null, value: string): void;
}

/** How to start a sandbox. */
export interface SandboxWorkerOptions {
  init: Omit<InitMessage, "type" | "id" | "control" | "data" | "out" | "load">;
  /** Longest time one source may take to evaluate before the worker is killed. */
  loadTimeoutMs: number;
  hostCalls?: HostCallHandler;
  log: Logger;
  /** The worker became idle (after loading or a call). */
  onIdle(worker: SandboxWorker): void;
  /** The worker died on its own (error event, bad message); not called for `terminate()`. */
  onCrash(worker: SandboxWorker, error: JsvmError): void;
}

/** Longest time a Worker may take to boot (before its first source starts). */
const BOOT_TIMEOUT_MS = 30_000;

/** Starts a sandbox: a module Worker without any permission. */
function startWorker(): Worker {
  return new Worker(new URL("../sandbox/worker.ts", import.meta.url), {
    type: "module",
    deno: { permissions: "none" },
  });
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A Worker running one API's sandbox. */
export class SandboxWorker {
  #worker: Worker;
  #options: SandboxWorkerOptions;
  #state: "starting" | "idle" | "busy" | "dead" = "starting";
  #control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
  #data = new SharedArrayBuffer(DATA_INITIAL_BYTES, { maxByteLength: DATA_MAX_BYTES });
  #bytes = new Uint8Array(this.#data);
  #out = new SharedArrayBuffer(DATA_INITIAL_BYTES, { maxByteLength: DATA_MAX_BYTES });
  #outBytes = new Uint8Array(this.#out);
  #job: WorkerJob | null = null;
  /** `log` messages received for the current call, and whether its outcome waits for more of them. */
  #logsSeen = 0;
  #outcomeWaiting = false;
  #abort: AbortController | null = null;
  #loadTimer: ReturnType<typeof setTimeout> | undefined;
  #loadingFile = "";
  #started = false;
  #loaded: PromiseWithResolvers<LoadIssue[]> = Promise.withResolvers();

  /** Resolves with the load issues once every source is evaluated; rejects if the worker dies first. */
  readonly loaded: Promise<LoadIssue[]> = this.#loaded.promise;

  constructor(options: SandboxWorkerOptions) {
    this.#options = options;
    this.loaded.catch(() => {}); // the pool reads it; never an unhandled rejection
    this.#worker = startWorker();
    this.#worker.onmessage = (event) => this.#receive(event.data as ToHost);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#crash(`JS sandbox crashed: ${event.message}`);
    };
    this.#worker.onmessageerror = () => this.#crash("JS sandbox sent a message that cannot be read");
    const msg: InitMessage = {
      ...options.init,
      type: "init",
      id: 0,
      control: this.#control.buffer,
      data: this.#data,
      out: this.#out,
      load: LOAD_GAUGE,
    };
    this.#worker.postMessage(msg);
    this.#armLoadTimer(BOOT_TIMEOUT_MS);
  }

  /** `starting`, `idle`, `busy` or `dead`. */
  get state(): "starting" | "idle" | "busy" | "dead" {
    return this.#state;
  }

  /** Whether every source was evaluated (the worker served or could serve calls). */
  get started(): boolean {
    return this.#started;
  }

  /** Starts a call; the worker must be idle. */
  run(job: WorkerJob): void {
    if (this.#state !== "idle") throw new Error(`Cannot run a JS call: the sandbox is ${this.#state}`);
    const seq = Atomics.load(this.#control, CONTROL.OUT_SEQ);
    if (!this.#write(job.kind, job.id, 0, job.payload)) {
      job.settle(
        new JsvmError("threw", `Cannot call JS: ${job.payload.length} characters of arguments do not fit`),
        "",
      );
      return;
    }
    this.#state = "busy";
    this.#job = job;
    this.#logsSeen = 0;
    this.#outcomeWaiting = false;
    if (gatewayIsQuiet() && this.#pollOutcome(seq)) {
      queueMicrotask(this.#onOutcome); // not inline: settling starts the next queued call, which would nest
      return;
    }
    const wait = Atomics.waitAsync(this.#control, CONTROL.OUT_SEQ, seq);
    if (wait.async) wait.value.then(this.#onOutcome);
    else queueMicrotask(this.#onOutcome);
  }

  /**
   * Polls the outbox for up to `IDLE_POLL.hostMicros`; true when the outcome came. A quiet gateway's
   * thread has nothing else to do meanwhile, and a hook answered within the poll skips the event loop's
   * wake-up, which costs more than the hook.
   */
  #pollOutcome(seq: number): boolean {
    const control = this.#control;
    const until = performance.now() + IDLE_POLL.hostMicros / 1000;
    for (let n = 1; Atomics.load(control, CONTROL.OUT_SEQ) === seq; n++) {
      if ((n & 63) === 0 && performance.now() >= until) return false;
    }
    return true;
  }

  /** The outbox changed (or the host released its own waiter): settle the current call from it. */
  #onOutcome = (): void => {
    const job = this.#job;
    const control = this.#control;
    if (this.#state !== "busy" || job === null || Atomics.load(control, CONTROL.OUT_ID) !== job.id) return;
    // The call's log messages travel by postMessage, slower than the outbox: settle once they are in.
    this.#outcomeWaiting = this.#logsSeen < Atomics.load(control, CONTROL.OUT_LOGS);
    if (this.#outcomeWaiting) return;
    const text = decoder.decode(this.#outBytes.subarray(0, Atomics.load(control, CONTROL.OUT_LENGTH)));
    this.#job = null;
    this.#abort = null;
    this.#state = "idle";
    if (Atomics.load(control, CONTROL.OUT_KIND) === OUTCOME.VALUE) job.settle(null, text);
    else {
      let failure: CallFailure;
      try {
        failure = JSON.parse(text);
      } catch {
        failure = { kind: "threw", message: "JS sandbox sent an unreadable failure" };
      }
      const { kind, message, file, line } = failure;
      const known = kind === "missing" || kind === "decode" ? kind : "threw";
      job.settle(new JsvmError(known, String(message), { file, line }), "");
    }
    if (this.#state === "idle") this.#options.onIdle(this);
  };

  /** Wakes an idle worker that sleeps, so it polls for the call about to come. */
  wake(): void {
    if (this.#state === "idle" && Atomics.load(this.#control, CONTROL.SLEEPING) === 1) {
      Atomics.notify(this.#control, CONTROL.SEQ, 1);
    }
  }

  /** Stops the worker; a pending call and an unfinished load are rejected with `reason`. Safe to repeat. */
  terminate(reason: JsvmError): void {
    if (this.#state === "dead") return;
    const wasStarting = this.#state === "starting";
    this.#state = "dead";
    // terminate() does not stop a Worker busy in JavaScript (denoland/deno#35657): the abort flag makes the
    // plugin's loop and function ticks throw, and the sandbox closes itself; the notify wakes it if it waits.
    Atomics.store(this.#control, CONTROL.ABORT, 1);
    Atomics.add(this.#control, CONTROL.SEQ, 1);
    Atomics.notify(this.#control, CONTROL.SEQ);
    Atomics.add(this.#control, CONTROL.OUT_SEQ, 1); // releases this side's waitAsync
    Atomics.notify(this.#control, CONTROL.OUT_SEQ);
    this.#worker.terminate();
    clearTimeout(this.#loadTimer);
    this.#abort?.abort(reason);
    this.#abort = null;
    if (wasStarting) this.#loaded.reject(reason);
    const job = this.#job;
    this.#job = null;
    job?.settle(reason, "");
  }

  #crash(message: string): void {
    if (this.#state === "dead") return;
    const error = new JsvmError("crashed", message);
    this.terminate(error);
    this.#options.onCrash(this, error);
  }

  #armLoadTimer(ms: number): void {
    clearTimeout(this.#loadTimer);
    this.#loadTimer = setTimeout(() => {
      const file = this.#loadingFile;
      const error = new JsvmError("timeout", `Loading JS took longer than ${ms} ms`, {
        file: file || undefined,
      });
      this.terminate(error);
    }, ms);
  }

  /** Writes the inbox and wakes the sandbox; false when the text cannot fit. */
  #write(kind: number, id: number, status: number, text: string): boolean {
    if (text.length * 3 > this.#data.byteLength && this.#data.byteLength < DATA_MAX_BYTES) {
      this.#data.grow(Math.min(DATA_MAX_BYTES, Math.max(this.#data.byteLength * 2, text.length * 3)));
    }
    const { read, written } = encoder.encodeInto(text, this.#bytes);
    if (read < text.length) return false;
    const control = this.#control;
    Atomics.store(control, CONTROL.LENGTH, written);
    Atomics.store(control, CONTROL.KIND, kind);
    Atomics.store(control, CONTROL.ID, id);
    Atomics.store(control, CONTROL.STATUS, status);
    Atomics.add(control, CONTROL.SEQ, 1);
    Atomics.notify(control, CONTROL.SEQ);
    return true;
  }

  #receive(msg: ToHost): void {
    if (this.#state === "dead") return;
    try {
      this.#handle(msg);
    } catch (error) {
      this.#crash(`JS sandbox sent a bad message: ${(error as Error).message}`);
    }
  }

  /** Whether `id` names what the worker does now (a call, or 0 while loading). */
  #current(id: number): boolean {
    return this.#state === "starting" ? id === 0 : this.#state === "busy" && this.#job?.id === id;
  }

  #handle(msg: ToHost): void {
    switch (msg.type) {
      case "loading":
        if (this.#state !== "starting") return;
        this.#loadingFile = msg.file;
        this.#armLoadTimer(this.#options.loadTimeoutMs);
        return;
      case "loaded":
        if (this.#state !== "starting") return;
        clearTimeout(this.#loadTimer);
        this.#state = "idle";
        this.#started = true;
        this.#loadingFile = "";
        this.#abort = null;
        this.#loaded.resolve(msg.issues);
        this.#options.onIdle(this);
        return;
      case "hostCall":
        if (this.#current(msg.id)) this.#serveHostCall(msg.id, msg.op, msg.args);
        return;
      case "log": {
        const { log, init } = this.#options;
        if (msg.level === "raw") log.raw(msg.text);
        else log[msg.level](msg.text, { api_id: init.apiId, type: "log-msg" });
        if (this.#current(msg.id) && msg.id !== 0) {
          this.#logsSeen++;
          if (this.#outcomeWaiting) this.#onOutcome();
        }
        return;
      }
      default:
        unhandled(msg);
    }
  }

  #serveHostCall(id: number, op: HostCallOp, args: string[]): void {
    const handler = this.#options.hostCalls;
    const abort = this.#abort ??= new AbortController();
    let pending: Promise<string | undefined>;
    try {
      pending = handler === undefined ? Promise.resolve(undefined) : handler(op, args, abort.signal);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (value) => {
        if (!this.#current(id)) return; // timed out or dead: the sandbox is not waiting any more
        if (value === undefined) this.#write(INBOX.REPLY, id, REPLY.UNDEFINED, "");
        else if (!this.#write(INBOX.REPLY, id, REPLY.VALUE, String(value))) {
          this.#write(INBOX.REPLY, id, REPLY.ERROR, `${op} returned more than the sandbox can take`);
        }
      },
      (error) => {
        if (!this.#current(id)) return;
        const message = error instanceof Error ? error.message : String(error);
        this.#options.log.error(`JS host call ${op} failed: ${message}`, {
          api_id: this.#options.init.apiId,
        });
        this.#write(INBOX.REPLY, id, REPLY.ERROR, message);
      },
    );
  }
}
