/**
 * Session metadata written back by JS hooks and virtual endpoints: `SessionMeta` replaces the key's
 * `meta_data` entirely when it differs, and the session is stored once the chain is done.
 */
import type { RequestCtx } from "../context.ts";

/** Go's `reflect.DeepEqual` on decoded JSON values. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  return keys.every((key) => Object.hasOwn(right, key) && sameJson(left[key], right[key]));
}

/**
 * Replaces the request's session `meta_data` with `meta` (`null`: empty) when it differs deeply, and marks
 * the session modified; the handler persists it once the chain is done. The request must have a session.
 */
export function writeBackMeta(ctx: RequestCtx, meta: Record<string, unknown> | null): void {
  const next = { ...meta };
  if (sameJson(ctx.session!.meta_data ?? {}, next)) return;
  // a copy: the key store may hand the same session object to other requests
  ctx.session = { ...ctx.session!, meta_data: next };
  ctx.sessionModified = true;
}
