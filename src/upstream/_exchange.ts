/**
 * One request's state while it waits for its answer, for the upstream client: what stops it (its timeout,
 * its client leaving) and what must be undone then. One object instead of a closure per timer and listener.
 */
import type { Connection } from "./connection.ts";
import type { Deadline, DeadlineQueue, Expiring } from "./deadlines.ts";
import { UpstreamError } from "./upstream_error.ts";

/** What an exchange is started with. */
export interface ExchangeOptions {
  /** The response-head deadline's queue. */
  deadline?: DeadlineQueue;
  /** The client's signal, or a function read only when the watch queue's deadline passes. */
  signal?: AbortSignal | (() => AbortSignal);
}

/** A request waiting for its answer. */
export class Exchange implements Expiring, EventListenerObject {
  failure: UpstreamError | null = null;
  conn: Connection | null = null;
  connecting: PromiseWithResolvers<never> | null = null;
  #timeout: Deadline | null;
  #watch: Deadline | null = null;
  #source: ExchangeOptions["signal"];
  #signal: AbortSignal | null = null;

  /**
   * @param request its deadline and signal
   * @param watchQueue the queue whose deadline starts watching a lazy signal
   */
  constructor(request: ExchangeOptions, watchQueue: DeadlineQueue) {
    this.#timeout = request.deadline?.start(this) ?? null;
    this.#source = request.signal;
    if (typeof this.#source === "function") this.#watch = watchQueue.start(this);
    else if (this.#source) this.#listen(this.#source);
  }

  #listen(signal: AbortSignal): void {
    if (signal.aborted) return this.handleEvent();
    this.#signal = signal;
    signal.addEventListener("abort", this);
  }

  /** The client went away. */
  handleEvent(): void {
    this.stop(new UpstreamError("aborted", "Client closed request"));
  }

  onDeadline(queue: DeadlineQueue): void {
    if (queue === this.#timeout?.queue) {
      this.stop(new UpstreamError("timeout", "No response headers before the proxy timeout"));
    } else if (typeof this.#source === "function") {
      this.#watch = null;
      this.#listen(this.#source());
    }
  }

  stop(err: UpstreamError): void {
    if (this.failure !== null) return;
    this.failure = err;
    this.conn?.close();
    this.connecting?.reject(err);
  }

  /** The head arrived or the request failed: nothing may stop it any more. */
  end(): void {
    this.#timeout?.cancel();
    this.#watch?.cancel();
    this.#signal?.removeEventListener("abort", this);
  }
}
