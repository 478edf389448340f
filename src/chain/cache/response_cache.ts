/**
 * Tyk's response cache (`cache_options`): a lookup step, before the virtual endpoint, that answers a
 * cached request from the store with `x-tyk-cached-response: 1`, and a response step, last in the
 * response chain, that stores what a cacheable request got. Which requests are cacheable: every GET, HEAD
 * and OPTIONS with `cache_all_safe_requests`, else those matching the version's `extended_paths.cache`
 * (safe methods) or `advance_cache_config` (its method, codes, timeout and body key). Tyk error pages
 * never reach the writer; a response with status 400 or more is stored only when the codes list it.
 */
import { createHash } from "node:crypto";
import type { ApiDefinition } from "../../config/api_definition.ts";
import type { Logger } from "../../log.ts";
import type { Store } from "../../store/store.ts";
import { currentUrl, readBody, type RequestCtx, type ResponseStep, type Step } from "../context.ts";
import { matchEndpoint } from "../endpoint_match.ts";
import { compilePattern, rulesForVersion } from "../version_check.ts";

/** Where the cache keeps its entries and how paths match. */
export interface ResponseCacheOptions {
  store: Store;
  log: Logger;
  /** `http_server_options.enable_path_prefix_matching`. @default false */
  prefixMatching?: boolean;
  /** `http_server_options.enable_path_suffix_matching`. @default false */
  suffixMatching?: boolean;
  /** Largest body stored, in bytes; a larger one streams to the client uncached. @default 8 MiB */
  maxBodyBytes?: number;
}

/** An API's cache: the lookup step and the writer. */
export interface ResponseCache {
  lookup: Step;
  write: ResponseStep;
}

interface CacheRule {
  /** `""`: GET, HEAD and OPTIONS (Tyk's SAFE_METHODS); otherwise this method exactly. */
  method: string;
  pattern: RegExp;
  codes: number[];
  timeout: number;
  keyRegex: RegExp | null;
}

/** What the lookup found out about a cacheable request, for the writer. */
interface Pending {
  key: string;
  codes: number[];
  ttl: number;
}

/** A stored entry. */
interface Entry {
  status: number;
  headers: [string, string][];
  /** Standard base64. */
  body: string;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const CACHED_HEADER = "x-tyk-cached-response";
const UPSTREAM_CACHE_HEADER = "x-tyk-cache-action-set";
const UPSTREAM_TTL_HEADER = "x-tyk-cache-action-set-ttl";
const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);
const DEFAULT_MAX_BODY = 8 * 1024 * 1024;

function md5(text: string | Uint8Array): string {
  return createHash("md5").update(text).digest("hex");
}

