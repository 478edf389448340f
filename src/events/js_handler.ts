/**
 * Tyk's `eh_dynamic_handler`: a JS event handler written with `TykJS.TykEventHandlers.NewEventHandler`
 * and `NewHandler(function (event, context) {...})`, called as `<name>.DoProcessEvent(event, context)`.
 *
 * Tyk runs every API's handler files in one gateway-wide VM with no timeout, where globals persist from
 * event to event. Here each API's handler (file and name) gets a sandbox of its own, with the permissions
 * and `jsvm_timeout` of plugins: globals still persist from event to event, but a handler that throws or
 * loops cannot touch another handler, another API or the request that raised the event (the bus calls
 * handlers after the request is answered). The host API (`TykMakeHttpRequest`, …) works, as in Tyk's VM.
 */
import { resolve } from "node:path";
import {
  createSandboxPool,
  type HostCallHandler,
  JsvmError,
  type SandboxPool,
} from "../jsvm/host/sandbox_pool.ts";
import type { WorkerSupply } from "../jsvm/host/worker_supply.ts";
import type { Logger } from "../log.ts";
import type { EventHandler } from "./bus.ts";
import type { EventMessage } from "./event.ts";

/** What an API's JS event handlers run with, resolved once per API load. */
export interface JsEventSettings {
  apiId: string;
  orgId: string;
  /** `enable_jsvm`: without it a JS handler cannot be created. */
  enableJsvm: boolean;
  /** `jsvm_timeout` in ms, per event (and per source while loading). */
  timeoutMs: number;
  /** Relative `handler_meta.path` files resolve against this folder (the tyk.conf folder). */
  baseDir: string;
  /** The `tyk_js_path` library, evaluated before the handler file. */
  userLibrary?: { file: string; code: string };
  /** Serves the handlers' synchronous host calls. */
  hostCalls?: HostCallHandler;
  /** `jsvm_memory_limit_mb`: each handler sandbox's heap limit. @default 512 */
  memoryLimitMb?: number;
  /** Where handler sandboxes get their threads (some kept booted ahead). */
  workers?: WorkerSupply;
  /** The gateway's load gauge (see `SandboxSpec.load`). */
  load?: SharedArrayBuffer;
  log: Logger;
  /** Sandboxes by file and name, shared by the API's entries for the same handler, as Tyk's one VM. */
  sandboxes: Map<string, SandboxPool>;
}

/** Events a handler's sandbox may hold at once; more are dropped (and logged) rather than queued forever. */
const MAX_PENDING = 100;
const NAME =
  /^[\p{ID_Start}$_][\p{ID_Continue}$\u200C\u200D]*(?:\.[\p{ID_Start}$_][\p{ID_Continue}$\u200C\u200D]*)*$/u;

function text(meta: Record<string, unknown>, field: string): string {
  const value = meta[field];
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") throw new TypeError(`handler_meta.${field} must be a string`);
  return value;
}

/**
 * The event as a handler receives it: Tyk's `{Type, Meta, TimeStamp}`, and the same under the names Tyk's
 * documentation gives (`EventType`, `EventMetaData`), so handlers written either way work.
 */
export function eventArgument(event: EventMessage): string {
  return JSON.stringify({
    EventType: event.Type,
    EventMetaData: event.Meta,
    TimeStamp: event.TimeStamp,
    Type: event.Type,
    Meta: event.Meta,
  });
}

/**
 * Builds a JS event handler from its `handler_meta` (`name`, `path`, `disabled`); `null` when disabled.
 * @param settings the API's JS settings; absent on tyk.conf's gateway-wide handlers, which Tyk refuses
 * @throws TypeError for a handler that cannot work (no name, no path, JS disabled, gateway-wide)
 * @example
 * const handler = createJsEventHandler({ name: "sampleHandler", path: "events/sample.js" }, settings);
 */
export function createJsEventHandler(
  meta: Record<string, unknown>,
  settings: JsEventSettings | undefined,
): EventHandler | null {
  if (meta.disabled === true) return null;
  if (settings === undefined) {
    throw new TypeError("eh_dynamic_handler works only in an API definition's event_handlers, as in Tyk");
  }
  const name = text(meta, "name");
  const path = text(meta, "path");
  if (!NAME.test(name)) {
    throw new TypeError(`handler_meta.name must name a JS global, got ${JSON.stringify(name)}`);
  }
  if (path === "") throw new TypeError("handler_meta.path is empty");
  if (!settings.enableJsvm) throw new TypeError("enable_jsvm is false, so JS event handlers cannot run");

  const { log, apiId } = settings;
  const file = resolve(settings.baseDir, path);
  const key = `${file}\u0000${name}`;
  let pool = settings.sandboxes.get(key);
  if (pool === undefined) {
    let code: string;
    try {
      code = Deno.readTextFileSync(file);
    } catch (err) {
      const reason = err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message;
      throw new TypeError(`Cannot read handler_meta.path ${path}: ${reason}`);
    }
    pool = createSandboxPool({
      apiId,
      orgId: settings.orgId,
      driver: "otto",
      userLibrary: settings.userLibrary,
      sources: [{ file, code, names: [name], kind: "middleware" }],
      timeoutMs: settings.timeoutMs,
      size: 1,
      persistState: true,
      hostCalls: settings.hostCalls,
      memoryLimitMb: settings.memoryLimitMb,
      supply: settings.workers,
      load: settings.load,
      log,
    });
    settings.sandboxes.set(key, pool);
    pool.load().then(({ issues }) => {
      for (const issue of issues) {
        log.error(`Cannot load JS event handler: ${issue.message}`, {
          api_id: apiId,
          file: issue.file,
          line: issue.line,
        });
      }
    });
  }
  const sandbox = pool;
  const context = JSON.stringify({ APIID: apiId, OrgID: settings.orgId });
  let pending = 0;
  let dropped = 0;

  return {
    async handle(event) {
      if (pending >= MAX_PENDING) {
        if (dropped++ % MAX_PENDING === 0) {
          log.warn(`JS event handler ${name} is ${MAX_PENDING} events behind; dropping events`, {
            api_id: apiId,
            event: event.Type,
            dropped,
          });
        }
        return;
      }
      pending++;
      try {
        await sandbox.call(name, "DoProcessEvent", [eventArgument(event), context]);
      } catch (err) {
        log.error("Failed to run JS event handler", {
          api_id: apiId,
          handler: name,
          event: event.Type,
          kind: err instanceof JsvmError ? err.kind : "error",
          error: (err as Error).message,
          at: err instanceof JsvmError && err.file ? `${err.file}${err.line ? `:${err.line}` : ""}` : file,
        });
      } finally {
        pending--;
      }
    },
    close: () => sandbox.close(),
  };
}
