/**
 * What every sandbox defines before plugin code runs: the `TykJS` namespace plugins build their
 * middleware and event handlers with, and the Tyk API functions (`log`, `b64enc`, `TykMakeHttpRequest`, …).
 * Written for Portcullis to behave like Tyk's embedded core script; it runs as module code,
 * so it is never re-evaluated and uses saved built-ins.
 *
 * @example
 * var myMw = new TykJS.TykMiddleware.NewMiddleware({});
 * myMw.NewProcessRequest(function (request, session, spec) {
 *   request.SetHeaders["X-Hello"] = "world";
 *   return myMw.ReturnData(request, session.meta_data);
 * });
 */

import { HOST_CALL_ARITY, type HostCallOp, REPLY, type SandboxLogLevel } from "../protocol.ts";
import { b64dec, b64enc, rawb64dec, rawb64enc, type TextBytes, UTF8 } from "./tyk_base64.ts";
import {
  append,
  ArrayPrototypeJoin,
  JSONStringify,
  ObjectCreate,
  ObjectHasOwn,
  PromisePrototypeThen,
  ReflectApply,
  ReflectDefineProperty,
  SafeError,
  SafeNumber,
  SafePromise,
  SafeString,
} from "./_primordials.ts";
import { createTykFetch } from "./tyk_fetch.ts";

/** A host call's outcome as the sandbox channel returns it. */
export interface HostCallReply {
  status: number;
  value: string;
}

/** What the bootstrap needs from the sandbox it runs in. */
export interface TykRuntime {
  log(level: SandboxLogLevel, text: string): void;
  /** Runs a host function synchronously; `undefined` when no handler is configured or calls are muted. */
  hostCall(op: HostCallOp, args: string[]): HostCallReply | undefined;
}

type Plugin = Record<string, unknown> & {
  ProcessRequest(...args: unknown[]): unknown;
  ProcessResponse(...args: unknown[]): unknown;
  Handle(...args: unknown[]): unknown;
};
type Envelope = { Request: Record<string, unknown> } | null | undefined;

/** The `TykJS` namespace and the prototypes the state reset must watch. */
export interface TykNamespace {
  TykJS: Record<string, unknown>;
  prototypes: object[];
  /** Whether `text` equals what `DoProcessRequest` last wrote with `JSON.stringify` (whoever returned it). */
  isStringified(text: string): boolean;
  /** The middleware object whose `NewProcessRequest` or `NewProcessResponse` ran last, if any. */
  registered(): unknown;
}

/** What differs between the drivers' bootstraps. */
export interface TykJSOptions {
  /** How `DoProcessRequest` reads the body's bytes as text and back: `RAW_BYTES` for otto. @default UTF8 */
  codec?: TextBytes;
  /**
   * Handlers may be async functions (driver `javascript`): `DoProcessRequest` and `DoProcessResponse` then
   * return a promise of their result, which the sandbox waits for. @default false
   */
  asyncHandlers?: boolean;
}

