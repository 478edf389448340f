/**
 * The host side of the plugins' synchronous API (Tyk's `gateway/jsvm_api.go`): TykMakeHttpRequest,
 * TykBatchRequest, TykGetKeyData, TykSetKeyData and the TykStorage* key-value functions. The sandbox blocks
 * while these run; each answers a string (or `undefined`) exactly as Tyk's VM functions return them.
 */
import type { KeyStore } from "../../keys/key_store.ts";
import { parseSession, serializeSession } from "../../keys/session.ts";
import type { Logger } from "../../log.ts";
import type { Store } from "../../store/store.ts";
import { canonicalHeaderKey } from "../../jsvm/go/http.ts";
import { encodeQuery } from "../../jsvm/go/url.ts";
import type { HostCallHandler } from "../../jsvm/host/sandbox_pool.ts";
import type { UpstreamClient } from "../../upstream/client.ts";
import type { EgressRule } from "../../config/egress_rule.ts";
import { type OutboundResponse, sendOutbound } from "./outbound_http.ts";

/** What the host calls reach. */
export interface HostCallOptions {
  /** The client outbound requests go through (the proxy's, so framing and header names are exact). */
  upstream: UpstreamClient;
  /** `proxy_ssl_insecure_skip_verify`: accept any certificate. @default false */
  insecure?: boolean;
  keyStore: KeyStore;
  store: Store;
  log: Logger;
  /** Upper bound of one outbound request; the plugin's own timeout kills the worker sooner. */
  timeoutMs: number;
  /** `ignore_canonical_mime_header_key`. @default false */
  ignoreCanonical?: boolean;
  /** TTL of key records written by TykSetKeyData. @default 0 */
  sessionLifetime?: number;
  /** The port the gateway's control API listens on: an API with an egress allow-list reaches it only by name. */
  adminPort?: () => number;
  /** The org of a loaded API: TykGetKeyData finds custom-id keys through it, as the Gateway API does. */
  apiOrg?: (apiId: string) => string | undefined;
}

/**
 * One API's limits on the host API (`jsvm_limits`, our addition); without them, Tyk's behaviour: any
 * host, the key functions on, the storage space every API shares.
 */
export interface PluginLimits {
  apiId: string;
  /** Where outbound requests may go (`jsvm_limits.egress_allow`); null: anywhere. */
  egress: readonly EgressRule[] | null;
  /** TykGetKeyData and TykSetKeyData work. */
  keyFunctions: boolean;
  /** TykStorage* keys live in a space of this API's own. */
  storagePerApi: boolean;
}

/** The gateway's host-call handler; `limits` are the calling API's (see `limitHostCalls()`). */
export type GatewayHostCalls = (
  op: Parameters<HostCallHandler>[0],
  args: string[],
  signal: AbortSignal,
  limits?: PluginLimits,
) => Promise<string | undefined>;

/** The handler one API's sandboxes use: the gateway's, with the API's limits. */
export function limitHostCalls(calls: GatewayHostCalls, limits: PluginLimits): HostCallHandler {
  return (op, args, signal) => calls(op, args, signal, limits);
}

const STORAGE_PREFIX = "jsvm-store:";
/**
 * Where an API with `storage_per_api` keeps its keys: a prefix the shared space cannot reach (its keys
 * all start with "jsvm-store:"), with the API id escaped so that no id and key pair reads as another.
 */
const API_STORAGE_PREFIX = "jsvm-store-api:";
const MAX_STORAGE_KEY = 256;
const MAX_STORAGE_VALUE = 65536;
const STORAGE_TIMEOUT_MS = 2000;

/** Finds a field the way Go's decoder does: exact name first, then case-insensitively. */
function field(object: Record<string, unknown>, name: string): unknown {
  if (name in object) return object[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(object)) if (key.toLowerCase() === lower) return object[key];
  return undefined;
}

function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) if (typeof v === "string") out[k] = v;
  }
  return out;
}

/** Go's `http.Header` of a response: canonical names, one value per header line the upstream sent. */
function headerArrays(lines: [string, string][]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of lines) (out[canonicalHeaderKey(name)] ??= []).push(value);
  return out;
}

/** `FormData` encoded as Go's `url.Values.Encode` does: keys sorted, form escaping (space is `+`). */
function formBody(form: Record<string, string>): string {
  return encodeQuery(new Map(Object.entries(form).map(([k, v]) => [k, [v]])));
}

