/**
 * The one place that knows Tyk's error bodies: the message catalogue, the error type steps return, and
 * the renderer that turns it into Tyk's JSON or XML error document.
 */

/** Tyk's messages, with its exact text and casing. */
export const MESSAGES = {
  authFieldMissing: "Authorization field missing",
  keyNotFound: "Access to this API has been disallowed",
  accessDisallowed: "Access to this API has been disallowed",
  keyExpired: "Key has expired, please renew",
  keyInactive: "Key is inactive, please renew",
  rateLimited: "Rate Limit Exceeded",
  apiRateLimited: "API Rate Limit Exceeded",
  quotaExceeded: "Quota exceeded",
  endpointForbidden: "Requested endpoint is forbidden",
  versionMissing: "This API version does not seem to exist",
  versionInfoNotFound: "Version information not found",
  versionExpired: "Api Version has expired, please check documentation or contact administrator",
  apiExpired: "API has expired, please check documentation or contact administrator",
  noDefaultVersion: "No default API version for this non-versioned API found",
  ambiguousDefaultVersion: "Ambiguous default API version for this non-versioned API",
  resourceDisallowed: "Access to this resource has been disallowed",
  proxyFailed: "There was a problem proxying the request",
  upstreamTimeout: "Upstream service reached hard timeout.",
  upstreamLookupFailed: "Upstream host lookup failed",
  clientClosed: "Client closed request",
  bodyReadFailed: "There was a problem with reading Body of the Request.",
  requestTooLarge: "Request is too large",
  contentLengthRequired: "Content length is required for this request",
  internal: "Internal Server Error",
  middlewareError: "middleware error",
  responseMiddlewareError: "Middleware error",
  virtualEndpointFailed: "Error during virtual endpoint execution. Contact Administrator for more details.",
  keyStoreUnavailable: "Key store unavailable, please try again later",
  sessionMissing:
    "Session state is missing or unset! Please make sure that auth headers are properly applied",
  /** Go's status text, which Tyk sends with `http.Error` for a body over `max_request_body_size`. */
  requestEntityTooLarge: "Request Entity Too Large",
  /** Ours: the request bodies held in memory across requests reached `max_buffered_total_size`. */
  bodyBufferFull: "Too many request bodies are being buffered, please try again later",
} as const;

/** A failure the client is told about, with the status and text Tyk would send. */
export class GatewayError extends Error {
  override name = "GatewayError";
  /** Headers set on the error response besides Tyk's own (ReturnOverrides.ResponseHeaders). */
  headers?: Record<string, string>;
  /**
   * Answered the way Go's `http.Error` does (plain text, no template, no `X-Generator`), as Tyk answers
   * where it writes the error before its middleware chain, e.g. `max_request_body_size`.
   */
  plain?: boolean;
  constructor(
    readonly status: number,
    message: string,
    options?: ErrorOptions & { headers?: Record<string, string>; plain?: boolean },
  ) {
    super(message, options);
    if (options?.headers) this.headers = options.headers;
    if (options?.plain) this.plain = true;
  }
}

/** Go's `http.Error`: the message and a newline as `text/plain`, with `nosniff`. */
function plainError(err: GatewayError, closeConnections: boolean | undefined): Response {
  const headers = new Headers({
    "Content-Type": "text/plain; charset=utf-8",
    "X-Content-Type-Options": "nosniff",
  });
  if (closeConnections) headers.set("Connection", "close");
  return new Response(`${err.message}\n`, { status: err.status, headers });
}

/** Options of the error renderer, resolved once from `tyk.conf`. */
export interface ErrorRenderOptions {
  /** Leave out `X-Generator: tyk.io`. @default false */
  hideGeneratorHeader?: boolean;
  /** Add `Connection: close`. @default false */
  closeConnections?: boolean;
  /** Templates read from `template_path` at start-up: file name (`error.json`, `error_401.xml`) → text. */
  templates?: Map<string, string>;
}

const XML_TYPES = new Set(["application/xml", "text/xml", "application/soap+xml"]);

/** Escapes a message for the inside of a JSON string. */
function jsonEscape(message: string): string {
  return JSON.stringify(message).slice(1, -1);
}

const XML_ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&#34;",
  "'": "&#39;",
};

/** Escapes like Go's `html.EscapeString`, which Tyk's XML template applies. */
function xmlEscape(message: string): string {
  return message.replace(/[&<>"']/g, (c) => XML_ENTITIES[c]);
}

function renderTemplate(template: string, message: string, status: number): string {
  return template.replace(/\{\{\s*\.Message\s*\}\}/g, message).replace(
    /\{\{\s*\.StatusCode\s*\}\}/g,
    String(status),
  );
}

/**
 * Builds the function that renders every Tyk error response of this gateway.
 * @example
 * const render = createErrorRenderer({ hideGeneratorHeader: false });
 * render(new GatewayError(403, MESSAGES.keyNotFound), request.headers.get("content-type"));
 */
export function createErrorRenderer(options: ErrorRenderOptions = {}) {
  const templates = options.templates ?? new Map<string, string>();
  return function renderError(err: GatewayError, requestContentType: string | null): Response {
    if (err.plain) return plainError(err, options.closeConnections);
    const baseType = (requestContentType ?? "").split(";")[0].trim().toLowerCase();
    const xml = XML_TYPES.has(baseType);
    const ext = xml ? "xml" : "json";
    const template = templates.get(`error_${err.status}.${ext}`) ?? templates.get(`error.${ext}`);
    const message = xml ? xmlEscape(err.message) : jsonEscape(err.message);
    const body = template !== undefined
      ? renderTemplate(template, message, err.status)
      : xml
      ? `<?xml version = "1.0" encoding = "UTF-8"?>\n<error>${message}</error>\n`
      : `{\n    "error": "${message}"\n}`;
    const headers = new Headers();
    if (err.headers) { for (const [name, value] of Object.entries(err.headers)) headers.set(name, value); }
    headers.set("Content-Type", xml ? baseType : "application/json");
    if (!options.hideGeneratorHeader) headers.set("X-Generator", "tyk.io");
    if (options.closeConnections) headers.set("Connection", "close");
    return new Response(body, { status: err.status, headers });
  };
}

/** Renders errors for this gateway; see {@link createErrorRenderer}. */
export type ErrorRenderer = ReturnType<typeof createErrorRenderer>;
