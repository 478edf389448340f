/**
 * An API's JS sandboxes: up to `size` Workers, started lazily, that all hold the same sources.
 *
 * The sources are checked when the pool is made, without a Worker (syntax, the guards' refusals), so a
 * broken plugin is reported when its API loads; the first Worker starts with the first call. A worker left
 * without calls for `idleMs` is stopped, its memory with it, and the next call starts a fresh one.
 *
 * Calls go to an idle worker. Once every worker the pool may have is busy, a call queues in the worker
 * holding the fewest (up to `PIPELINE_DEPTH`), so a busy worker goes from one call to the next without
 * sleeping; a worker blocked in a host call hands its queued calls back. Past that, calls wait in FIFO
 * order. Each call has a hard timeout counted from `call()`: a call still queued is dropped, a worker that
 * has not finished it in time is terminated (a fresh worker, loaded from the same sources, takes its
 * place, and the calls it never started run there), so `while(true){}` costs one worker, never the
 * gateway's thread or another call. A source that hangs while loading is left out of later workers and
 * reported as an issue.
 */

import { createHash } from "node:crypto";
import type { Logger } from "../../log.ts";
import { INBOX, type LoadIssue, PART_SEPARATOR, type RunHook, type SandboxSource } from "../protocol.ts";
import { checkSources } from "./_source_checks.ts";
import { SandboxThread } from "./_sandbox_thread.ts";
import type { HostCallHandler } from "./_host_call.ts";
import { WorkerHandle, type WorkerJob } from "./_worker_handle.ts";
import type { WorkerSupply } from "./worker_supply.ts";
import { JsvmError } from "./jsvm_error.ts";

/** `memoryLimitMb` when the spec gives none. */
const DEFAULT_MEMORY_LIMIT_MB = 512;

/**
 * How long a call made while its API has no started sandbox may wait for one to start, on top of its
 * `timeoutMs` (which counts from the start): a sandbox thread boots in about half a second, several on a
 * busy machine.
 */
const COLD_START_MS = 30_000;

/** How often the pool looks at sandbox threads that should have stopped (see `WorkerHandle.check`). */
const WATCH_MS = 250;

export type { HostCallOp, LoadIssue } from "../protocol.ts";
export type { HostCallHandler } from "./_host_call.ts";
export { JsvmError, type JsvmErrorKind } from "./jsvm_error.ts";

/** One JS source evaluated in an API's sandbox. */
export interface PluginSource {
  /** Real path, or a synthetic one like `__inline__/<api_id>/pre/0/<name>` for inline code. */
  file: string;
  code: string;
  /** Global names this source must provide (middleware object / virtual-endpoint function names). */
  names: string[];
  /** Virtual-endpoint sources are never wrapped (global in both drivers). */
  kind: "middleware" | "virtual";
}

/** Everything a pool needs to know about one API's JS. */
export interface SandboxSpec {
  apiId: string;
  orgId: string;
  /** `otto`: one shared global scope; `javascript`: each middleware file private (wrapped, with aliases). */
  driver: "otto" | "javascript";
  /** `tyk_js_path`, evaluated after the bootstrap, global. */
  userLibrary?: { file: string; code: string };
  /** Evaluated in this order after the user library. */
  sources: PluginSource[];
  /** `jsvm_timeout` in ms, hard: per call, and per source while loading. */
  timeoutMs: number;
  /** Most workers for this API (the first starts on the first call, or `load()`). */
  size: number;
  /**
   * How long a worker may go without a call before it is stopped and its memory released (never while it
   * holds a call or calls wait); the next call starts a fresh one. 0 keeps workers until `close()`.
   * @default 0
   */
  idleMs?: number;
  /**
   * Called once, when the first worker has evaluated the sources, with what failed there and only there
   * (an exception at the top level, a source that hung); what the checks at creation found is in `issues`.
   */
  onLoad?: (issues: LoadIssue[]) => void;
  /** Globals persist across calls. @default false (state is reset after each call, as in Tyk) */
  persistState?: boolean;
  /**
   * The heap each sandbox may use, in MB (V8's old generation). A sandbox that needs more is ended, and the
   * call it ran fails as a crash. Below about 300, one allocation of V8's largest size (1 GB) takes the
   * whole process down instead (Deno lets a Worker's heap grow to about four times its limit while it
   * ends it). @default 512
   */
  memoryLimitMb?: number;
  /** Serves synchronous host calls (TykMakeHttpRequest, TykGetKeyData, …); without it they return undefined. */
  hostCalls?: HostCallHandler;
  /** Where sandbox threads come from (some booted ahead); without one, each boots when needed. */
  supply?: WorkerSupply;
  /** log()/rawlog()/console.* land here with `api_id` and `type=log-msg`. */
  log: Logger;
  /**
   * How many requests the gateway serves now (Int32 slot 0): idle sandboxes poll for calls longer while
   * it is at most `IDLE_POLL.quietLoad`. @default a gauge that stays at 0
   */
  load?: SharedArrayBuffer;
}

