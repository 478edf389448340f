import assert from "node:assert/strict";
import { BODY_TOO_LARGE, BodyBudget, type BodyHold } from "./body_budget.ts";
import { GatewayError } from "./errors.ts";

/** A body of the given chunks that counts how many were pulled. */
function stream(...sizes: number[]) {
  const pulled = { chunks: 0 };
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i === sizes.length) return controller.close();
      pulled.chunks++;
      controller.enqueue(new Uint8Array(sizes[i]).fill(i + 1));
      i++;
    },
  });
  return { body, pulled };
}

async function rejection(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error("expected a GatewayError");
}

Deno.test("buffer() joins the chunks and holds their bytes until release()", async () => {
  const budget = new BodyBudget({ maxBodySize: 100, maxTotalSize: 100 });
  const hold: BodyHold = { bytes: 0 };
  const bytes = await budget.buffer(stream(3, 2).body, null, hold);
  assert.deepEqual([...bytes], [1, 1, 1, 2, 2]);
  assert.equal(hold.bytes, 5);
  assert.equal(budget.inUse, 5);
  budget.release(hold);
  assert.equal(budget.inUse, 0);
  assert.equal(hold.bytes, 0);
});

Deno.test("buffer() refuses a declared length over maxBodySize with Tyk's plain 413, before reading", async () => {
  const budget = new BodyBudget({ maxBodySize: 10, maxTotalSize: 100 });
  const { body, pulled } = stream(20);
  const hold = { bytes: 0 };
  const err = await rejection(budget.buffer(body, 20, hold));
  assert.equal(err, BODY_TOO_LARGE);
  assert.equal(err.status, 413);
  assert.equal(err.plain, true);
  assert.equal(pulled.chunks, 0);
  assert.equal(budget.inUse, 0);
});

Deno.test("buffer() refuses a body without Content-Length once it grows past maxBodySize", async () => {
  const budget = new BodyBudget({ maxBodySize: 10, maxTotalSize: 100 });
  const hold = { bytes: 0 };
  assert.equal((await rejection(budget.buffer(stream(6, 6, 6).body, null, hold))).status, 413);
  assert.equal(hold.bytes, 6, "the chunk that crossed the limit is not held");
  budget.release(hold);
  assert.equal(budget.inUse, 0);
});

Deno.test("buffer() answers 503 when the bodies held across requests would pass maxTotalSize", async () => {
  const budget = new BodyBudget({ maxBodySize: 80, maxTotalSize: 100 });
  const first = { bytes: 0 };
  await budget.buffer(stream(60).body, 60, first);
  const second = { bytes: 0 };
  const { body, pulled } = stream(50);
  const err = await rejection(budget.buffer(body, 50, second));
  assert.equal(err.status, 503);
  assert.equal(pulled.chunks, 0, "a declared body that cannot fit is not read");
  // without a declared length the hold grows per chunk, and what was held stays until release()
  const third = { bytes: 0 };
  assert.equal((await rejection(budget.buffer(stream(30, 30).body, null, third))).status, 503);
  assert.equal(third.bytes, 30);
  budget.release(third);
  budget.release(first);
  assert.equal(budget.inUse, 0);
  await budget.buffer(stream(50).body, 50, second);
  assert.equal(budget.inUse, 50, "room again once the others were released");
  budget.release(second);
});

Deno.test("new BodyBudget() rejects a limit of 0", () => {
  assert.throws(
    () => new BodyBudget({ maxBodySize: 0, maxTotalSize: 1 }),
    /maxBodySize must be above 0, got 0/,
  );
});
