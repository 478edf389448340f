/**
 * A minimal stand-in for a sandbox, for `jsvm_call_bench.ts`: it parses the three JSON arguments of a
 * hook call and answers with a string, over either channel the benchmark compares.
 * - "message": the call arrives as a postMessage and is answered with one.
 * - "shared": the call is read from a SharedArrayBuffer after `Atomics.wait` and answered in another one,
 *   which the host watches with `Atomics.waitAsync` (the channel `src/jsvm` uses).
 */

type Scope = { postMessage(message: unknown): void; onmessage: ((event: MessageEvent) => void) | null };
const scope = globalThis as unknown as Scope;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

function answer(args: string[]): string {
  const request = JSON.parse(args[0]);
  JSON.parse(args[1]);
  JSON.parse(args[2]);
  return JSON.stringify({ Request: request, SessionMeta: {} });
}

scope.onmessage = (event) => {
  const msg = event.data;
  if (msg.type === "call") {
    scope.postMessage({ type: "result", id: msg.id, value: answer(msg.args) });
    return;
  }
  // "shared": from now on calls come through the buffers; this handler never returns.
  const control = new Int32Array(msg.control);
  const data = new Uint8Array(msg.data);
  const out = new Uint8Array(msg.out);
  let seq = 0;
  for (;;) {
    Atomics.wait(control, 0, seq);
    seq = Atomics.load(control, 0);
    const parts = decoder.decode(data.subarray(0, Atomics.load(control, 1))).split("\u0000");
    Atomics.store(control, 3, encoder.encodeInto(answer(parts.slice(2)), out).written);
    Atomics.add(control, 2, 1);
    Atomics.notify(control, 2);
  }
};