/** An API's sandboxes. */
export interface SandboxPool {
  /**
   * What the checks at creation found, without a worker: sources refused by the guards or with a syntax
   * error (left out of the workers), export names that are not names.
   */
  readonly issues: readonly LoadIssue[];
  /**
   * Starts the first worker unless one started already and evaluates every source; resolves with what
   * failed to load, `issues` included, in source order (never throws for plugin errors).
   */
  load(): Promise<{ issues: LoadIssue[] }>;
  /** Whether a worker is alive now (starting or started): the API is in use. */
  readonly running: boolean;
  /**
   * Calls `target.method(...args)` (or `target(...args)` when method is null) in a worker, where each
   * arg is JSON text parsed inside the sandbox, and resolves with `String(returnValue)` exactly as Tyk's VM
   * converts the result ("undefined" for undefined). target may be a dotted path on otto; on `javascript`
   * it is a middleware's alias (`handlerAlias()`), or its name when only one file exports that name.
   * @throws {JsvmError} kind "timeout", "threw", "missing", "crashed" or "closed"
   */
  call(target: string, method: string | null, args: string[]): Promise<string>;
  /**
   * Calls a request hook, `target.DoProcessRequest(request, session, spec)`: the sandbox builds Tyk's
   * request object from `request` (a `HookRequest` as JSON) and resolves with the `HookEdits` JSON the
   * result asks for.
   * @throws {JsvmError} as `call()` does, and kind "decode" when Go's JSON decoder would refuse the result
   */
  callHook(target: string, request: string, session: string, spec: string): Promise<string>;
  /**
   * Calls request hooks that follow each other in the chain in one round trip, each as `callHook` would on
   * the request the previous left: `hooks` are `RunHook`s, `request` is for the first. Resolves
   * with the `HookRun` JSON (see `sandbox/hook_run.ts`); the deadline is `jsvm_timeout` per hook.
   * @throws {JsvmError} as `call()` does
   */
  callHooks(hooks: RunHook[], request: string, spec: string): Promise<string>;
  /**
   * Calls a virtual endpoint's function, `target(request, session, spec)`: the sandbox builds the function's
   * request object from `request` (a `HookRequest` as JSON) and resolves with the `VirtualResult` JSON the
   * returned text decodes to.
   * @throws {JsvmError} as `call()` does, and kind "decode" when Go's JSON decoder would refuse the result
   */
  callVirtual(target: string, request: string, session: string, spec: string): Promise<string>;
  /**
   * Calls a response hook, `target.DoProcessResponse(response, request, session, spec)`: the sandbox builds
   * Tyk's objects from `response` (a `HookResponse` as JSON) and `request` (a `HookRequest` as JSON) and
   * resolves with the `ResponseEdits` JSON the result asks for.
   * @throws {JsvmError} as `call()` does, and kind "decode" when Go's JSON decoder would refuse the result
   */
  callResponse(
    target: string,
    response: string,
    request: string,
    session: string,
    spec: string,
  ): Promise<string>;
  /**
   * Calls `target.DoProcessRequest(...args)` or `target.DoProcessResponse(...args)` with Tyk's objects as
   * JSON (as `call()` does) and resolves with the result as Go decodes it (Tyk's `VMReturnObject` or
   * `VMResponseReturnObject`), as JSON: what the plugin test runner reports.
   * @throws {JsvmError} as `callHook()` and `callResponse()` do
   */
  callDecoded(hook: "request" | "response", target: string, args: string[]): Promise<string>;
  /**
   * Wakes the worker the next call would go to, if it sleeps: a request that will reach this API's hooks
   * has arrived, and a sleeping thread takes longer to wake than the gateway takes to reach the first hook.
   */
  wake(): void;
  /** Waits for in-flight calls, then terminates every worker; later calls reject with kind "closed". Idempotent. */
  close(): Promise<void>;
}

