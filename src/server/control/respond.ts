/**
 * Tyk's control-API response shapes (`doJSONWrite` in Tyk's `gateway/api.go`): compact JSON followed by a
 * newline.
 */

/** A JSON response the way Go's `json.Encoder` writes it. */
export function json(body: unknown, status = 200): Response {
  return new Response(`${JSON.stringify(body)}\n`, {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** `{"status":"error","message":…}` with a status code. */
export function apiError(status: number, message: string): Response {
  return json({ status: "error", message }, status);
}

/** `{"key":…,"status":"ok","action":…}` plus `key_hash` when there is one. */
export function modified(key: string, action: string, keyHash?: string): Response {
  return json(keyHash ? { key, status: "ok", action, key_hash: keyHash } : { key, status: "ok", action });
}

/** Tyk's answer to a known route called with another method. */
export const methodNotSupported = () => apiError(405, "Method not supported");

/** Reads a request body as JSON, or `undefined` when it is empty or malformed. */
export async function readJson(request: Request): Promise<unknown> {
  const text = await request.text();
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
