/**
 * Tyk's plugin test runner: runs one plugin source as a request or response hook, in a sandbox made for
 * this run alone (driver `javascript`, no permissions, no host calls), against the request, response,
 * session and `config_data` the caller gives, and reports what the hook asked for, what it logged and how
 * it failed. The same runner serves `POST /tyk/plugins/test` and `deno task plugin-test`.
 */
import type { PluginTestInput, PluginTestRequest, PluginTestResponse } from "../config/plugin_test_input.ts";
import { buildSpecArgument } from "../chain/js/hook_steps.ts";
import { decodeBase64, encodeBase64 } from "../jsvm/go/base64.ts";
import { encodeQuery } from "../jsvm/go/url.ts";
import { createSandboxPool, JsvmError, type LoadIssue } from "../jsvm/host/sandbox_pool.ts";
import { REGISTERED_HANDLER } from "../jsvm/protocol.ts";
import { serializeSession } from "../keys/session.ts";
import type { LogFields, Logger } from "../log.ts";

/** How a tested plugin failed. */
export interface PluginTestError {
  message: string;
  /** `syntax`: it did not compile (or was refused); `timeout`: it ran past the timeout; `runtime`: the rest. */
  type: "syntax" | "timeout" | "runtime";
}

/** One line the plugin logged. */
export interface PluginTestLog {
  level: string;
  message: string;
  /** RFC 3339. */
  time: string;
}

/** What a run reports (the runner's JSON body). */
export interface PluginTestResult {
  logs: PluginTestLog[];
  /** The request as given (left out for response hooks, as Tyk's runner does). */
  request_before?: Record<string, unknown>;
  request_after?: Record<string, unknown>;
  response_before?: Record<string, unknown>;
  response_after?: Record<string, unknown>;
  session_after?: unknown;
  error?: PluginTestError;
  execution_ms: number;
}

/** Options of {@link runPluginTest}. */
export interface PluginTestOptions {
  /** `jsvm_timeout` in ms: for loading, and again for the call. */
  timeoutMs: number;
  /** The file name errors and line numbers refer to. @default "plugin.js" */
  file?: string;
}

const NOT_REGISTERED =
  "plugin did not register a request or response handler via NewProcessRequest/NewProcessResponse";
const SANDBOX_HOST = "__sandbox__";
const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

/** Collects what the plugin logs (`log()`, `rawlog()`, `console.*`); the sandbox's own lines are dropped. */
function pluginLogs(): Logger & { lines: PluginTestLog[] } {
  const lines: PluginTestLog[] = [];
  const at = (level: string) => (message: string, fields?: LogFields) => {
    if (fields?.type === "log-msg") lines.push({ level, message, time: new Date().toISOString() });
  };
  return {
    lines,
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    announce: () => {},
    raw: (message) => lines.push({ level: "info", message, time: new Date().toISOString() }),
  };
}

function loadError(issue: LoadIssue): PluginTestError {
  const at = issue.line === undefined ? "" : ` (line ${issue.line}${issue.column ? `:${issue.column}` : ""})`;
  if (issue.timedOut) return { type: "timeout", message: issue.message };
  // a syntax error names itself; a source refused before it ran (an import, a reserved name) has a column
  const compile = /^SyntaxError\b/.test(issue.message) || issue.column !== undefined;
  return { type: compile ? "syntax" : "runtime", message: `${issue.message}${at}` };
}

function callError(err: unknown): PluginTestError {
  if (!(err instanceof JsvmError)) return { type: "runtime", message: String(err) };
  if (err.kind === "timeout") return { type: "timeout", message: err.message };
  if (err.kind === "missing") return { type: "runtime", message: NOT_REGISTERED };
  if (err.kind === "decode") {
    return { type: "runtime", message: `failed to parse the hook's return: ${err.message}` };
  }
  const at = err.line === undefined ? "" : ` (line ${err.line})`;
  return { type: "runtime", message: `${err.message}${at}` };
}

/** Go's `json.Marshal` of a map: keys sorted. */
function sortedMap<T>(map: Record<string, T> | undefined): Record<string, T> | null {
  if (map === undefined) return null;
  const out: Record<string, T> = {};
  for (const key of Object.keys(map).sort()) out[key] = map[key];
  return out;
}

/**
 * The request as the caller gave it, with the URL and RequestURI Tyk's runner makes up when they are left
 * out: `<scheme>://__sandbox__<path>[?params]` (https and `/` by default) and the path and query.
 */
function requestBefore(given: PluginTestRequest): Record<string, unknown> {
  const scheme = given.Scheme || "https";
  const path = given.Path || "/";
  const params = given.Params ?? {};
  const query = Object.keys(params).length > 0 ? `?${encodeQuery(new Map(Object.entries(params)))}` : "";
  return {
    Method: given.Method ?? "",
    Path: given.Path ?? "",
    URL: given.URL || `${scheme}://${SANDBOX_HOST}${path}${query}`,
    RequestURI: given.RequestURI || `${path}${query}`,
    Headers: sortedMap(given.Headers),
    Body: given.Body ?? "",
    Params: sortedMap(given.Params),
    Scheme: given.Scheme ?? "",
  };
}

