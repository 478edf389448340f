/**
 * Starts one sandbox thread: a `node:worker_threads` Worker with a heap limit, started by a launcher Worker
 * that may read nothing but the sandbox's code (see _launcher.ts), and talked to through a MessageChannel.
 * Its exit is reported, so the host knows when the thread is really gone, and why (`ERR_WORKER_OUT_OF_MEMORY`
 * when it reached its heap limit).
 */

import type { InitMessage, PrepareMessage, ToHost } from "../protocol.ts";
import { parserSource } from "./parser_source.ts";

/** What the host tells a launcher. */
export type LauncherMessage =
  | { type: "start"; url: string; port: MessagePort; memoryLimitMb: number }
  | { type: "stop" };

/** What a launcher tells the host about its sandbox. */
export type LauncherReport =
  | { type: "error"; code: string; message: string }
  | { type: "exit"; code: number };

/** How a sandbox thread ended. */
export interface ThreadExit {
  code: number;
  /** The error it ended with, if any (`code` is e.g. `ERR_WORKER_OUT_OF_MEMORY`). */
  error?: { code: string; message: string };
}

/** What the host hears from a sandbox thread. */
export interface SandboxThreadEvents {
  message(msg: ToHost): void;
  /** A message that could not be read. */
  messageError(): void;
  /** The launcher itself failed. */
  error(message: string): void;
  /** The sandbox thread ended, whatever the reason; called once. */
  exit(info: ThreadExit): void;
}

const SANDBOX_URL = new URL("../sandbox/worker.ts", import.meta.url);
const LAUNCHER_URL = new URL("./_launcher.ts", import.meta.url);

/** Folders the launcher may read: the sandbox's module graph (src/jsvm/ and the npm packages it imports). */
function sandboxCode(): string[] {
  const jsvm = new URL("../", import.meta.url);
  const underscore = import.meta.resolve("underscore");
  const at = underscore.indexOf("/node_modules/");
  const packages = at === -1 ? underscore : underscore.slice(0, at + "/node_modules/".length);
  return [jsvm, new URL(packages)].map((url) => decodeURIComponent(url.pathname));
}

/**
 * One sandbox thread and its launcher. Booting takes about half a second of waiting (Deno 2.9 starts a
 * `node:worker_threads` Worker that a Worker starts that slowly, though it uses little CPU meanwhile), so the
 * worker supply keeps some booted ahead (worker_supply.ts). A booting thread gets the `prepare` message at
 * once (nothing in it depends on an API); `start()` hands it one API's sources.
 */
export class SandboxThread {
  #launcher: Worker;
  #port: MessagePort;
  #events: SandboxThreadEvents | null = null;
  /** How the thread ended, once it has. */
  #exit: ThreadExit | null = null;

  /**
   * Boots a sandbox thread with a heap of at most `memoryLimitMb`; it waits for `start()`. `module` is the
   * sandbox's entry point; tests run other code under the same launcher.
   */
  constructor(readonly memoryLimitMb: number, module: URL = SANDBOX_URL) {
    this.#launcher = new Worker(LAUNCHER_URL, {
      type: "module",
      deno: {
        permissions: {
          read: sandboxCode(),
          write: false,
          net: false,
          env: false,
          run: false,
          ffi: false,
          sys: false,
          import: false,
        },
      },
    });
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    port1.onmessage = (event) => this.#events?.message(event.data as ToHost);
    port1.onmessageerror = () => this.#events?.messageError();
    let error: ThreadExit["error"];
    this.#launcher.onmessage = (event: MessageEvent<LauncherReport>) => {
      const report = event.data;
      if (report.type === "error") {
        error ??= { code: report.code, message: report.message };
        return;
      }
      this.#exit = error === undefined ? { code: report.code } : { code: report.code, error };
      port1.close();
      this.#launcher.terminate();
      this.#events?.exit(this.#exit);
    };
    this.#launcher.onerror = (event) => {
      event.preventDefault();
      this.#exit ??= { code: 1, error: { code: "", message: event.message } };
      this.#events?.error(event.message);
    };
    const start: LauncherMessage = { type: "start", url: module.href, port: port2, memoryLimitMb };
    this.#launcher.postMessage(start, [port2]);
    const prepare: PrepareMessage = { type: "prepare", id: 0, parserSource: parserSource() };
    port1.postMessage(prepare);
  }

  /** Hands the thread its sources and shared memory; `events` hears from it from now on. */
  start(init: InitMessage, events: SandboxThreadEvents): void {
    this.#events = events;
    if (this.#exit !== null) {
      queueMicrotask(() => events.exit(this.#exit!)); // it died while booting
      return;
    }
    this.#port.postMessage(init);
  }

  /** Whether the sandbox thread is known to have ended. */
  get exited(): boolean {
    return this.#exit !== null;
  }

  /**
   * Ends the thread from outside. A thread busy in JavaScript does not stop for this (Deno 2.9): the
   * sandbox's stop flag does that; this ends one that waits or sits in its event loop.
   */
  stop(): void {
    if (this.#exit !== null) return;
    const stop: LauncherMessage = { type: "stop" };
    this.#launcher.postMessage(stop);
  }
}
