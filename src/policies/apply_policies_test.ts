import assert from "node:assert/strict";
import { parsePolicy, type Policy } from "../config/policy.ts";
import { emptySession, parseSession, type Session } from "../keys/session.ts";
import { applyPolicies, PolicyError } from "./apply_policies.ts";

function policies(...list: Record<string, unknown>[]): Map<string, Policy> {
  return new Map(list.map((json) => {
    const policy = parsePolicy({ org_id: "org", ...json });
    return [policy.id, policy];
  }));
}

function session(json: Record<string, unknown>): Session {
  return parseSession(JSON.stringify({ org_id: "org", ...json }));
}

const rights = (...apis: string[]) =>
  Object.fromEntries(apis.map((id) => [id, { api_id: id, api_name: id, versions: ["v1"] }]));

Deno.test("applyPolicies() without policies scopes each per-API limit to its API", () => {
  const s = session({
    access_rights: {
      a: { api_id: "a", limit: { quota_max: 5 } },
      b: { api_id: "b" },
    },
  });
  applyPolicies(s, new Map());
  assert.equal(s.access_rights.a.allowance_scope, "a");
  assert.equal(s.access_rights.b.allowance_scope, "");
});

Deno.test("applyPolicies() replaces the key's limits and ACL with a whole policy's", () => {
  const s = session({
    rate: 1000,
    per: 1,
    quota_max: 5,
    apply_policies: ["p"],
    access_rights: rights("own"),
  });
  applyPolicies(
    s,
    policies({
      id: "p",
      rate: 10,
      per: 60,
      quota_max: 100,
      quota_renewal_rate: 3600,
      access_rights: rights("a"),
    }),
  );
  assert.deepEqual(Object.keys(s.access_rights), ["a"]);
  assert.deepEqual([s.rate, s.per, s.quota_max, s.quota_renewal_rate], [10, 60, 100, 3600]);
  const limit = s.access_rights.a.limit;
  assert.deepEqual([limit.rate, limit.per, limit.quota_max, limit.quota_renewal_rate], [10, 60, 100, 3600]);
  assert.equal(s.access_rights.a.allowance_scope, "", "one policy sets no scope");
});

Deno.test("applyPolicies() merges partitions: ACL from one, quota and rate from others, best values win", () => {
  const s = session({
    apply_policies: ["quota", "rate", "rate2", "acl1", "acl2"],
    meta_data: { own: 1 },
    tags: ["k"],
  });
  applyPolicies(
    s,
    policies(
      {
        id: "acl1",
        partitions: { acl: true },
        access_rights: rights("a"),
        tags: ["t1"],
        meta_data: { from: "acl1" },
      },
      {
        id: "acl2",
        partitions: { acl: true },
        access_rights: { a: { api_id: "a", versions: ["v2"] } },
        is_inactive: true,
      },
      {
        id: "quota",
        partitions: { quota: true },
        quota_max: -1,
        quota_renewal_rate: 60,
        access_rights: rights("a"),
      },
      { id: "rate", partitions: { rate_limit: true }, rate: 10, per: 10, access_rights: rights("a") },
      { id: "rate2", partitions: { rate_limit: true }, rate: 100, per: 60, access_rights: rights("a") },
    ),
  );
  const a = s.access_rights.a;
  assert.deepEqual(a.versions, ["v1", "v2"]);
  assert.equal(s.quota_max, -1, "-1 (unlimited) beats any quota");
  assert.equal(s.quota_renewal_rate, 60);
  assert.deepEqual([s.rate, s.per], [100, 60], "one request every 0.6 s beats one a second");
  assert.equal(s.is_inactive, true);
  assert.deepEqual(s.tags.sort(), ["k", "t1"]);
  assert.deepEqual(s.meta_data, { own: 1, from: "acl1" });
});

Deno.test("applyPolicies() per_api policies copy each API's limit and scope the counters", () => {
  const s = session({ apply_policies: ["pa"] });
  applyPolicies(
    s,
    policies({
      id: "pa",
      partitions: { per_api: true },
      quota_max: 7,
      access_rights: {
        a: { api_id: "a", limit: { rate: 5, per: 1, quota_max: 50 } },
        b: { api_id: "b" },
      },
    }),
  );
  assert.equal(s.access_rights.a.allowance_scope, "a");
  assert.equal(s.access_rights.a.limit.quota_max, 50);
  assert.equal(s.access_rights.b.allowance_scope, "pa", "an API without its own limit takes the policy's");
  assert.equal(s.access_rights.b.limit.quota_max, 7);
});

Deno.test("applyPolicies() refuses an unknown single policy, another org's policy and mixed kinds", () => {
  assert.throws(() => applyPolicies(session({ apply_policies: ["nope"] }), new Map()), PolicyError);
  assert.throws(
    () =>
      applyPolicies(
        session({ apply_policies: ["p"] }),
        policies({ id: "p", access_rights: rights("a") }),
        "other",
      ),
    /belongs to org "org"/,
  );
  assert.throws(
    () =>
      applyPolicies(
        session({ apply_policies: ["pa", "part"] }),
        policies(
          { id: "pa", partitions: { per_api: true }, access_rights: rights("a") },
          { id: "part", partitions: { quota: true }, access_rights: rights("a") },
        ),
      ),
    /per_api set and some are partitioned/,
  );
  // With several policies, a missing one is skipped.
  const s = session({ apply_policies: ["gone", "p"] });
  applyPolicies(s, policies({ id: "p", access_rights: rights("a") }));
  assert.deepEqual(Object.keys(s.access_rights), ["a"]);
});

Deno.test("applyPolicies() accepts the deprecated apply_policy_id", () => {
  const s: Session = { ...emptySession(), org_id: "org", apply_policy_id: "p" };
  applyPolicies(s, policies({ id: "p", quota_max: 3, access_rights: rights("a") }));
  assert.equal(s.quota_max, 3);
});
