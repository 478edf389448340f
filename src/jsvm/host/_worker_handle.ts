/**
 * One sandbox Worker as the host sees it: a small state machine (`starting` → `idle` ⇄ `busy` → `dead`).
 * A busy worker takes up to `PIPELINE_DEPTH` calls, run in order. `terminate()` twice is harmless, a reply
 * for a call that is no longer current is dropped, a dead worker's started calls and load are rejected
 * (calls it never started go back to the pool), and an `error`/`messageerror` event kills it ("crashed").
 * The only thread for plugin code is started in `SandboxThread` (_sandbox_thread.ts).
 */

import type { Logger } from "../../log.ts";
import {
  type HostCallOp,
  IDLE_POLL,
  type InitMessage,
  type LoadIssue,
  PIPELINE_DEPTH,
  REPLY,
  SANDBOX_STATE,
  type ToHost,
  unhandled,
} from "../protocol.ts";
import { answerHostCall, type HostCallHandler } from "./_host_call.ts";
import { failureError, JsvmError, type JsvmErrorKind } from "./jsvm_error.ts";
import { SandboxThread, type ThreadExit } from "./_sandbox_thread.ts";
import { SharedChannel } from "./_shared_channel.ts";
import { STUCK_MS, StuckReport } from "./_stuck_report.ts";

/** A call as a worker runs it; `settle` is called exactly once, unless the worker hands it back unstarted. */
export interface WorkerJob {
  id: number;
  /** One of `INBOX`: what the sandbox builds the arguments from and answers with. */
  kind: number;
  /** Target, method and JSON arguments joined by `PART_SEPARATOR`. */
  payload: string;
  /** What the call runs, for the log: `target` or `target.method`. */
  target: string;
  method: string | null;
  /** `performance.now()` after which the call times out. */
  deadline: number;
  settle(error: JsvmError | null, value: string): void;
}

/** A call posted to the worker and not settled yet. */
interface Posted {
  job: WorkerJob;
  /** `log` messages received for it so far. */
  logs: number;
}

/** How to start a sandbox. */
export interface WorkerHandleOptions {
  init: Omit<InitMessage, "type" | "id" | "control" | "inboxes" | "reply" | "outboxes" | "load">;
  /** Longest time one source may take to evaluate before the worker is killed. */
  loadTimeoutMs: number;
  /** The booted thread to run it on (see `SandboxThread`; the pool takes it from its `WorkerSupply`). */
  thread: SandboxThread;
  /** Slot 0 counts the requests the gateway serves now; see `IDLE_POLL`. */
  load: SharedArrayBuffer;
  hostCalls?: HostCallHandler;
  log: Logger;
  /** The worker can take calls again (it loaded, or calls it held were settled or handed back). */
  onFree(worker: WorkerHandle): void;
  /**
   * Calls the worker was given but never started, oldest first, handed back to run elsewhere: it died, or
   * it is blocked in a host call, which may take long.
   */
  onHandBack(jobs: WorkerJob[]): void;
  /** The worker died on its own (error event, bad message); not called for `terminate()`. */
  onCrash(worker: WorkerHandle, error: JsvmError): void;
  /** Names the plugin behind a call target for the log, e.g. `authMw (plugins/auth.js)`. */
  describe(target: string, method: string | null): string;
}

/** Longest time a Worker may take to boot (before its first source starts). */
const BOOT_TIMEOUT_MS = 30_000;

/** A Worker running one API's sandbox. */
export class WorkerHandle {
  #thread: SandboxThread;
  #options: WorkerHandleOptions;
  #load: Int32Array;
  #state: "starting" | "idle" | "busy" | "dead" = "starting";
  #channel = new SharedChannel();
  /** Posted calls not settled yet, in call order; `#jobs[i]` is the worker's call number `#first + i`. */
  #jobs: Posted[] = [];
  #first = 0;
  /** Whether an `Atomics.waitAsync` on `CONTROL.DONE` is pending. */
  #watching = false;
  /** The oldest call's outcome is in but waits for its log messages. */
  #outcomeWaiting = false;
  /** A host call is being served: the sandbox is blocked until its reply. */
  #inHostCall = false;
  #abort: AbortController | null = null;
  #loadTimer: ReturnType<typeof setTimeout> | undefined;
  #loadingFile = "";
  #started = false;
  #idleSince = 0;
  #loaded: PromiseWithResolvers<LoadIssue[]> = Promise.withResolvers();
  /** Whether the sandbox has posted anything yet (before that, its thread runs none of the plugin's code). */
  #booted = false;
  /** Its thread is known to be gone (it crashed). */
  #exited = false;
  /** The deadline of the last call it answered: promise jobs of that call may run until then. */
  #lastDeadline = 0;
  #lastCall = "";
  /** When it was stopped and what it ran then, for the watchdog while its thread may still be busy. */
  #stuck: StuckReport;

