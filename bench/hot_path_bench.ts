/**
 * Small per-request costs on the gateway's and the sandbox's threads, each against the alternative it
 * replaced, measured in one process.
 *
 *   deno bench --no-remote -A bench/hot_path_bench.ts
 *
 * - "copy request headers": what the handler does per request (forEach + append) against
 *   `new Headers(headers)`.
 * - "walk request headers": forEach against for-of (the hook's request description, the upstream request).
 * - "decode a hook result": decoding the bootstrap's own JSON.stringify output with and without the
 *   write-back check it no longer needs.
 */
import { requestHookEdits, requestObject } from "../src/jsvm/sandbox/request_hook.ts";
import type { HookRequest } from "../src/jsvm/protocol.ts";

const headers = new Request("http://127.0.0.1:8080/hooks/x", {
  headers: {
    accept: "*/*",
    "accept-encoding": "gzip, br",
    "accept-language": "*",
    "user-agent": "Deno/2.9.6",
    host: "127.0.0.1:8080",
  },
}).headers;

Deno.bench("new Headers(headers)", { group: "copy request headers", baseline: true }, () => {
  new Headers(headers);
});
Deno.bench("forEach + append", { group: "copy request headers" }, () => {
  const copy = new Headers();
  headers.forEach((value, name) => copy.append(name, value));
});

Deno.bench("for-of", { group: "walk request headers", baseline: true }, () => {
  const out: string[] = [];
  for (const [name, value] of headers) out.push(name, value);
});
Deno.bench("forEach", { group: "walk request headers" }, () => {
  const out: string[] = [];
  headers.forEach((value, name) => out.push(name, value));
});

const sent: HookRequest = {
  method: "GET",
  requestURI: "/hooks/x",
  url: "/hooks/x",
  scheme: "http",
  host: "127.0.0.1:8080",
  query: "",
  headers: ["accept", "*/*", "accept-encoding", "gzip, br", "user-agent", "Deno/2.9.6"],
  body: "",
  ignoreCanonical: false,
};
// What DoProcessRequest writes for a plugin that sets one header
const request = requestObject(sent) as Record<string, Record<string, string>>;
request.SetHeaders["X-Hook"] = "1";
request.Headers = {};
const returned = JSON.stringify({ Request: request, SessionMeta: {} });

Deno.bench("checked (any text)", { group: "decode a hook result", baseline: true }, () => {
  requestHookEdits(returned, sent, false);
});
Deno.bench("known JSON.stringify output", { group: "decode a hook result" }, () => {
  requestHookEdits(returned, sent, true);
});