/** Builds `TykJS.TykMiddleware` and `TykJS.TykEventHandlers` (Tyk's core script). */
export function createTykJS(runtime: TykRuntime, options: TykJSOptions = {}): TykNamespace {
  const codec = options.codec ?? UTF8;
  const asyncHandlers = options.asyncHandlers ?? false;
  const log = (text: string) => runtime.log("info", text);
  let lastStringified: string | undefined;
  let registered: unknown;

  function MiddlewareComponentMeta(this: Plugin, configuration: unknown) {
    this.configuration = configuration;
  }
  const meta = MiddlewareComponentMeta.prototype as Record<string, unknown>;
  meta.ProcessRequest = function ProcessRequest(request: unknown) {
    log("Process Request Not Implemented");
    return request;
  };
  meta.DoProcessRequest = function DoProcessRequest(
    this: Plugin,
    request: Record<string, unknown>,
    session: unknown,
    config: unknown,
  ) {
    request.Body = b64dec(SafeString(request.Body), codec);
    const result = this.ProcessRequest(request, session, config);
    if (asyncHandlers && result instanceof SafePromise) return PromisePrototypeThen(result, finishRequest);
    return finishRequest(result as Envelope);
  };
  function finishRequest(result: Envelope): string | undefined {
    if (!result) {
      log("Middleware didn't return request object!");
      return undefined;
    }
    // Header edits go through SetHeaders/DeleteHeaders; Tyk throws away changes made to Headers.
    result.Request.Headers = {};
    result.Request.Body = b64enc(SafeString(result.Request.Body), codec);
    return (lastStringified = JSONStringify(result));
  }
  meta.ProcessResponse = function ProcessResponse(response: unknown) {
    log("Process Response Not Implemented");
    return response;
  };
  meta.DoProcessResponse = function DoProcessResponse(this: Plugin, ...args: unknown[]) {
    const result = ReflectApply(this.ProcessResponse, this, args);
    if (asyncHandlers && result instanceof SafePromise) return PromisePrototypeThen(result, finishResponse);
    return finishResponse(result);
  };
  function finishResponse(result: unknown): string | undefined {
    if (!result) {
      log("Middleware didn't return response object!");
      return undefined;
    }
    return JSONStringify(result);
  }

  function NewMiddleware(this: Plugin, configuration: unknown) {
    ReflectApply(MiddlewareComponentMeta, this, [configuration]);
  }
  const mw = ObjectCreate(meta) as Record<string, unknown>;
  ReflectDefineProperty(NewMiddleware, "prototype", { value: mw });
  ReflectDefineProperty(mw, "constructor", { value: NewMiddleware, writable: true, configurable: true });
  mw.NewProcessRequest = function NewProcessRequest(this: Plugin, callback: unknown) {
    this.ProcessRequest = callback as Plugin["ProcessRequest"];
    registered = this;
  };
  mw.NewProcessResponse = function NewProcessResponse(this: Plugin, callback: unknown) {
    this.ProcessResponse = callback as Plugin["ProcessResponse"];
    registered = this;
  };
  mw.ReturnData = function ReturnData(request: unknown, sessionMeta: unknown) {
    return { Request: request, SessionMeta: sessionMeta };
  };
  mw.ReturnResponseData = function ReturnResponseData(response: unknown, sessionMeta: unknown) {
    return { Response: response, SessionMeta: sessionMeta };
  };
  // No AuthValue here, as in Tyk: auth plugins that need one build the object themselves.
  mw.ReturnAuthData = function ReturnAuthData(request: unknown, session: unknown) {
    return { Request: request, Session: session };
  };

  function EventHandlerComponentMeta() {}
  const handlerMeta = EventHandlerComponentMeta.prototype as Record<string, unknown>;
  handlerMeta.DoProcessEvent = function DoProcessEvent(this: Plugin, event: unknown, context: unknown) {
    log("Calling built - in handle");
    this.Handle(event, context);
    return undefined;
  };
  handlerMeta.Handle = function Handle() {
    log("Handler not implemented!");
  };
  function NewEventHandler(this: Plugin) {
    ReflectApply(EventHandlerComponentMeta, this, []);
  }
  const handler = ObjectCreate(handlerMeta) as Record<string, unknown>;
  ReflectDefineProperty(NewEventHandler, "prototype", { value: handler });
  ReflectDefineProperty(handler, "constructor", {
    value: NewEventHandler,
    writable: true,
    configurable: true,
  });
  handler.NewHandler = function NewHandler(this: Plugin, callback: unknown) {
    this.Handle = callback as Plugin["Handle"];
  };

  return {
    TykJS: {
      TykMiddleware: { MiddlewareComponentMeta, NewMiddleware },
      TykEventHandlers: { EventHandlerComponentMeta, NewEventHandler },
    },
    prototypes: [meta, mw, handlerMeta, handler],
    isStringified: (text) => text === lastStringified,
    registered: () => registered,
  };
}

/** `console.*` arguments as one line: strings as they are, plain objects as JSON. */
function formatConsole(args: unknown[]): string {
  const parts: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    let text: string | undefined;
    if (typeof arg === "object" && arg !== null) {
      try {
        text = JSONStringify(arg);
        if (text === "{}" && SafeString(arg) !== "[object Object]") text = SafeString(arg); // errors
      } catch {
        text = undefined;
      }
    }
    append(parts, text ?? SafeString(arg));
  }
  return ArrayPrototypeJoin(parts, " ");
}

