/**
 * Raising Tyk's key-failure events from the request path: the metadata (`EventKeyFailureMeta`) is built only
 * when the API has a handler for the event, so an API without handlers pays nothing.
 */
import type { RequestCtx } from "../context.ts";
import type { EventBus } from "../../events/bus.ts";
import type { KeyFailureMeta } from "../../events/event.ts";
import { originatingRequest } from "./wire_request.ts";

/** Tyk's `request.RealIP`: `X-Real-IP`, else the first `X-Forwarded-For` entry, else the peer's address. */
export function realIp(ctx: RequestCtx): string {
  const real = ctx.request.headers.get("x-real-ip");
  if (real) return real;
  const forwarded = ctx.request.headers.get("x-forwarded-for");
  if (forwarded) return forwarded.split(",")[0].trim();
  return ctx.clientIp;
}

/** The metadata of a key-failure event raised by a request (`EventKeyFailureMeta`). */
export function keyFailureMeta(ctx: RequestCtx, message: string, key: string): KeyFailureMeta {
  return {
    Message: message,
    OriginatingRequest: originatingRequest(ctx),
    Path: ctx.path,
    Origin: realIp(ctx),
    Key: key,
  };
}

/**
 * A callback raising `name` with `message` on `bus`, or `undefined` when nothing listens for it.
 * @example
 * const onQuotaExceeded = keyFailureRaiser(bus, EVENTS.quotaExceeded, "Key Quota Limit Exceeded");
 */
export function keyFailureRaiser(
  bus: EventBus,
  name: string,
  message: string,
): ((ctx: RequestCtx, key: string) => void) | undefined {
  if (!bus.wants(name)) return undefined;
  return (ctx, key) => bus.fire(name, keyFailureMeta(ctx, message, key));
}
