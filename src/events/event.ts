/**
 * Tyk's events as handlers receive them: the names Tyk raises (note `RatelimitExceeded`), the metadata shapes
 * with Go's field names, and the envelope `{Type, Meta, TimeStamp}`.
 */

/** The events Portcullis raises, spelled as Tyk spells them. */
export const EVENTS = {
  authFailure: "AuthFailure",
  keyExpired: "KeyExpired",
  rateLimitExceeded: "RatelimitExceeded",
  quotaExceeded: "QuotaExceeded",
  versionFailure: "VersionFailure",
  tokenCreated: "TokenCreated",
  tokenUpdated: "TokenUpdated",
  tokenDeleted: "TokenDeleted",
} as const;

/** Metadata of key failures (AuthFailure, KeyExpired, RatelimitExceeded, QuotaExceeded): `EventKeyFailureMeta`. */
export interface KeyFailureMeta {
  Message: string;
  /** The request in HTTP/1.1 wire format, base64. */
  OriginatingRequest: string;
  Path: string;
  /** The client's IP. */
  Origin: string;
  Key: string;
}

/** Metadata of VersionFailure: a key failure (with an empty key) and the 403 text as `Reason`. */
export interface VersionFailureMeta extends KeyFailureMeta {
  Reason: string;
}

/** Metadata of TokenCreated, TokenUpdated and TokenDeleted. */
export interface TokenMeta {
  Message: string;
  OriginatingRequest: "";
  Org: string;
  Key: string;
}

/** Any event metadata: the shapes above, or another handler-visible object. */
export type EventMeta = KeyFailureMeta | VersionFailureMeta | TokenMeta | Record<string, unknown>;

/** What a handler receives (`config.EventMessage`). */
export interface EventMessage {
  Type: string;
  Meta: EventMeta;
  /** Go's `time.Time.String()` of the moment it was raised, e.g. `2026-08-21 12:39:47.123 +0000 UTC`. */
  TimeStamp: string;
}

/** True for the metadata of the four key-failure events, which the log handler prints in full. */
export function isKeyFailure(message: EventMessage): message is EventMessage & { Meta: KeyFailureMeta } {
  const type = message.Type;
  return type === EVENTS.authFailure || type === EVENTS.keyExpired || type === EVENTS.rateLimitExceeded ||
    type === EVENTS.quotaExceeded;
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/**
 * Formats a time as Go's `Time.String()` does in UTC: `2006-01-02 15:04:05.999999999 +0000 UTC`, the
 * fraction without trailing zeros (and without the dot when it is zero).
 */
export function goTimeString(ms: number): string {
  const date = new Date(ms);
  const fraction = pad(date.getUTCMilliseconds(), 3).replace(/0+$/, "");
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}` +
    `${fraction ? `.${fraction}` : ""} +0000 UTC`;
}
