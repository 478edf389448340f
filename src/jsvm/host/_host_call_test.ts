import assert from "node:assert/strict";
import { answerHostCall, type HostCallHandler } from "./_host_call.ts";

const call = { op: "TykGetKeyData" as const, args: ["key", "api"] };
const signal = new AbortController().signal;

Deno.test("answerHostCall() gives the handler's text, or undefined without a handler or a value", async () => {
  const seen: unknown[] = [];
  const handler: HostCallHandler = (op, args, s) => {
    seen.push(op, args, s);
    return Promise.resolve(`{"ok":true}`);
  };
  assert.deepEqual(await answerHostCall(handler, call, signal), { value: `{"ok":true}` });
  assert.deepEqual(seen, ["TykGetKeyData", ["key", "api"], signal]);
  assert.deepEqual(await answerHostCall(undefined, call, signal), { value: undefined });
  assert.deepEqual(await answerHostCall(() => Promise.resolve(undefined), call, signal), {
    value: undefined,
  });
  const number = (() => Promise.resolve(5)) as unknown as HostCallHandler; // JS handlers may return anything
  assert.deepEqual(await answerHostCall(number, call, signal), { value: "5" });
});

Deno.test("answerHostCall() turns a throw or a rejection into its message and never rejects", async () => {
  const throws: HostCallHandler = () => {
    throw new TypeError("bad key");
  };
  assert.deepEqual(await answerHostCall(throws, call, signal), { error: "bad key" });
  assert.deepEqual(await answerHostCall(() => Promise.reject(new Error("down")), call, signal), {
    error: "down",
  });
  assert.deepEqual(await answerHostCall(() => Promise.reject("plain text"), call, signal), {
    error: "plain text",
  });
});
