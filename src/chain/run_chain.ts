/**
 * Walks an API's steps in order: the first step that answers (a Response or a GatewayError) ends the
 * chain; otherwise the last step, the proxy, answers. A plain indexed loop that awaits only promises.
 */
import type { RequestCtx, Step } from "./context.ts";
import { GatewayError, MESSAGES } from "./errors.ts";

/** The compiled chain of one API. */
export interface Chain {
  /** Steps before the proxy, in Tyk's order; steps an API does not need are absent. */
  steps: Step[];
  /** The last step; always answers. */
  proxy: (ctx: RequestCtx) => Promise<Response | GatewayError>;
}

/** Runs the chain; a step that throws becomes Tyk's 500, with the error kept as `cause` for the log. */
export async function runChain(chain: Chain, ctx: RequestCtx): Promise<Response | GatewayError> {
  try {
    const steps = chain.steps;
    for (let i = 0; i < steps.length; i++) {
      let out = steps[i](ctx);
      if (out instanceof Promise) out = await out;
      if (out !== undefined) return out;
    }
    return await chain.proxy(ctx);
  } catch (err) {
    return new GatewayError(500, MESSAGES.internal, { cause: err });
  }
}