function hostFunction(runtime: TykRuntime, op: HostCallOp): (...args: unknown[]) => unknown {
  const arity = HOST_CALL_ARITY[op];
  const storage = op !== "TykMakeHttpRequest" && op !== "TykBatchRequest" && op !== "TykGetKeyData" &&
    op !== "TykSetKeyData";
  // Named after the op, so stack traces read like Tyk's.
  const named = {
    [op](...args: unknown[]): unknown {
      const texts: string[] = [];
      for (let i = 0; i < arity; i++) append(texts, SafeString(args[i]));
      const reply = runtime.hostCall(op, texts);
      if (reply === undefined) return undefined;
      if (reply.status === REPLY.ERROR) {
        if (storage) throw new SafeError(reply.value);
        return undefined;
      }
      const value = reply.status === REPLY.VALUE ? reply.value : undefined;
      switch (op) {
        case "TykStorageGet":
          return value ?? null;
        case "TykStorageSetNX":
          return value === "true";
        case "TykStorageTTL":
          return value === undefined ? undefined : SafeNumber(value);
        case "TykSetKeyData":
        case "TykStorageSet":
        case "TykStorageDel":
          return undefined;
        default:
          return value;
      }
    },
  };
  return named[op];
}

/** The host functions that block until they answer (`TykFetch` is built apart: it returns a promise). */
const HOST_OPS = (Object.keys(HOST_CALL_ARITY) as HostCallOp[]).filter((op) => op !== "TykFetch");

/**
 * The Tyk API functions (plus `console`, which Tyk lacks: see docs/differences.md), installed after the
 * bootstrap and again after the user library, so a library cannot replace them (as in Tyk's otto load
 * order). With `asyncHandlers`, also `TykFetch` (see tyk_fetch.ts).
 * @param options `codec`: how the base64 helpers turn text into bytes and back (`RAW_BYTES` for otto)
 */
export function createTykApi(runtime: TykRuntime, options: TykJSOptions = {}): Record<string, unknown> {
  const codec = options.codec ?? UTF8;
  const api: Record<string, unknown> = {
    log: function log(message: unknown) {
      runtime.log("info", SafeString(message));
    },
    rawlog: function rawlog(message: unknown) {
      runtime.log("raw", SafeString(message));
    },
    console: {
      log: (...args: unknown[]) => runtime.log("info", formatConsole(args)),
      info: (...args: unknown[]) => runtime.log("info", formatConsole(args)),
      debug: (...args: unknown[]) => runtime.log("debug", formatConsole(args)),
      warn: (...args: unknown[]) => runtime.log("warn", formatConsole(args)),
      error: (...args: unknown[]) => runtime.log("error", formatConsole(args)),
    },
    b64enc: (text: unknown) => b64enc(SafeString(text), codec),
    b64dec: (text: unknown) => b64dec(SafeString(text), codec),
    rawb64enc: (text: unknown) => rawb64enc(SafeString(text), codec),
    rawb64dec: (text: unknown) => rawb64dec(SafeString(text), codec),
    TykJsResponse: function TykJsResponse(response: unknown, sessionMeta: unknown) {
      return JSONStringify({ Response: response, SessionMeta: sessionMeta });
    },
  };
  for (let i = 0; i < HOST_OPS.length; i++) api[HOST_OPS[i]] = hostFunction(runtime, HOST_OPS[i]);
  if (options.asyncHandlers) api.TykFetch = createTykFetch(runtime);
  return api;
}

/** Defines each entry as a writable global (plugins may shadow them, as in Tyk). */
export function defineGlobals(target: object, values: Record<string, unknown>): void {
  for (const key in values) {
    if (!ObjectHasOwn(values, key)) continue;
    ReflectDefineProperty(target, key, {
      __proto__: null,
      value: values[key],
      writable: true,
      enumerable: false,
      configurable: true,
    } as PropertyDescriptor);
  }
}