const ENCODER = new TextEncoder();
/** TykGetKeyData's answer for a key it does not find (Tyk's `{"status":"error","message":"Key not found"}`). */
const KEY_NOT_FOUND = JSON.stringify({ status: "error", message: "Key not found" });
const DECODER = new TextDecoder();

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function checkStorageKey(key: string, limits?: PluginLimits): string {
  const size = new TextEncoder().encode(key).length;
  if (size < 1 || size > MAX_STORAGE_KEY) {
    throw new RangeError(`TykStorage key must be 1-256 bytes, got ${size}`);
  }
  if (limits?.storagePerApi) return `${API_STORAGE_PREFIX}${encodeURIComponent(limits.apiId)}:${key}`;
  return STORAGE_PREFIX + key;
}

function checkStorageValue(value: string): string {
  const size = new TextEncoder().encode(value).length;
  if (size > MAX_STORAGE_VALUE) {
    throw new RangeError(`TykStorage value must be at most 65536 bytes, got ${size}`);
  }
  return value;
}

/**
 * Builds the handler a sandbox pool serves its plugins' synchronous calls with. The sandbox turns the
 * TykStorage* answers into their JS types (`null`, a boolean, a number); their failures reject, and the
 * sandbox throws them into the plugin, while the other functions answer `undefined` on failure.
 */
