/**
 * Walks an API's steps in order: the first step that answers (a Response or a GatewayError) ends the
 * chain; otherwise the last step, the proxy, answers. The proxy's response, and a step's `Forced` one, then
 * go through the response steps. A plain indexed loop that awaits only promises.
 */
import { Forced, type RequestCtx, type ResponseStep, type Step } from "./context.ts";
import { GatewayError, MESSAGES } from "./errors.ts";

/** The compiled chain of one API. */
export interface Chain {
  /** Steps before the proxy, in Tyk's order; steps an API does not need are absent. */
  steps: Step[];
  /** The last step; always answers. */
  proxy: (ctx: RequestCtx) => Promise<Response | GatewayError>;
  /**
   * Steps run on the proxy's response and on `Forced` ones, in order; empty when the API has none, so
   * responses stream through untouched.
   */
  response: ResponseStep[];
}

async function respond(
  steps: ResponseStep[],
  ctx: RequestCtx,
  response: Response,
): Promise<Response | GatewayError> {
  let out: Response | GatewayError = response;
  for (let i = 0; i < steps.length && out instanceof Response; i++) {
    const next = steps[i](ctx, out);
    out = next instanceof Promise ? await next : next;
  }
  return out;
}

/**
 * Runs the chain; a step that throws becomes Tyk's 500, with the error kept as `cause` for the log, unless
 * what it threw is a GatewayError.
 */
export async function runChain(chain: Chain, ctx: RequestCtx): Promise<Response | GatewayError> {
  try {
    const steps = chain.steps;
    for (let i = 0; i < steps.length; i++) {
      let out = steps[i](ctx);
      if (out instanceof Promise) out = await out;
      if (out === undefined) continue;
      if (out instanceof Forced) return await respond(chain.response, ctx, out.response);
      return out;
    }
    const out = await chain.proxy(ctx);
    return chain.response.length === 0 || out instanceof GatewayError
      ? out
      : await respond(chain.response, ctx, out);
  } catch (err) {
    // a step may throw the error the client is to get (readBody over the body limits)
    if (err instanceof GatewayError) return err;
    return new GatewayError(500, MESSAGES.internal, { cause: err });
  }
}
