/**
 * The host's end of one sandbox's shared memory (layout in `protocol.ts`): the control slots, the inbox and
 * outbox lanes and the host-call reply buffer, and the `Atomics` steps that move calls, outcomes and
 * replies through them. It knows nothing of call states; the worker handle decides what to send when.
 */
import {
  CONTROL,
  CONTROL_SLOTS,
  DATA_INITIAL_BYTES,
  DATA_MAX_BYTES,
  grownSize,
  IDLE_POLL,
  INBOX_LANE,
  inboxSlot,
  OUTBOX_LANE,
  outboxSlot,
  OUTCOME,
  PIPELINE_DEPTH,
} from "../protocol.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function growable(): SharedArrayBuffer {
  return new SharedArrayBuffer(DATA_INITIAL_BYTES, { maxByteLength: DATA_MAX_BYTES });
}

function lanes(): SharedArrayBuffer[] {
  return Array.from({ length: PIPELINE_DEPTH }, growable);
}

/**
 * Writes `text` into `buffer`, growing it first when it may not fit; the bytes written, or -1 when the
 * text cannot fit even at the largest size.
 */
function writeText(buffer: SharedArrayBuffer, text: string): number {
  const size = grownSize(buffer.byteLength, text.length);
  if (size > 0) buffer.grow(size);
  const { read, written } = encoder.encodeInto(text, new Uint8Array(buffer));
  return read < text.length ? -1 : written;
}

/** The shared buffers of one sandbox, as the host writes and reads them. */
export class SharedChannel {
  readonly control: Int32Array = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
  readonly inboxes: SharedArrayBuffer[] = lanes();
  readonly reply: SharedArrayBuffer = growable();
  readonly outboxes: SharedArrayBuffer[] = lanes();

  /** What the sandbox's thread does now, one of `SANDBOX_STATE` (`CONTROL.STATE`). */
  threadState(): number {
    return Atomics.load(this.control, CONTROL.STATE);
  }

  /** How many calls the sandbox has started (`CONTROL.TAKEN`). */
  taken(): number {
    return Atomics.load(this.control, CONTROL.TAKEN);
  }

  /** How many calls the sandbox has finished (`CONTROL.DONE`). */
  done(): number {
    return Atomics.load(this.control, CONTROL.DONE);
  }

  /**
   * Writes call number `k` into its inbox lane, marks calls up to it posted and rings the doorbell; false
   * when its payload cannot fit.
   */
  post(k: number, kind: number, id: number, payload: string): boolean {
    const control = this.control;
    const written = writeText(this.inboxes[k % PIPELINE_DEPTH], payload);
    if (written < 0) return false;
    Atomics.store(control, inboxSlot(k, INBOX_LANE.LENGTH), written);
    Atomics.store(control, inboxSlot(k, INBOX_LANE.KIND), kind);
    Atomics.store(control, inboxSlot(k, INBOX_LANE.ID), id);
    Atomics.store(control, CONTROL.POSTED, k + 1);
    this.ring();
    return true;
  }

  /** Takes back the calls from number `posted` on, which the sandbox has not started. */
  unpost(posted: number): void {
    Atomics.store(this.control, CONTROL.POSTED, posted);
  }

  /**
   * Bumps the doorbell the sandbox waits on, and wakes it if it sleeps. No wake-up is lost: the sandbox
   * sets `SLEEPING` before it waits for `SEQ` to move, and this reads `SLEEPING` after moving it, so
   * either the wait sees the new `SEQ` or this sees `SLEEPING`.
   */
  ring(): void {
    Atomics.add(this.control, CONTROL.SEQ, 1);
    this.notifySleeper();
  }

  /** Notifies a sandbox that sleeps and was not notified yet (see `CONTROL.SLEEPING`). */
  notifySleeper(): void {
    if (Atomics.compareExchange(this.control, CONTROL.SLEEPING, 1, 2) === 1) {
      Atomics.notify(this.control, CONTROL.SEQ);
    }
  }

  /** A promise that settles once `CONTROL.DONE` moves past `done`; `null` when it already has. */
  waitDone(done: number): Promise<unknown> | null {
    const wait = Atomics.waitAsync(this.control, CONTROL.DONE, done);
    return wait.async ? wait.value : null;
  }

  /** Polls for call `k`'s outcome for up to `IDLE_POLL.hostMicros`; true when it came. */
  pollDone(k: number): boolean {
    const control = this.control;
    const until = performance.now() + IDLE_POLL.hostMicros / 1000;
    for (let n = 1; Atomics.load(control, CONTROL.DONE) <= k; n++) {
      if ((n & 63) === 0 && performance.now() >= until) return false;
    }
    return true;
  }

  /** The id of the call whose outcome is in outbox slot `k`. */
  outcomeId(k: number): number {
    return Atomics.load(this.control, outboxSlot(k, OUTBOX_LANE.ID));
  }

  /** How many log messages call `k` sent before its outcome. */
  outcomeLogs(k: number): number {
    return Atomics.load(this.control, outboxSlot(k, OUTBOX_LANE.LOGS));
  }

  /** Call `k`'s outcome: its value as text, or a `CallFailure` as JSON text. */
  outcome(k: number): { failed: boolean; text: string } {
    const control = this.control;
    const length = Atomics.load(control, outboxSlot(k, OUTBOX_LANE.LENGTH));
    const text = decoder.decode(new Uint8Array(this.outboxes[k % PIPELINE_DEPTH], 0, length));
    return { failed: Atomics.load(control, outboxSlot(k, OUTBOX_LANE.KIND)) !== OUTCOME.VALUE, text };
  }

  /** Writes a host-call reply and wakes the sandbox; false when the text cannot fit. */
  writeReply(id: number, status: number, text: string): boolean {
    const written = writeText(this.reply, text);
    if (written < 0) return false;
    const control = this.control;
    Atomics.store(control, CONTROL.REPLY_LENGTH, written);
    Atomics.store(control, CONTROL.REPLY_STATUS, status);
    Atomics.store(control, CONTROL.REPLY_ID, id);
    Atomics.add(control, CONTROL.REPLY_SEQ, 1);
    this.ring();
    return true;
  }

  /**
   * Tells the sandbox to stop: the abort flag makes the plugin's loop and function ticks throw, and the
   * ring wakes it wherever it waits. `CONTROL.DONE` is moved past `posted`, a value no outcome will write,
   * which releases the host's own waiter. Returns how far the sandbox had got.
   */
  abort(posted: number): { done: number; started: number } {
    const control = this.control;
    // How far it got before it was told: an outcome it writes because of the stop ("JS execution
    // stopped") is not the call's.
    const done = Atomics.load(control, CONTROL.DONE);
    const started = Atomics.load(control, CONTROL.TAKEN);
    Atomics.store(control, CONTROL.ABORT, 1);
    this.ring();
    Atomics.notify(control, CONTROL.SEQ); // whatever it waits in
    Atomics.store(control, CONTROL.DONE, Math.max(done, posted) + 1);
    Atomics.notify(control, CONTROL.DONE);
    return { done, started };
  }
}
