import assert from "node:assert/strict";
import { accessDefinitionSchema, emptySession, type Session } from "../../keys/session.ts";
import { testCtx } from "../_test_ctx.ts";
import type { RequestCtx } from "../context.ts";
import { GatewayError, MESSAGES } from "../errors.ts";
import { createKeyChecks } from "./key_checks.ts";

const NOW = 1_700_000_000_000;

/** A request to API `api-1`, version `v1`, carrying `session`. */
function withSession(fields: Partial<Session> | null): RequestCtx {
  const ctx = testCtx("http://gw/a/x");
  ctx.versionName = "v1";
  ctx.session = fields === null ? null : Object.assign(emptySession(), fields);
  return ctx;
}

function rights(apiId: string, versions: string[]): Session["access_rights"] {
  return { [apiId]: accessDefinitionSchema.parse({ api_id: apiId, versions }) };
}

function statusOf(out: unknown): number | undefined {
  return out instanceof GatewayError ? out.status : undefined;
}

Deno.test("createKeyChecks() lets a session with no access rights and no expiry through", () => {
  const check = createKeyChecks({ notVersioned: false, now: () => NOW });
  assert.equal(check(withSession({})), undefined);
});

Deno.test("createKeyChecks() answers 400 when auth attached no session, unless the endpoint is ignored", () => {
  const check = createKeyChecks({ notVersioned: false, now: () => NOW });
  const out = check(withSession(null));
  assert.ok(out instanceof GatewayError);
  assert.equal(out.status, 400);
  assert.equal(out.message, MESSAGES.sessionMissing);
  const ignored = withSession(null);
  ignored.ignored = true;
  assert.equal(check(ignored), undefined);
});

Deno.test("createKeyChecks() refuses an inactive key with 403 and an expired one with 401, and says why", () => {
  const said: string[] = [];
  const check = createKeyChecks({
    notVersioned: true,
    now: () => NOW,
    onKeyExpired: (_ctx, why) => said.push(why),
  });
  const inactive = check(withSession({ is_inactive: true }));
  assert.equal(statusOf(inactive), 403);
  assert.equal((inactive as GatewayError).message, MESSAGES.keyInactive);
  const expired = check(withSession({ expires: NOW / 1000 - 1 }));
  assert.equal(statusOf(expired), 401);
  assert.equal((expired as GatewayError).message, MESSAGES.keyExpired);
  assert.deepEqual(said, ["Attempted access from inactive key.", "Attempted access from expired key."]);
  assert.equal(check(withSession({ expires: NOW / 1000 + 60 })), undefined, "expires in a minute");
  assert.equal(check(withSession({ expires: 0 })), undefined, "0 never expires");
});

Deno.test("createKeyChecks() refuses a key whose access rights leave out the API or its version", () => {
  const check = createKeyChecks({ notVersioned: false, now: () => NOW });
  assert.equal(check(withSession({ access_rights: rights("api-1", ["v1"]) })), undefined);
  const otherApi = check(withSession({ access_rights: rights("api-2", ["v1"]) }));
  assert.equal(statusOf(otherApi), 403);
  assert.equal((otherApi as GatewayError).message, MESSAGES.accessDisallowed);
  assert.equal(statusOf(check(withSession({ access_rights: rights("api-1", ["v2"]) }))), 403);
});

Deno.test("createKeyChecks() skips the version list of an API that is not versioned", () => {
  const check = createKeyChecks({ notVersioned: true, now: () => NOW });
  assert.equal(check(withSession({ access_rights: rights("api-1", ["v2"]) })), undefined);
  assert.equal(statusOf(check(withSession({ access_rights: rights("api-2", []) }))), 403);
});