/**
 * The hidden global alias the `javascript` driver keeps middleware `name` of `file` under:
 * `__tyk_h_` + 12 hex digits of SHA-256(file, NUL, name) + `_` + the name with non-identifier characters as `_`.
 * @example handlerAlias("/opt/mw/auth.js", "authMw") // "__tyk_h_…_authMw"
 */
export function handlerAlias(file: string, name: string): string {
  const hash = createHash("sha256").update(`${file}\u0000${name}`).digest("hex").slice(0, 12);
  return `__tyk_h_${hash}_${name.replace(/[^A-Za-z0-9_$]/g, "_")}`;
}

interface Job extends WorkerJob {
  /** Its time once a worker has started: `timeoutMs` for each hook it runs. */
  budget: number;
  done: boolean;
  worker: WorkerHandle | null;
  resolve(value: string): void;
  reject(error: JsvmError): void;
}

class Pool implements SandboxPool {
  readonly issues: readonly LoadIssue[];
  #spec: SandboxSpec;
  #gauge: SharedArrayBuffer;
  #sources: SandboxSource[];
  /** Files in load order, to sort issues by. */
  #order: string[];
  /** Files left out because they hung while loading. */
  #skipped = new Set<string>();
  #skipIssues: LoadIssue[] = [];
  #workers: WorkerHandle[] = [];
  /** Workers stopped whose threads have not confirmed they are gone. */
  #retired: WorkerHandle[] = [];
  /** Plugin target → `name (file)`, for the log. */
  #plugins = new Map<string, string>();
  #queue: Job[] = [];
  #queueHead = 0;
  /** Every unsettled call in call order (settled ones leave from the front): one timer watches the soonest deadline. */
  #pending: Job[] = [];
  #pendingHead = 0;
  /** Calls made while no worker was started, not timed yet (see `#started`). */
  #cold: Job[] = [];
  #watchdog: number | undefined;
  /** Watches for workers idle longer than `idleMs`; armed while there are workers. */
  #reaper: number | undefined;
  #nextId = 1;
  #active = 0;
  #spawned = 0;
  #loading: Promise<LoadIssue[]> | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;
  #drained: (() => void) | null = null;

