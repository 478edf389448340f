/**
 * `TykFetch(request)`: `TykMakeHttpRequest` for plugins written as async functions (driver
 * `javascript`), which Tyk does not have. It takes the same request (an object, or its JSON text) and
 * resolves with the object `TykMakeHttpRequest`'s text holds (`Code`, `Body`, `Headers` and their
 * lower-case twins); a failed request rejects. The requests a plugin starts before it awaits go to the
 * host together and run side by side; each call of the plugin is still bounded by `jsvm_timeout`.
 *
 * @example
 * var mw = new TykJS.TykMiddleware.NewMiddleware({});
 * mw.NewProcessRequest(async function (request, session, spec) {
 *   const [a, b] = await Promise.all([
 *     TykFetch({ Method: "GET", Domain: "http://users", Resource: "/me" }),
 *     TykFetch({ Method: "GET", Domain: "http://orders", Resource: "/recent" }),
 *   ]);
 *   request.SetHeaders["X-User"] = JSON.parse(a.Body).id;
 *   return mw.ReturnData(request, {});
 * });
 */
import { REPLY } from "../protocol.ts";
import {
  append,
  JSONParse,
  JSONStringify,
  PromisePrototypeThen,
  PromiseResolve,
  SafeError,
  SafePromise,
} from "./_primordials.ts";

interface Waiting {
  request: unknown;
  resolve(value: unknown): void;
  reject(reason: unknown): void;
}

type Outcome = { value: unknown } | { error: string };

/** The one thing `TykFetch` needs from the sandbox: its synchronous host call (the bootstrap's runtime). */
interface FetchHost {
  hostCall(op: "TykFetch", args: string[]): { status: number; value: string } | undefined;
}

/** Builds the sandbox's `TykFetch`. */
export function createTykFetch(runtime: FetchHost): (request: unknown) => Promise<unknown> {
  let waiting: Waiting[] = [];

  /** Sends every request started since the last flush in one host call and settles their promises. */
  function flush(): void {
    const batch = waiting;
    waiting = [];
    const requests: unknown[] = [];
    for (let i = 0; i < batch.length; i++) append(requests, batch[i].request);
    const reply = runtime.hostCall("TykFetch", [JSONStringify(requests)]);
    let outcomes: Outcome[] | null = null;
    let failure = "TykFetch is not available here";
    if (reply?.status === REPLY.ERROR) failure = reply.value;
    else if (reply?.status === REPLY.VALUE) outcomes = JSONParse(reply.value) as Outcome[];
    for (let i = 0; i < batch.length; i++) {
      const outcome = outcomes?.[i];
      if (outcome !== undefined && "value" in outcome) batch[i].resolve(outcome.value);
      else batch[i].reject(new SafeError(`TykFetch failed: ${outcome?.error ?? failure}`));
    }
  }

  return function TykFetch(request: unknown): Promise<unknown> {
    let spec: unknown;
    try {
      spec = typeof request === "string" ? JSONParse(request) : JSONParse(JSONStringify(request) ?? "null");
    } catch (error) {
      return new SafePromise((_, reject) => reject(error));
    }
    return new SafePromise((resolve, reject) => {
      append(waiting, { request: spec, resolve, reject });
      // the first request of a batch schedules the flush; those started before it runs join it
      if (waiting.length === 1) PromisePrototypeThen(PromiseResolve(undefined), flush);
    });
  };
}