/** Reads `stream` whole unless it grows past `max` bytes (then `null`, and the stream is cancelled). */
async function collect(stream: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array | null> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

function isEntry(value: unknown): value is Entry {
  const entry = value as Entry;
  return typeof entry === "object" && entry !== null && Number.isInteger(entry.status) &&
    typeof entry.body === "string" && Array.isArray(entry.headers);
}

function compileRules(
  def: ApiDefinition,
  options: ResponseCacheOptions,
): Map<string, CacheRule[]> {
  const byVersion = new Map<string, CacheRule[]>();
  const api = def.cache_options;
  const regexOf = (source: string): RegExp | null => {
    if (source === "") return null;
    try {
      return new RegExp(source);
    } catch {
      options.log.warn(
        `API "${def.api_id}": cache_key_regex ${JSON.stringify(source)} is not a valid regexp`,
      );
      return null;
    }
  };
  for (const [version, info] of Object.entries(def.version_data.versions)) {
    if (!info.use_extended_paths) continue;
    const rules: CacheRule[] = [];
    for (const path of info.extended_paths.cache ?? []) {
      rules.push({
        method: "",
        pattern: compilePattern(path, options),
        codes: api.cache_response_codes,
        timeout: api.cache_timeout,
        keyRegex: null,
      });
    }
    for (const entry of info.extended_paths.advance_cache_config ?? []) {
      rules.push({
        method: entry.method,
        pattern: compilePattern(entry.path, options),
        // an endpoint's own codes and timeout win when it sets them
        codes: entry.cache_response_codes.length > 0 ? entry.cache_response_codes : api.cache_response_codes,
        timeout: entry.timeout > 0 ? entry.timeout : api.cache_timeout,
        keyRegex: regexOf(entry.cache_key_regex),
      });
    }
    if (rules.length > 0) byVersion.set(version, rules);
  }
  return byVersion;
}

/**
 * Builds an API's response cache; `null` unless `cache_options.enable_cache` is set.
 * @example
 * const cache = createResponseCache(def, { store, log });
 * const steps = [..., cache?.lookup, virtualEndpoint, postHooks];
 */
export function createResponseCache(def: ApiDefinition, options: ResponseCacheOptions): ResponseCache | null {
  const settings = def.cache_options;
  if (!settings.enable_cache) return null;
  const { store, log } = options;
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const rulesOf = rulesForVersion(def, compileRules(def, options));
  const ttlHeader = settings.cache_control_ttl_header || UPSTREAM_TTL_HEADER;
  const pending = new WeakMap<RequestCtx, Pending>();
  const fields = { api_id: def.api_id };
  if (settings.cache_timeout <= 0) {
    log.warn(
      `API "${def.api_id}": cache_options.cache_timeout is ${settings.cache_timeout}, so cached responses expire at once, as in Tyk`,
      fields,
    );
  }

  /** The rule that makes this request cacheable; `null` for the API-wide safe-methods one. */
  function cacheRule(ctx: RequestCtx): CacheRule | null | undefined {
    if (settings.cache_all_safe_requests && SAFE_METHODS.has(ctx.method)) return null;
    const rules = rulesOf(ctx);
    if (rules === undefined) return undefined;
    const safe = SAFE_METHODS.has(ctx.method);
    return matchEndpoint(
      rules.filter((rule) => rule.method !== "" || safe).map((rule) => ({
        ...rule,
        method: rule.method === "" ? ctx.method : rule.method,
      })),
      ctx,
    );
  }

  /** Tyk's key: the API, the caller (key, else IP), method and URL, chosen headers and a body hash. */
  async function cacheKey(ctx: RequestCtx, rule: CacheRule | null): Promise<string> {
    let text = `${ctx.method}-${currentUrl(ctx)}`;
    let byHeaders = "";
    for (const name of settings.cache_by_headers) byHeaders += `${name}-${ctx.headers.get(name) ?? ""}`;
    if (byHeaders !== "") text += `-${byHeaders}`;
    if (ctx.body !== null && (ctx.method === "POST" || ctx.method === "PUT" || ctx.method === "PATCH")) {
      const body = await readBody(ctx);
      const regex = rule?.keyRegex;
      if (regex === null || regex === undefined) text += `-${md5(body)}`;
      else {
        const match = regex.exec(new TextDecoder().decode(body));
        if (match) text += `-${md5(match[0])}`;
      }
    }
    return `cache-${def.api_id}${md5(ctx.sessionKey || ctx.clientIp)}${md5(text)}`;
  }

  function cachedResponse(ctx: RequestCtx, entry: Entry): Response {
    const headers = new Headers();
    for (const [name, value] of entry.headers) headers.append(name, value);
    headers.set(CACHED_HEADER, "1");
    const etag = headers.get("etag");
    const wanted = ctx.headers.get("if-none-match");
    const status = etag && wanted?.includes(etag) ? 304 : entry.status;
    const body = NULL_BODY_STATUS.has(status) || ctx.method === "HEAD"
      ? null
      : Uint8Array.fromBase64(entry.body);
    return new Response(body, { status, headers });
  }

  const lookup: Step = async function responseCacheLookup(ctx) {
    const rule = cacheRule(ctx);
    if (rule === undefined) return undefined;
    const key = await cacheKey(ctx, rule);
    pending.set(ctx, {
      key,
      codes: rule?.codes ?? settings.cache_response_codes,
      ttl: rule?.timeout ?? settings.cache_timeout,
    });
    let stored: string | null;
    try {
      stored = await store.get(key);
    } catch (err) {
      log.warn("Cannot read the response cache; serving without it", { ...fields, error: String(err) });
      return undefined;
    }
    if (stored === null) return undefined;
    let entry: unknown;
    try {
      entry = JSON.parse(stored);
    } catch {
      entry = null;
    }
    if (!isEntry(entry)) {
      await store.delete(key).catch(() => 0);
      return undefined;
    }
    pending.delete(ctx); // a hit is not stored again
    return cachedResponse(ctx, entry);
  };

  const write: ResponseStep = function responseCacheWrite(ctx, response) {
    const wanted = pending.get(ctx);
    if (wanted === undefined) return response;
    pending.delete(ctx);
    let cache = wanted.codes.length > 0 ? wanted.codes.includes(response.status) : response.status < 400;
    let ttl = wanted.ttl;
    if (settings.enable_upstream_cache_control) {
      if (response.headers.get(UPSTREAM_CACHE_HEADER)) cache = true;
      const seconds = Number(response.headers.get(ttlHeader) ?? "");
      if (response.headers.has(ttlHeader) && Number.isInteger(seconds)) ttl = seconds;
    }
    if (!cache || ttl <= 0) return response;
    const headers: [string, string][] = [];
    response.headers.forEach((value, name) => headers.push([name, value]));
    const save = (body: Uint8Array | null) => {
      if (body === null) return;
      const entry: Entry = { status: response.status, headers, body: body.toBase64() };
      store.set(wanted.key, JSON.stringify(entry), ttl).catch((err) =>
        log.warn("Cannot store a response in the cache", { ...fields, error: String(err) })
      );
    };
    if (response.body === null) {
      save(new Uint8Array(0));
      return response;
    }
    // The client gets the body as it streams; the copy is stored once complete
    const [toClient, toCache] = response.body.tee();
    collect(toCache, maxBody).then(save, () => {});
    return new Response(toClient, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };

  return { lookup, write };
}
