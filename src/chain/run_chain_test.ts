import assert from "node:assert/strict";
import { testCtx } from "./_test_ctx.ts";
import { Forced, type RequestCtx, type ResponseStep, type Step } from "./context.ts";
import { GatewayError, MESSAGES } from "./errors.ts";
import { type Chain, runChain } from "./run_chain.ts";

/** A chain whose steps record their names in `seen`, with a proxy that answers "proxied". */
function chain(steps: Step[], response: ResponseStep[] = []): Chain & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    steps: steps.map((step, i) => (ctx: RequestCtx) => {
      seen.push(`step ${i}`);
      return step(ctx);
    }),
    proxy: () => {
      seen.push("proxy");
      return Promise.resolve(new Response("proxied"));
    },
    response,
  };
}

const ctx = () => testCtx("http://gw/a/x");

Deno.test("runChain() runs every step, sync and async, then the proxy", async () => {
  const c = chain([() => undefined, () => Promise.resolve(undefined), () => undefined]);
  const out = await runChain(c, ctx());
  assert.ok(out instanceof Response);
  assert.equal(await out.text(), "proxied");
  assert.deepEqual(c.seen, ["step 0", "step 1", "step 2", "proxy"]);
});

Deno.test("runChain() stops at the first step that answers, with a Response or a GatewayError", async () => {
  const denied = new GatewayError(403, MESSAGES.accessDisallowed);
  const byError = chain([() => undefined, () => Promise.resolve(denied), () => undefined]);
  assert.equal(await runChain(byError, ctx()), denied);
  assert.deepEqual(byError.seen, ["step 0", "step 1"]);

  const byResponse = chain([() => new Response("early", { status: 202 }), () => undefined]);
  const out = await runChain(byResponse, ctx());
  assert.ok(out instanceof Response);
  assert.equal(out.status, 202);
  assert.deepEqual(byResponse.seen, ["step 0"]);
});

Deno.test("runChain() turns a step that throws, sync or async, into Tyk's 500 with the error as cause", async () => {
  const boom = new Error("boom");
  for (
    const step of [
      () => {
        throw boom;
      },
      () => Promise.reject(boom),
    ] as Step[]
  ) {
    const c = chain([step, () => undefined]);
    const out = await runChain(c, ctx());
    assert.ok(out instanceof GatewayError);
    assert.equal(out.status, 500);
    assert.equal(out.message, MESSAGES.internal);
    assert.equal(out.cause, boom);
    assert.deepEqual(c.seen, ["step 0"]);
  }
});

Deno.test("runChain() passes the proxy's response and a Forced one through the response steps in order", async () => {
  const tag = (name: string): ResponseStep => async (_ctx, res) =>
    new Response(`${await res.text()}+${name}`, { status: res.status });
  const proxied = await runChain(chain([() => undefined], [tag("a"), tag("b")]), ctx());
  assert.ok(proxied instanceof Response);
  assert.equal(await proxied.text(), "proxied+a+b");

  const c = chain([() => new Forced(new Response("forced")), () => undefined], [tag("a")]);
  const forced = await runChain(c, ctx());
  assert.ok(forced instanceof Response);
  assert.equal(await forced.text(), "forced+a");
  assert.deepEqual(c.seen, ["step 0"]);
});

Deno.test("runChain() stops the response steps at an error and skips them for a proxy error", async () => {
  const failed = new GatewayError(500, MESSAGES.internal);
  let later = 0;
  const out = await runChain(chain([], [() => failed, (_c, res) => (later++, res)]), ctx());
  assert.equal(out, failed);
  assert.equal(later, 0);

  const upstreamDown = new GatewayError(502, "upstream down");
  const c: Chain = { steps: [], proxy: () => Promise.resolve(upstreamDown), response: [() => failed] };
  assert.equal(await runChain(c, ctx()), upstreamDown);
});
