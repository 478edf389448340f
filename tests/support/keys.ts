/** Key helpers for end-to-end tests: sessions for the key API and requests made with a key. */
import assert from "node:assert/strict";
import type { TestGateway } from "./gateway.ts";

/**
 * A key session for `apis` (all versions `Default`), unlimited unless `extra` says otherwise.
 * @param limits per-API `limit` objects by API id
 */
export function keySession(
  apis: string[],
  extra: Record<string, unknown> = {},
  limits: Record<string, Record<string, unknown>> = {},
): Record<string, unknown> {
  return {
    org_id: "default",
    quota_max: -1,
    access_rights: Object.fromEntries(
      apis.map((id) => [id, { api_id: id, api_name: id, versions: ["Default"], limit: limits[id] }]),
    ),
    ...extra,
  };
}

/** Creates a key through `POST /tyk/keys/create` (or `/tyk/keys/<customId>`) and returns it. */
export async function createKey(gw: TestGateway, session: unknown, customId?: string): Promise<string> {
  const path = customId === undefined ? "/tyk/keys/create" : `/tyk/keys/${customId}`;
  const res = await gw.admin(path, { method: "POST", body: JSON.stringify(session) });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.key;
}

/** Sends `n` requests one after another; returns the status and body of each. */
export async function hit(url: string, n: number, key?: string): Promise<[number, string][]> {
  const out: [number, string][] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(url, { headers: key ? { authorization: key } : {} });
    out.push([res.status, await res.text()]);
  }
  return out;
}

/** Only the statuses of {@link hit}. */
export async function statuses(url: string, n: number, key?: string): Promise<number[]> {
  return (await hit(url, n, key)).map(([status]) => status);
}