  constructor(spec: SandboxSpec) {
    if (!(spec.timeoutMs > 0)) {
      throw new RangeError(`Cannot create a JS sandbox: timeoutMs is ${spec.timeoutMs}`);
    }
    if (!(spec.size >= 1)) throw new RangeError(`Cannot create a JS sandbox: size is ${spec.size}`);
    if (!((spec.idleMs ?? 0) >= 0)) {
      throw new RangeError(`Cannot create a JS sandbox: idleMs is ${spec.idleMs}`);
    }
    this.#spec = spec;
    this.#plugins = pluginNames(spec.sources);
    this.#gauge = spec.load ?? new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
    const wrap = spec.driver === "javascript";
    this.#sources = spec.sources.map((s) => ({
      file: s.file,
      code: s.code,
      kind: s.kind,
      exports: wrap && s.kind === "middleware"
        ? s.names.map((name) => ({ name, alias: handlerAlias(s.file, name) }))
        : [],
    }));
    if (spec.userLibrary) {
      this.#sources.unshift({
        file: spec.userLibrary.file,
        code: spec.userLibrary.code,
        kind: "library",
        exports: [],
      });
    }
    this.#order = this.#sources.map((s) => s.file);
    const checked = checkSources(this.#sources, spec.driver);
    this.#sources = checked.sources;
    this.issues = checked.issues;
  }

  get running(): boolean {
    return this.#workers.length > 0;
  }

  load(): Promise<{ issues: LoadIssue[] }> {
    this.#loading ??= this.#load().then((issues) => {
      this.#spec.onLoad?.(issues);
      return issues;
    });
    return this.#loading.then((found) => ({ issues: this.#inOrder([...this.issues, ...found]) }));
  }

  /** Starts a worker and resolves with what failed while it evaluated the sources. */
  async #load(): Promise<LoadIssue[]> {
    for (;;) {
      const worker = this.#spawn();
      try {
        const issues = await worker.loaded;
        return [...this.#skipIssues, ...issues];
      } catch (error) {
        // A source that hung was skipped by #spawn's failure handler; try again without it.
        const { kind, file } = error as JsvmError;
        if (kind === "timeout" && file !== undefined && !this.#closed) continue;
        const message = `JS sandbox did not start: ${(error as Error).message}`;
        return [...this.#skipIssues, { file: "<sandbox>", message }];
      }
    }
  }

  /** `issues` sorted by the load order of their files (stable). */
  #inOrder(issues: LoadIssue[]): LoadIssue[] {
    const rank = (issue: LoadIssue) => {
      const at = this.#order.indexOf(issue.file);
      return at === -1 ? this.#order.length : at;
    };
    return issues.map((issue, i) => ({ issue, i })).sort((a, b) => rank(a.issue) - rank(b.issue) || a.i - b.i)
      .map(({ issue }) => issue);
  }

  call(target: string, method: string | null, args: string[]): Promise<string> {
    return this.#enqueue(INBOX.CALL, target, method, args);
  }

  callHook(target: string, request: string, session: string, spec: string): Promise<string> {
    return this.#enqueue(INBOX.HOOK, target, "DoProcessRequest", [request, session, spec]);
  }

  callHooks(hooks: RunHook[], request: string, spec: string): Promise<string> {
    const args = [request, spec, JSON.stringify(hooks)];
    return this.#enqueue(INBOX.HOOKS, hooks[0][0], "DoProcessRequest", args, hooks.length);
  }

  callVirtual(target: string, request: string, session: string, spec: string): Promise<string> {
    return this.#enqueue(INBOX.VIRTUAL, target, null, [request, session, spec]);
  }

  callResponse(
    target: string,
    response: string,
    request: string,
    session: string,
    spec: string,
  ): Promise<string> {
    return this.#enqueue(INBOX.RESPONSE, target, "DoProcessResponse", [response, request, session, spec]);
  }

  callDecoded(hook: "request" | "response", target: string, args: string[]): Promise<string> {
    return hook === "request"
      ? this.#enqueue(INBOX.HOOK_DECODED, target, "DoProcessRequest", args)
      : this.#enqueue(INBOX.RESPONSE_DECODED, target, "DoProcessResponse", args);
  }

  /** @param calls how many hooks the call runs: its deadline is `timeoutMs` for each */
  #enqueue(kind: number, target: string, method: string | null, args: string[], calls = 1): Promise<string> {
    if (this.#closed) {
      return Promise.reject(
        new JsvmError("closed", `Cannot call ${name(target, method)}: the API's JS sandbox is closed`),
      );
    }
    if (this.#loading === null) void this.load();
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    let payload = target + PART_SEPARATOR + (method ?? "");
    for (let i = 0; i < args.length; i++) payload += PART_SEPARATOR + args[i];
    // Booting a sandbox is the gateway's cost, not the plugin's: a call made while none is started gets its
    // time once one is, and waits `COLD_START_MS` at most for that
    const cold = !this.#workers.some((w) => w.started);
    const budget = this.#spec.timeoutMs * calls;
    const job: Job = {
      id: this.#nextId++,
      kind,
      payload,
      target,
      method,
      worker: null,
      resolve,
      reject,
      deadline: performance.now() + budget + (cold ? COLD_START_MS : 0),
      budget,
      done: false,
      settle: (error, value) => this.#settle(job, error, value),
    };
    this.#active++;
    (cold ? this.#cold : this.#pending).push(job);
    if (this.#watchdog === undefined) this.#arm(this.#spec.timeoutMs);
    this.#queue.push(job);
    this.#pump();
    return promise;
  }

  /**
   * Arms the one timer of the pool (a timer per call costs more than the rest of the host's side of it).
   * It is unref'd: calls in flight keep their own promises pending, not the process.
   */
  #arm(ms: number): void {
    this.#watchdog = setTimeout(() => this.#sweep(), ms) as unknown as number;
    Deno.unrefTimer(this.#watchdog);
  }

  /**
   * Times out every call past its deadline and looks at the sandbox threads (see `WorkerHandle.check`),
   * then re-arms for the oldest call left, or sooner while a thread needs watching.
   */
  #sweep(): void {
    this.#watchdog = undefined;
    const now = performance.now();
    // a run of hooks has a later deadline than calls made after it, so every call is looked at
    const pending = this.#pending.slice(this.#pendingHead).filter((job) => !job.done);
    this.#pending = pending.filter((job) => job.deadline > now);
    this.#pendingHead = 0;
    for (const job of pending) if (job.deadline <= now) this.#timeout(job);
    let next = Infinity;
    for (const job of this.#cold) {
      if (!job.done && job.deadline <= now) {
        this.#timeout(job, `did not start: no JS sandbox started within ${COLD_START_MS} ms`);
      }
      if (!job.done) next = Math.min(next, job.deadline - now);
    }
    let watch = false;
    for (const worker of [...this.#workers]) watch = worker.check(now) || watch;
    this.#retired = this.#retired.filter((worker) => worker.check(now));
    for (let i = this.#pendingHead; i < this.#pending.length; i++) {
      const job = this.#pending[i];
      if (!job.done) next = Math.min(next, Math.max(0, job.deadline - now));
    }
    const soon = watch || this.#retired.length > 0 ? WATCH_MS : Infinity;
    // A closing pool still times out the calls it waits for (close() drains them first)
    const due = this.#closed ? next : Math.min(next, soon);
    if (due < Infinity) this.#arm(due);
  }

  wake(): void {
    if (this.#queueHead < this.#queue.length) return; // calls are waiting: every worker is busy
    this.#workers.find((w) => w.state === "idle")?.wake();
  }

  close(): Promise<void> {
    return this.#closing ??= this.#close();
  }

  async #close(): Promise<void> {
    this.#closed = true;
    if (this.#loading !== null) await this.#loading;
    if (this.#active > 0) await new Promise<void>((resolve) => this.#drained = resolve);
    clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
    clearTimeout(this.#reaper);
    this.#reaper = undefined;
    const reason = new JsvmError("closed", "The API's JS sandbox is closed");
    for (const worker of this.#workers) worker.terminate(reason);
    this.#workers = [];
  }

  #spawn(): WorkerHandle {
    const spec = this.#spec;
    const memoryLimitMb = spec.memoryLimitMb ?? DEFAULT_MEMORY_LIMIT_MB;
    const worker = new WorkerHandle({
      init: {
        apiId: spec.apiId,
        orgId: spec.orgId,
        driver: spec.driver,
        sources: this.#sources.filter((s) => !this.#skipped.has(s.file)),
        persistState: spec.persistState ?? false,
        timeoutMs: spec.timeoutMs,
        hostCalls: spec.hostCalls !== undefined,
        quietLoad: this.#spawned++ > 0,
      },
      loadTimeoutMs: spec.timeoutMs,
      thread: spec.supply?.take(memoryLimitMb) ?? new SandboxThread(memoryLimitMb),
      load: this.#gauge,
      hostCalls: spec.hostCalls,
      log: spec.log,
      onFree: () => {
        this.#started();
        this.#pump();
      },
      onHandBack: (jobs) => this.#requeue(jobs as Job[]),
      onCrash: (w, error) => this.#lost(w, error, w.started),
      describe: (target, method) => this.#describe(target, method),
    });
    this.#workers.push(worker);
    this.#watchIdle(this.#spec.idleMs ?? 0);
    worker.loaded.catch((error: JsvmError) => {
      if (error.kind === "timeout" && error.file !== undefined && !this.#skipped.has(error.file)) {
        this.#skipped.add(error.file);
        this.#skipIssues.push({ file: error.file, message: error.message, timedOut: true });
      }
      this.#lost(worker, error, false);
    });
    return worker;
  }

  /**
   * A worker is gone: forget it. A worker lost in service is replaced at once; one that failed to start is
   * not (the next call starts one), and if it crashed with nothing else left, waiting calls fail now rather
   * than at their timeout.
   */
  #lost(worker: WorkerHandle, error: JsvmError, replace: boolean): void {
    const at = this.#workers.indexOf(worker);
    if (at === -1) return;
    this.#workers.splice(at, 1);
    if (!this.#closed && worker.check(performance.now())) {
      this.#retired.push(worker);
      if (this.#watchdog === undefined) this.#arm(WATCH_MS);
    }
    const waiting = this.#queue.length > this.#queueHead;
    if (error.kind === "crashed" && this.#workers.length === 0 && waiting) {
      const jobs = this.#queue.slice(this.#queueHead);
      this.#queue = [];
      this.#queueHead = 0;
      for (const job of jobs) job.settle(error, "");
      return;
    }
    if (replace && (!this.#closed || waiting)) this.#spawn();
    this.#pump();
  }

  /** Arms the idle watch to look again in `ms`, unless it is off or armed. */
  #watchIdle(ms: number): void {
    if (this.#reaper !== undefined || !(this.#spec.idleMs! > 0)) return;
    this.#reaper = setTimeout(() => this.#reap(), ms) as unknown as number;
    Deno.unrefTimer(this.#reaper);
  }

  /**
   * Stops every worker that has been idle for `idleMs` (one holding a call, starting, or blocked in a host
   * call is not idle), then looks again when the next one could be due, while any worker is left.
   */
  #reap(): void {
    this.#reaper = undefined;
    if (this.#closed) return;
    const idleMs = this.#spec.idleMs!;
    const now = performance.now();
    const waiting = this.#queue.length > this.#queueHead;
    let next = idleMs;
    for (const worker of [...this.#workers]) {
      if (worker.state !== "idle" || waiting) continue;
      const due = worker.idleSince + idleMs - now;
      if (due > 0) {
        next = Math.min(next, due);
        continue;
      }
      const reason = new JsvmError("closed", `The JS sandbox was idle for ${idleMs} ms`);
      worker.terminate(reason);
      this.#lost(worker, reason, false);
      this.#spec.log.debug(`Stopped a JS sandbox idle for ${idleMs} ms`, { api_id: this.#spec.apiId });
    }
    if (this.#workers.length > 0) this.#watchIdle(next);
  }

  /** A worker is ready: calls made while none was started get their time from now. */
  #started(): void {
    if (this.#cold.length === 0) return;
    const now = performance.now();
    for (const job of this.#cold) {
      if (job.done) continue;
      job.deadline = now + job.budget;
      this.#pending.push(job);
    }
    this.#cold = [];
    // the watch may be armed for a cold call's later limit: these deadlines come first
    clearTimeout(this.#watchdog);
    this.#arm(this.#spec.timeoutMs);
  }

  /** Puts calls a worker handed back unstarted at the head of the queue, in their order. */
  #requeue(jobs: Job[]): void {
    for (let i = jobs.length - 1; i >= 0; i--) {
      jobs[i].worker = null;
      if (this.#queueHead > 0) this.#queue[--this.#queueHead] = jobs[i];
      else this.#queue.unshift(jobs[i]);
    }
    queueMicrotask(() => this.#pump()); // the worker handing them back is mid-change
  }

  /**
   * The worker the next call goes to: an idle one; else, once no more workers may start, the one holding
   * the fewest calls that can queue another.
   */
  #pick(): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    for (const worker of this.#workers) {
      if (worker.state === "idle") return worker;
      if (worker.canTake && (best === undefined || worker.held < best.held)) best = worker;
    }
    return best === undefined || this.#shouldSpawn() ? undefined : best;
  }

  /** Whether waiting calls outnumber the workers starting, and the pool may have another. */
  #shouldSpawn(): boolean {
    const waiting = this.#queue.length - this.#queueHead;
    const starting = this.#workers.filter((w) => w.state === "starting").length;
    return starting < waiting && this.#workers.length < this.#spec.size;
  }

  #pump(): void {
    const queue = this.#queue;
    while (this.#queueHead < queue.length) {
      const worker = this.#pick();
      if (worker === undefined) {
        if (this.#shouldSpawn()) this.#spawn();
        break;
      }
      const job = queue[this.#queueHead];
      queue[this.#queueHead++] = undefined as unknown as Job;
      if (this.#queueHead === queue.length) {
        queue.length = 0;
        this.#queueHead = 0;
      } else if (this.#queueHead >= 1024 && this.#queueHead * 2 >= queue.length) {
        queue.splice(0, this.#queueHead); // a queue that never empties must not keep growing
        this.#queueHead = 0;
      }
      job.worker = worker;
      worker.run(job);
    }
  }

  #settle(job: Job, error: JsvmError | null, value: string): void {
    if (job.done) return;
    job.done = true;
    job.worker = null;
    job.payload = "";
    // Drop settled calls from the watch list as they come, so it stays as short as the calls in flight.
    const pending = this.#pending;
    while (this.#pendingHead < pending.length && pending[this.#pendingHead].done) {
      pending[this.#pendingHead++] = undefined as unknown as Job;
    }
    if (this.#pendingHead === pending.length) {
      pending.length = 0;
      this.#pendingHead = 0;
    } else if (this.#pendingHead >= 1024 && this.#pendingHead * 2 >= pending.length) {
      pending.splice(0, this.#pendingHead);
      this.#pendingHead = 0;
    }
    this.#active--;
    if (error === null) job.resolve(value);
    else job.reject(error);
    if (this.#active === 0 && this.#drained !== null) this.#drained();
  }

  #describe(target: string, method: string | null): string {
    const plugin = this.#plugins.get(target);
    return plugin === undefined ? name(target, method) : method === null ? plugin : `${plugin} ${method}`;
  }

  #timeout(job: Job, reason = `did not finish within ${this.#spec.timeoutMs} ms`): void {
    if (job.done) return;
    const error = new JsvmError("timeout", `JS call ${name(job.target, job.method)} ${reason}`);
    const worker = job.worker;
    // A worker that did not start this call in time is stuck on something (an earlier call's promise
    // jobs, say). Terminating it settles what it started and hands back the rest, this call among them.
    worker?.terminate(error);
    if (!job.done) {
      const at = this.#queue.indexOf(job, this.#queueHead);
      if (at !== -1) this.#queue.splice(at, 1);
      job.settle(error, "");
    }
    if (worker !== null) this.#lost(worker, error, true);
  }
}

/** `name (file)` for each call target the sources define (`javascript` aliases too), for the log. */
function pluginNames(sources: readonly PluginSource[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const source of sources) {
    for (const name of source.names) {
      out.set(name, `${name} (${source.file})`);
      out.set(handlerAlias(source.file, name), `${name} (${source.file})`);
    }
  }
  return out;
}

function name(target: string, method: string | null): string {
  return method === null ? target : `${target}.${method}`;
}

/**
 * Creates the sandbox pool of one API. No Worker starts until `load()` (or the first `call()`).
 * @example
 * const pool = createSandboxPool({ apiId, orgId, driver: "otto", sources, timeoutMs: 5000, size: 2, log });
 * const { issues } = await pool.load();
 * const out = await pool.call("myMw", "DoProcessRequest", [requestJson, sessionJson, specJson]);
 * await pool.close();
 * @throws {RangeError} when timeoutMs or size is not positive
 */
export function createSandboxPool(spec: SandboxSpec): SandboxPool {
  return new Pool(spec);
}