export function createHostCalls(options: HostCallOptions): GatewayHostCalls {
  const { keyStore, store, log } = options;
  const ignoreCanonical = options.ignoreCanonical === true;

  /** A plugin's header map: canonical names, or as written with `ignore_canonical_mime_header_key`. */
  function pluginHeaders(
    given: Record<string, string>,
  ): { headers: Headers; headerCase?: Map<string, string> } {
    const headers = new Headers();
    const headerCase = ignoreCanonical ? new Map<string, string>() : undefined;
    for (const [name, value] of Object.entries(given)) {
      headers.set(name, value);
      headerCase?.set(name.toLowerCase(), name);
    }
    return { headers, headerCase };
  }

  /**
   * Every outbound request of a plugin goes through here: only to an http(s) URL (redirects included),
   * and it stops when the plugin's call ends (timeout, dead sandbox) or after timeoutMs.
   */
  function send(
    url: string,
    method: string,
    headers: Record<string, string>,
    body: string,
    signal: AbortSignal,
    limits?: PluginLimits,
  ): Promise<OutboundResponse> {
    return sendOutbound(options.upstream, url, {
      method,
      ...pluginHeaders(headers),
      body: ENCODER.encode(body),
      signal: AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs)]),
      insecure: options.insecure,
      egress: limits?.egress ? { rules: limits.egress, adminPort: options.adminPort?.() ?? 0 } : null,
    });
  }

  /** One `TykMakeHttpRequest` request: its result object, or a rejection for a bad spec or a failed send. */
  async function httpRequest(spec: Record<string, unknown>, signal: AbortSignal, limits?: PluginLimits) {
    const method = String(field(spec, "Method") || "GET");
    const url = String(field(spec, "Domain") ?? "") + String(field(spec, "Resource") ?? "");
    const body = String(field(spec, "Body") ?? "") || formBody(stringMap(field(spec, "FormData")));
    const res = await send(url, method, stringMap(field(spec, "Headers")), body, signal, limits);
    const text = DECODER.decode(res.body);
    const hdrs = headerArrays(res.headers);
    return { Code: res.status, Body: text, Headers: hdrs, code: res.status, body: text, headers: hdrs };
  }

  async function makeHttpRequest(
    arg: string,
    signal: AbortSignal,
    limits?: PluginLimits,
  ): Promise<string | undefined> {
    if (arg === "undefined") return undefined;
    return JSON.stringify(await httpRequest(JSON.parse(arg), signal, limits));
  }

  /** `TykFetch`'s batch: every request at once, each answered with its result or why it failed. */
  async function fetchAll(arg: string, signal: AbortSignal, limits?: PluginLimits): Promise<string> {
    const specs = JSON.parse(arg) as unknown[];
    const outcomes = await Promise.all(specs.map(async (spec) => {
      try {
        if (typeof spec !== "object" || spec === null) throw new TypeError("the request must be an object");
        return { value: await httpRequest(spec as Record<string, unknown>, signal, limits) };
      } catch (err) {
        return { error: err instanceof Error ? err.message : String(err) };
      }
    }));
    return JSON.stringify(outcomes);
  }

  async function batchRequest(
    arg: string,
    signal: AbortSignal,
    limits?: PluginLimits,
  ): Promise<string | undefined> {
    const spec = JSON.parse(arg) as Record<string, unknown>;
    const requests = (field(spec, "requests") ?? []) as Record<string, unknown>[];
    const results: unknown[] = [];
    const one = async (r: Record<string, unknown>) => {
      const url = String(field(r, "relative_url") ?? "");
      try {
        const res = await send(
          url,
          String(field(r, "method") || "GET"),
          stringMap(field(r, "headers")),
          String(field(r, "body") ?? ""),
          signal,
          limits,
        );
        results.push({
          relative_url: url,
          code: res.status,
          headers: headerArrays(res.headers),
          body: DECODER.decode(res.body),
        });
      } catch (err) {
        if (limits?.egress) {
          log.warn("TykBatchRequest request failed", { api_id: limits.apiId, error: String(err) });
        }
        results.push({ relative_url: "", code: 0, headers: null, body: "" });
      }
    };
    if (field(spec, "suppress_parallel_execution") === true) { for (const r of requests) await one(r); }
    else await Promise.all(requests.map(one));
    return JSON.stringify(results);
  }

  async function getKeyData(key: string, apiId: string): Promise<string> {
    const session = await keyStore.get(key, { orgId: options.apiOrg?.(apiId) });
    return session ? serializeSession(session) : KEY_NOT_FOUND;
  }

  async function setKeyData(key: string, json: string, suppressReset: string): Promise<undefined> {
    const session = parseSession(json);
    await keyStore.set(key, session, options.sessionLifetime ?? 0);
    if (suppressReset !== "1") await keyStore.resetQuota(key);
    return undefined;
  }

  const storage = {
    TykStorageGet: async ([key]: string[], limits?: PluginLimits) =>
      (await store.get(checkStorageKey(key, limits))) ?? undefined,
    TykStorageSet: async ([key, value, ttl]: string[], limits?: PluginLimits) => {
      await store.set(checkStorageKey(key, limits), checkStorageValue(value), Number(ttl) || 0);
      return undefined;
    },
    TykStorageSetNX: async ([key, value, ttl]: string[], limits?: PluginLimits) =>
      String(
        await store.setIfAbsent(checkStorageKey(key, limits), checkStorageValue(value), Number(ttl) || 0),
      ),
    TykStorageDel: async ([key]: string[], limits?: PluginLimits) => {
      await store.delete(checkStorageKey(key, limits));
      return undefined;
    },
    TykStorageTTL: async ([key]: string[], limits?: PluginLimits) =>
      String(await store.ttl(checkStorageKey(key, limits))),
    TykStorageIncr: async ([key, ttl]: string[], limits?: PluginLimits) =>
      String(await store.incr(checkStorageKey(key, limits), Number(ttl) || 0)),
  };

  return async function hostCall(op, args, signal, limits) {
    switch (op) {
      case "TykGetKeyData":
      case "TykSetKeyData":
        if (limits?.keyFunctions === false) {
          log.warn(`${op} is off for this API (jsvm_limits.key_functions is false)`, {
            api_id: limits.apiId,
          });
          return op === "TykGetKeyData" ? KEY_NOT_FOUND : undefined;
        }
        // falls through
      case "TykMakeHttpRequest":
      case "TykBatchRequest":
        try {
          if (op === "TykMakeHttpRequest") return await makeHttpRequest(args[0], signal, limits);
          if (op === "TykBatchRequest") return await batchRequest(args[0], signal, limits);
          if (op === "TykGetKeyData") return await getKeyData(args[0], args[1]);
          return await setKeyData(args[0], args[1], args[2]);
        } catch (err) {
          log.warn(`${op} failed`, { ...(limits ? { api_id: limits.apiId } : {}), error: String(err) });
          return undefined;
        }
      case "TykStorageGet":
      case "TykStorageSet":
      case "TykStorageSetNX":
      case "TykStorageDel":
      case "TykStorageTTL":
      case "TykStorageIncr":
        return await withTimeout(storage[op](args, limits), STORAGE_TIMEOUT_MS, op);
      case "TykFetch":
        return await fetchAll(args[0], signal, limits);
    }
  };
}
