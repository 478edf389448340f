/** Sandbox pool tests: a pool that always closes, Tyk-shaped inputs, marks a plugin reaches. */

import assert from "node:assert/strict";
import { captureLog } from "../../src/capture_log.ts";
import { waitUntil } from "./wait_until.ts";
import {
  createSandboxPool,
  type HostCallHandler,
  JsvmError,
  type PluginSource,
  type SandboxPool,
  type SandboxSpec,
} from "../../src/jsvm/host/sandbox_pool.ts";
import { createWorkerSupply } from "../../src/jsvm/host/worker_supply.ts";
import { base64, base64Text } from "./base64.ts";

/**
 * The supply `withPool` pools take their threads from, as a gateway's APIs do: a worker that replaces a
 * stopped one finds a thread booted, however busy the machine.
 */
export const testSupply = createWorkerSupply();

/** A middleware source. */
export function mw(file: string, code: string, names = ["myMw"]): PluginSource {
  return { file, code, names, kind: "middleware" };
}

/** Runs `fn` with a pool and always closes it. */
export async function withPool(
  spec: Partial<SandboxSpec> & { sources: PluginSource[] },
  fn: (pool: SandboxPool, captured: ReturnType<typeof captureLog>) => Promise<void>,
): Promise<void> {
  const captured = captureLog();
  const pool = createSandboxPool({
    apiId: "api-1",
    orgId: "org-1",
    driver: "otto",
    // generous: a test about time outs sets its own
    timeoutMs: 10_000,
    size: 1,
    log: captured,
    supply: testSupply,
    ...spec,
  });
  try {
    await fn(pool, captured);
  } finally {
    await pool.close();
  }
}

/**
 * Marks a test can wait for: plugin code calls `TykStorageGet("<mark>")` (at load, before a loop, …) and the
 * test awaits `reached(mark)` instead of sleeping. `"loaded"` at the top of a source counts started workers.
 */
export function hostMarks(): {
  hostCalls: HostCallHandler;
  count(mark: string): number;
  reached(mark: string, times?: number): Promise<void>;
} {
  const counts = new Map<string, number>();
  const count = (mark: string) => counts.get(mark) ?? 0;
  return {
    hostCalls: (_op, args) => {
      counts.set(args[0], count(args[0]) + 1);
      return Promise.resolve(undefined);
    },
    count,
    reached: (mark, times = 1) =>
      waitUntil(() => count(mark) >= times, `the sandbox reached "${mark}" ${times}×`),
  };
}

/** A request object as Tyk passes it to `DoProcessRequest`. */
export function requestJson(body: string): string {
  return JSON.stringify({
    Headers: { "Content-Type": ["text/plain"] },
    SetHeaders: {},
    DeleteHeaders: [],
    Body: base64(body),
    URL: "/get",
    Params: {},
    AddParams: {},
    ExtendedParams: {},
    DeleteParams: [],
    ReturnOverrides: { ResponseCode: 0, ResponseError: "", ResponseBody: "", ResponseHeaders: null },
    IgnoreBody: false,
    Method: "GET",
    RequestURI: "/get",
    Scheme: "http",
  });
}

/** Calls `name.DoProcessRequest` and decodes the envelope the bootstrap returns (body as text). */
export async function processRequest(
  pool: SandboxPool,
  session: string,
  spec: string,
  name: string,
  body = "",
) {
  const out = await pool.call(name, "DoProcessRequest", [requestJson(body), session, spec]);
  const parsed = JSON.parse(out);
  parsed.Request.Body = base64Text(parsed.Request.Body);
  return parsed;
}

/** The JsvmError a promise rejects with. */
export async function rejection(promise: Promise<unknown>): Promise<JsvmError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof JsvmError, `expected a JsvmError, got ${error}`);
    return error;
  }
  assert.fail("expected the call to fail");
}