/**
 * The `request` argument, built from the caller's request as Tyk's runner builds it: headers and params as
 * given (no `Host` entry, names not canonicalised), the body as base64.
 * @param before {@link requestBefore}'s result
 * @param body `false` for a response hook, which gets `Body: null`
 */
function requestObject(given: PluginTestRequest, before: Record<string, unknown>, body: boolean): string {
  return JSON.stringify({
    Headers: sortedMap(given.Headers) ?? {},
    SetHeaders: {},
    DeleteHeaders: [],
    Body: body ? encodeBase64(ENCODER.encode(given.Body ?? "")) : null,
    URL: before.URL,
    Params: sortedMap(given.Params) ?? {},
    AddParams: {},
    ExtendedParams: {},
    DeleteParams: [],
    ReturnOverrides: {
      ResponseCode: 0,
      ResponseError: "",
      ResponseBody: "",
      ResponseHeaders: null,
      OverrideError: false,
    },
    IgnoreBody: false,
    Method: given.Method ?? "",
    RequestURI: before.RequestURI,
    Scheme: before.Scheme || "https",
  });
}

/** The `response` argument of a response hook. */
function responseObject(response: PluginTestResponse): string {
  return JSON.stringify({
    StatusCode: response.StatusCode ?? 0,
    Body: response.Body ?? "",
    Headers: sortedMap(response.Headers),
    SetHeaders: {},
    DeleteHeaders: [],
  });
}

/** The session argument: Tyk gives pre and auth_check hooks an empty session whatever the caller sent. */
function sessionArgument(input: PluginTestInput): string {
  if (input.hookType === "pre" || input.hookType === "auth_check" || input.session === null) return "{}";
  return serializeSession(input.session);
}

interface DecodedRequest {
  Request: Record<string, unknown> & { Body: string | null };
  SessionMeta: Record<string, string> | null;
  Session: Record<string, unknown> | null;
}

interface DecodedResponse {
  Response: Record<string, unknown>;
  SessionMeta: Record<string, string> | null;
}

function isEmpty(map: Record<string, unknown> | null): boolean {
  return map === null || Object.keys(map).length === 0;
}

/**
 * Runs one plugin test; never throws for what the plugin does (that is `error`).
 * @example
 * const result = await runPluginTest(input, { timeoutMs: 5000 });
 * if (result.error) console.log(result.error.type, result.error.message);
 */
export async function runPluginTest(
  input: PluginTestInput,
  options: PluginTestOptions,
): Promise<PluginTestResult> {
  const started = performance.now();
  const logs = pluginLogs();
  const before = requestBefore(input.request);
  // execution_ms is set last, so it comes last in the JSON too; a response hook's test shows no request
  const result: Omit<PluginTestResult, "execution_ms"> & { execution_ms?: number } = { logs: logs.lines };
  if (input.response) result.response_before = input.response;
  else result.request_before = before;
  const pool = createSandboxPool({
    apiId: input.apiId,
    orgId: input.orgId,
    driver: "javascript",
    sources: [{ file: options.file ?? "plugin.js", code: input.code, names: [], kind: "middleware" }],
    timeoutMs: options.timeoutMs,
    size: 1,
    log: logs,
  });
  try {
    const { issues } = await pool.load();
    if (issues.length > 0) {
      result.error = loadError(issues[0]);
      return result as PluginTestResult;
    }
    const spec = buildSpecArgument({
      apiId: input.apiId,
      orgId: input.orgId,
      driver: "javascript",
      configData: input.configData,
      configDataDisabled: false,
      ignoreCanonical: false,
    });
    const session = sessionArgument(input);
    if (input.hookType === "response") {
      const decoded: DecodedResponse = JSON.parse(
        await pool.callDecoded("response", REGISTERED_HANDLER, [
          responseObject(input.response!),
          requestObject(input.request, before, false),
          session,
          spec,
        ]),
      );
      result.response_after = decoded.Response;
      if (!isEmpty(decoded.SessionMeta)) result.session_after = decoded.SessionMeta;
    } else {
      const decoded: DecodedRequest = JSON.parse(
        await pool.callDecoded("request", REGISTERED_HANDLER, [
          requestObject(input.request, before, true),
          session,
          spec,
        ]),
      );
      const after = decoded.Request;
      const body = after.Body === null ? null : decodeBase64(after.Body);
      result.request_after = {
        SetHeaders: after.SetHeaders,
        DeleteHeaders: after.DeleteHeaders,
        AddParams: after.AddParams,
        DeleteParams: after.DeleteParams,
        Body: body === null ? "" : DECODER.decode(body),
        ReturnOverrides: after.ReturnOverrides,
      };
      if (input.hookType === "auth_check") result.session_after = decoded.Session;
      else if (input.hookType !== "pre" && !isEmpty(decoded.SessionMeta)) {
        result.session_after = decoded.SessionMeta;
      }
    }
  } catch (err) {
    result.error = callError(err);
  } finally {
    await pool.close();
    result.execution_ms = Math.round(performance.now() - started);
  }
  return result as PluginTestResult;
}
