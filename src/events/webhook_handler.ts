/**
 * Tyk's `eh_web_hook_handler`: renders the event with the handler's template (or Tyk's default body), and
 * sends it to `target_path` with `User-Agent: Tyk-Hookshot` and the `header_map` headers. An identical request
 * sent within `event_timeout` seconds (tracked in the store as `webhook.cache.<md5>`, so gateways sharing a
 * Redis share it) is not sent again. Failures are logged; nothing waits for the target.
 */
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { parseOrigin, readAll, type UpstreamClient } from "../upstream/client.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/store.ts";
import type { EventHandler } from "./bus.ts";
import type { EventMessage } from "./event.ts";
import { executeTemplate, htmlEscape, parseTemplate, TemplateError } from "./go_template.ts";

/** What webhook handlers share. */
export interface WebhookContext {
  /** Where de-duplication marks live. */
  store: Pick<Store, "setIfAbsent">;
  /** The gateway's HTTP client. */
  upstream: UpstreamClient;
  log: Logger;
  /** tyk.conf `template_path`: a `default_webhook.json` there replaces the built-in default body. */
  templatePath: string;
  /** The folder of tyk.conf, against which a relative `handler_meta.template_path` resolves. */
  baseDir: string;
  /** `ignore_canonical_mime_header_key`: send `header_map` names as written. */
  ignoreCanonical?: boolean;
}

const METHODS = new Set(["GET", "PUT", "POST", "DELETE", "PATCH"]);
/** Go's http.Client timeout in Tyk's webhook handler. */
const TIMEOUT_MS = 30_000;
export const DEDUP_PREFIX = "webhook.cache.";
const ENCODER = new TextEncoder();

function field(meta: Record<string, unknown>, name: string): string {
  if (!(name in meta)) throw new TemplateError(`can't evaluate field ${name}`);
  const value = meta[name];
  return htmlEscape(value === null || value === undefined ? "" : String(value));
}

/**
 * The body of Tyk's default webhook template for the events Portcullis raises: the event, message, path,
 * origin and key, HTML-escaped. Metadata without those fields (token events) fails as it does in Tyk.
 * @throws {TemplateError}
 */
export function defaultWebhookBody(event: EventMessage): string {
  const meta = event.Meta as Record<string, unknown>;
  return `\n{\n    "event": "${htmlEscape(event.Type)}",\n    "message": "${field(meta, "Message")}",\n` +
    `    "path": "${field(meta, "Path")}",\n    "origin": "${field(meta, "Origin")}",\n` +
    `    "key": "${field(meta, "Key")}"\n}\n\n\n`;
}

/** The request line and headers Go's `Request.Write` prints for a fresh client request, for the checksum. */
function checksum(method: string, target: URL, body: Uint8Array): string {
  const uri = (target.pathname || "/") + target.search;
  const head = `${method} ${uri} HTTP/1.1\r\nHost: ${target.host}\r\nUser-Agent: Go-http-client/1.1\r\n` +
    (body.length > 0 ? `Content-Length: ${body.length}\r\n` : "") + "\r\n";
  return createHash("md5").update(head).update(body).digest("hex");
}

function readTemplate(file: string): ReturnType<typeof parseTemplate> {
  return parseTemplate(Deno.readTextFileSync(file));
}

/**
 * Makes a webhook handler from its `handler_meta`; `null` when disabled.
 * @throws Error naming the field when `target_path` is not an absolute http(s) URL or `header_map` is not an
 * object of strings
 */
export function createWebhookHandler(
  meta: Record<string, unknown>,
  context: WebhookContext,
): EventHandler | null {
  const { log } = context;
  if (meta.disabled === true) return null;
  const targetPath = String(meta.target_path ?? "");
  if (!URL.canParse(targetPath) || !/^https?:$/.test(new URL(targetPath).protocol)) {
    throw new Error(
      `handler_meta.target_path must be an absolute http(s) URL, got ${JSON.stringify(targetPath)}`,
    );
  }
  const target = new URL(targetPath);
  const origin = parseOrigin(target);
  const requestTarget = (target.pathname || "/") + target.search;
  let method = String(meta.method ?? "").toUpperCase();
  if (!METHODS.has(method)) {
    log.warn("Method must be one of GET, PUT, POST, DELETE or PATCH, defaulting to GET", {
      target: targetPath,
    });
    method = "GET";
  }
  const headerMap = meta.header_map ?? {};
  if (
    typeof headerMap !== "object" || headerMap === null || Array.isArray(headerMap) ||
    Object.values(headerMap).some((v) => typeof v !== "string")
  ) {
    throw new Error("handler_meta.header_map must be an object of strings");
  }
  const timeoutSeconds = Number(meta.event_timeout ?? 0) || 0;

  let render: (event: EventMessage) => string;
  let contentType = "application/json";
  const templatePath = String(meta.template_path ?? "");
  const custom = templatePath ? tryTemplate(resolve(context.baseDir, templatePath), log, targetPath) : null;
  if (custom !== null) {
    render = (event) => executeTemplate(custom, event);
    if (!templatePath.endsWith(".json")) contentType = "";
  } else {
    const fallback = tryTemplate(join(context.templatePath, "default_webhook.json"), null, targetPath);
    render = fallback === null ? defaultWebhookBody : (event) => executeTemplate(fallback, event);
  }

  // What Go's default client sends for Tyk: its gzip offer, then the handler's headers.
  const headers = new Headers({ "User-Agent": "Tyk-Hookshot", "Accept-Encoding": "gzip" });
  // header_map names go out in Go's canonical form, or as written with ignore_canonical_mime_header_key
  const headerCase = context.ignoreCanonical ? new Map<string, string>() : undefined;
  for (const [name, value] of Object.entries(headerMap as Record<string, string>)) {
    headers.set(name, value);
    headerCase?.set(name.toLowerCase(), name);
  }
  if (!headers.has("content-type")) headers.set("Content-Type", contentType);

  return {
    async handle(event) {
      let body: Uint8Array;
      try {
        body = ENCODER.encode(render(event));
      } catch (err) {
        log.error(`Webhook template rendering error: ${(err as Error).message}`, { target: targetPath });
        return;
      }
      // Without a positive event_timeout every event is sent (docs/differences.md, "`event_timeout` 0")
      if (timeoutSeconds > 0) {
        const mark = DEDUP_PREFIX + checksum(method, target, body);
        if (!(await context.store.setIfAbsent(mark, "1", timeoutSeconds))) return;
      }
      const timeout = AbortSignal.timeout(TIMEOUT_MS);
      try {
        const response = await context.upstream.send(origin, {
          method,
          target: requestTarget,
          headers,
          headerCase,
          body: body.length > 0 ? body : null,
          signal: timeout,
          close: true,
        });
        await readAll(response.body);
        if (response.status < 200 || response.status >= 300) {
          log.error("Request to webhook failed", { target: targetPath, responseCode: response.status });
        }
      } catch (err) {
        const reason = timeout.aborted ? `no answer within ${TIMEOUT_MS / 1000} s` : (err as Error).message;
        log.error(`Webhook request failed: ${reason}`, { target: targetPath });
      }
    },
  };
}

/** Reads and parses a template; `null` (with a warning when `log` is given) when it cannot be used. */
function tryTemplate(
  file: string,
  log: Logger | null,
  target: string,
): ReturnType<typeof parseTemplate> | null {
  try {
    return readTemplate(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound && log === null) return null;
    log?.warn(`Custom template load failure, using default: ${(err as Error).message}`, { target, file });
    return null;
  }
}