  /** Resolves with the load issues once every source is evaluated; rejects if the worker dies first. */
  readonly loaded: Promise<LoadIssue[]> = this.#loaded.promise;

  constructor(options: WorkerHandleOptions) {
    this.#options = options;
    this.#load = new Int32Array(options.load);
    this.#stuck = new StuckReport(options.log, options.init.apiId);
    this.loaded.catch(() => {}); // the pool reads it; never an unhandled rejection
    const msg: InitMessage = {
      ...options.init,
      type: "init",
      id: 0,
      control: this.#channel.control.buffer as SharedArrayBuffer,
      inboxes: this.#channel.inboxes,
      reply: this.#channel.reply,
      outboxes: this.#channel.outboxes,
      load: options.load,
    };
    this.#thread = options.thread;
    this.#thread.start(msg, {
      message: (message) => this.#receive(message),
      messageError: () => this.#crash("JS sandbox sent a message that cannot be read"),
      error: (message) => this.#crash(`JS sandbox crashed: ${message}`),
      exit: (info) => this.#ended(info),
    });
    this.#armLoadTimer(BOOT_TIMEOUT_MS);
  }

  /** `starting`, `idle`, `busy` or `dead`. */
  get state(): "starting" | "idle" | "busy" | "dead" {
    return this.#state;
  }

  /** `performance.now()` when the worker last became idle (it loaded, or settled its last call). */
  get idleSince(): number {
    return this.#idleSince;
  }

  /** Whether every source was evaluated (the worker served or could serve calls). */
  get started(): boolean {
    return this.#started;
  }

  /** Whether the worker takes another call now: loaded, alive, not full and not blocked in a host call. */
  get canTake(): boolean {
    return (this.#state === "idle" || this.#state === "busy") && this.#jobs.length < PIPELINE_DEPTH &&
      !this.#inHostCall;
  }

  /** Calls given to this worker and not settled yet. */
  get held(): number {
    return this.#jobs.length;
  }

  /** Posts a call; `canTake` must be true. It runs after the calls the worker already holds. */
  run(job: WorkerJob): void {
    if (!this.canTake) throw new Error(`Cannot run a JS call: the sandbox is ${this.#state} and full`);
    const k = this.#first + this.#jobs.length;
    if (!this.#channel.post(k, job.kind, job.id, job.payload)) {
      job.settle(
        new JsvmError("threw", `Cannot call JS: ${job.payload.length} characters of arguments do not fit`),
        "",
      );
      return;
    }
    this.#jobs.push({ job, logs: 0 });
    this.#state = "busy";
    if (this.#jobs.length > 1) return; // the pending waiter covers this call too
    // A quiet gateway's thread has nothing else to do meanwhile, and a hook answered within the poll skips
    // the event loop's wake-up, which costs more than the hook.
    if (this.#load[0] <= IDLE_POLL.quietLoad && this.#channel.pollDone(k)) {
      queueMicrotask(this.#onOutcome); // not inline: settling starts the next queued call, which would nest
      return;
    }
    this.#watch();
  }

  /** Waits asynchronously for the next outcome, unless a waiter is pending. */
  #watch(): void {
    if (this.#watching) return;
    const done = this.#channel.done();
    const wait = done > this.#first ? null : this.#channel.waitDone(done);
    if (wait === null) {
      queueMicrotask(this.#onOutcome);
      return;
    }
    this.#watching = true;
    wait.then(this.#onWatched);
  }

  #onWatched = (): void => {
    this.#watching = false;
    this.#onOutcome();
  };

  /** Outcomes came (or the host released its own waiter): settle the calls they belong to, in order. */
  #onOutcome = (): void => {
    const channel = this.#channel;
    const jobs = this.#jobs;
    let settled = false;
    this.#outcomeWaiting = false;
    while (this.#state === "busy" && jobs.length > 0 && channel.done() > this.#first) {
      const k = this.#first;
      const { job, logs } = jobs[0];
      if (channel.outcomeId(k) !== job.id) {
        this.#crash("JS sandbox answered for a call it was not running");
        return;
      }
      // The call's log messages travel by postMessage, slower than the outbox: settle once they are in.
      this.#outcomeWaiting = logs < channel.outcomeLogs(k);
      if (this.#outcomeWaiting) break; // the log handler comes back here
      jobs.shift();
      this.#first++;
      settled = true;
      this.#settleFrom(k, job);
    }
    if (this.#state !== "busy") return;
    if (jobs.length === 0) {
      this.#state = "idle";
      this.#idleSince = performance.now();
    } else if (!this.#outcomeWaiting) this.#watch();
    if (settled) this.#options.onFree(this);
  };

  /** Settles `job` from the outcome of call `k`. */
  #settleFrom(k: number, job: WorkerJob): void {
    this.#lastDeadline = job.deadline;
    this.#lastCall = this.#options.describe(job.target, job.method);
    const { failed, text } = this.#channel.outcome(k);
    if (failed) job.settle(failureError(text), "");
    else job.settle(null, text);
  }

  /** Wakes an idle worker that sleeps, so it polls for the call about to come. */
  wake(): void {
    if (this.#state === "idle") this.#channel.notifySleeper();
  }

  /**
   * Stops the worker. Calls it finished are settled with their outcomes, calls it started with `reason`,
   * calls it never started are handed back; an unfinished load is rejected with `reason`. Safe to repeat.
   */
  terminate(reason: JsvmError): void {
    if (this.#state === "dead") return;
    const wasStarting = this.#state === "starting";
    this.#state = "dead";
    this.#stuck.stopped(performance.now(), this.#running(wasStarting));
    // terminate() does not stop a Worker busy in JavaScript (denoland/deno#35657): the abort flag makes the
    // plugin's ticks throw, and the sandbox closes itself.
    const { done, started } = this.#channel.abort(this.#first + this.#jobs.length);
    // A sandbox between two tasks would die at once, and with it the word that it closed: let a busy one
    // close itself, and the watchdog ends the Worker once it has (see check()).
    if (!this.#booted || this.#channel.threadState() === SANDBOX_STATE.IDLE) this.#thread.stop();
    clearTimeout(this.#loadTimer);
    this.#abort?.abort(reason);
    this.#abort = null;
    if (wasStarting) this.#loaded.reject(reason);
    const jobs = this.#jobs;
    this.#jobs = [];
    const unstarted: WorkerJob[] = [];
    for (let i = 0; i < jobs.length; i++) {
      const k = this.#first + i;
      if (k < done && this.#channel.outcomeId(k) === jobs[i].job.id) {
        this.#settleFrom(k, jobs[i].job);
      } else if (k < started) jobs[i].job.settle(reason, "");
      else unstarted.push(jobs[i].job);
    }
    if (unstarted.length > 0) this.#options.onHandBack(unstarted);
  }

  /**
   * The sandbox thread ended. After it closed itself on the stop flag that is the plan; otherwise it died:
   * it reached its heap limit, or something failed in it. Either way only this worker goes, and the call it
   * ran fails as a crash.
   */
  #ended(info: ThreadExit): void {
    // A worker the pool stopped (closed, idle, replaced) may end before it saw its stop flag: that is the plan
    // too, unless it says it ran out of memory
    if (
      this.#state === "dead" &&
      (this.#channel.threadState() === SANDBOX_STATE.CLOSED ||
        info.error?.code !== "ERR_WORKER_OUT_OF_MEMORY")
    ) return;
    const { log, init } = this.#options;
    const memoryLimitMb = this.#thread.memoryLimitMb;
    const plugin = this.#state === "dead" ? this.#stuck.culprit : this.#running(this.#state === "starting");
    const outOfMemory = info.error?.code === "ERR_WORKER_OUT_OF_MEMORY" || info.error === undefined;
    const message = outOfMemory
      ? `JS sandbox ran out of memory (jsvm_memory_limit_mb is ${memoryLimitMb})`
      : `JS sandbox thread ended: ${info.error!.message}`;
    log.error(message, { api_id: init.apiId, plugin, exit_code: info.code });
    this.#crash(message);
  }

  #crash(message: string, kind: JsvmErrorKind = "crashed"): void {
    if (this.#state === "dead") return;
    const error = new JsvmError(kind, message);
    this.terminate(error);
    if (kind === "crashed") this.#exited = true;
    this.#options.onCrash(this, error);
  }

  /** What the sandbox runs now, for the log: the file it loads, the call it runs, or the call it answered last. */
  #running(starting: boolean): string {
    if (starting) return this.#loadingFile === "" ? "loading" : `loading ${this.#loadingFile}`;
    if (this.#channel.taken() > this.#first && this.#jobs.length > 0) {
      return this.#options.describe(this.#jobs[0].job.target, this.#jobs[0].job.method);
    }
    return this.#lastCall;
  }

  /**
   * The pool's watchdog: reports a thread still busy `STUCK_MS` after it was stopped (it runs code the
   * timeout guard cannot interrupt, a long built-in call), and again once it is gone; stops a live
   * sandbox whose promise jobs still run `STUCK_MS` past the deadline of the call that left them.
   * Returns whether there is anything left to watch.
   */
  check(now: number): boolean {
    const thread = this.#channel.threadState();
    if (this.#state !== "dead") {
      if (thread !== SANDBOX_STATE.AFTER || this.#lastDeadline === 0) return false;
      if (now < this.#lastDeadline + STUCK_MS) return true;
      this.#crash(`JS sandbox still runs promise jobs of ${this.#lastCall} past its deadline`, "timeout");
      this.#stuck.stoppedSince(this.#lastDeadline);
    }
    if (thread === SANDBOX_STATE.CLOSED || this.#exited || this.#thread.exited || !this.#booted) {
      this.#thread.stop();
      this.#stuck.gone(now);
      return false;
    }
    this.#stuck.busy(now);
    return true;
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

  /** Writes a host-call reply and wakes the sandbox; false when the text cannot fit. */
  #reply(id: number, status: number, text: string): boolean {
    if (!this.#channel.writeReply(id, status, text)) return false;
    if (this.#inHostCall) {
      this.#inHostCall = false;
      this.#options.onFree(this);
    }
    return true;
  }

  #receive(msg: ToHost): void {
    this.#booted = true;
    if (this.#state === "dead") return;
    try {
      this.#handle(msg);
    } catch (error) {
      this.#crash(`JS sandbox sent a bad message: ${(error as Error).message}`);
    }
  }

  /** Where call `id` sits among the calls the worker holds (-1 when it holds no such call). */
  #indexOf(id: number): number {
    if (this.#state !== "busy") return -1;
    return this.#jobs.findIndex((posted) => posted.job.id === id);
  }

  /** Whether `id` names something the worker does now (a call, or 0 while loading). */
  #current(id: number): boolean {
    return this.#state === "starting" ? id === 0 : this.#indexOf(id) !== -1;
  }

  #handle(msg: ToHost): void {
    switch (msg.type) {
      case "loading":
        if (this.#state !== "starting") return;
        this.#loadingFile = msg.file;
        this.#armLoadTimer(this.#options.loadTimeoutMs);
        return;
      case "loaded": {
        if (this.#state !== "starting") return;
        const kept = Object.keys(msg.permissions).filter((name) => msg.permissions[name] === "granted");
        if (kept.length > 0) {
          this.#crash(`JS sandbox did not give up its permissions: ${kept.join(", ")}`);
          return;
        }
        clearTimeout(this.#loadTimer);
        this.#state = "idle";
        this.#idleSince = performance.now();
        this.#started = true;
        this.#loadingFile = "";
        this.#abort = null;
        this.#loaded.resolve(msg.issues);
        this.#options.onFree(this);
        return;
      }
      case "hostCall":
        if (!this.#current(msg.id)) return;
        if (msg.id !== 0) this.#blockedIn(this.#indexOf(msg.id));
        this.#serveHostCall(msg.id, msg.op, msg.args);
        return;
      case "log": {
        const { log, init } = this.#options;
        if (msg.level === "raw") log.raw(msg.text);
        else log[msg.level](msg.text, { api_id: init.apiId, type: "log-msg" });
        const at = msg.id === 0 ? -1 : this.#indexOf(msg.id);
        if (at !== -1) {
          this.#jobs[at].logs++;
          if (this.#outcomeWaiting) this.#onOutcome();
        }
        return;
      }
      default:
        unhandled(msg);
    }
  }

  /**
   * The call at `at` waits for a host call, which may take long (an HTTP request): hand the calls queued
   * behind it back to the pool. The sandbox cannot start them meanwhile, so taking them back is safe.
   */
  #blockedIn(at: number): void {
    this.#inHostCall = true;
    const behind = this.#jobs.splice(at + 1);
    if (behind.length === 0) return;
    this.#channel.unpost(this.#first + this.#jobs.length);
    this.#options.onHandBack(behind.map((posted) => posted.job));
  }

  #serveHostCall(id: number, op: HostCallOp, args: string[]): void {
    const abort = this.#abort ??= new AbortController();
    answerHostCall(this.#options.hostCalls, { op, args }, abort.signal).then((answer) => {
      if (!this.#current(id)) return; // timed out or dead: the sandbox is not waiting any more
      if ("error" in answer) {
        const { log, init } = this.#options;
        log.error(`JS host call ${op} failed: ${answer.error}`, { api_id: init.apiId });
        this.#reply(id, REPLY.ERROR, answer.error);
      } else if (answer.value === undefined) this.#reply(id, REPLY.UNDEFINED, "");
      else if (!this.#reply(id, REPLY.VALUE, answer.value)) {
        this.#reply(id, REPLY.ERROR, `${op} returned more than the sandbox can take`);
      }
    });
  }
}
