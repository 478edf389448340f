/**
 * How many API requests the gateway is serving right now, in shared memory that every sandbox reads
 * (handed to each API's sandbox pool as its `load` gauge).
 *
 * An idle sandbox polls its inbox before it sleeps, because waking a sleeping thread takes longer than a
 * whole call. It polls long only while the gateway is nearly idle: then the core it burns is spare and
 * the next hook of the same request is answered at once. Under load the gateway's own thread needs that
 * core, and calls arrive often enough to find the sandbox awake anyway.
 */

const gauge = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));

/** The buffer sandboxes read the gauge from (slot 0). */
export const LOAD_GAUGE: SharedArrayBuffer = gauge.buffer as SharedArrayBuffer;

/** A request entered the gateway's chain. */
export function requestStarted(): void {
  Atomics.add(gauge, 0, 1);
}

/** That request left it. */
export function requestEnded(): void {
  Atomics.sub(gauge, 0, 1);
}
