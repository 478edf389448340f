import assert from "node:assert/strict";
import { cloneSession, emptySession, parseSession, serializeSession, ZERO_TIME } from "./session.ts";

// Tyk v3: pointers and nil maps written as null.
const V3 = JSON.stringify({
  last_check: 0,
  allowance: 1000,
  rate: 1000,
  per: 60,
  expires: 0,
  quota_max: -1,
  quota_renews: 1406121006,
  quota_remaining: 0,
  quota_renewal_rate: 60,
  access_rights: {
    api1: { api_name: "API 1", api_id: "api1", versions: ["Default"], allowed_urls: null, limit: null },
  },
  org_id: "53ac07777cbb8c2d53000002",
  oauth_keys: null,
  basic_auth_data: { password: "", hash_type: "" },
  jwt_data: { secret: "" },
  hmac_enabled: false,
  hmac_string: "",
  is_inactive: false,
  apply_policy_id: "",
  apply_policies: null,
  data_expires: 0,
  monitor: { trigger_limits: null },
  meta_data: null,
  tags: null,
  alias: "",
  last_updated: "1406121000",
  id_extractor_deadline: 0,
  session_lifetime: 0,
});

// Tyk v5.8: every field.
const V58 = JSON.stringify({
  last_check: 0,
  allowance: 0,
  rate: 5,
  per: 1,
  throttle_interval: 0,
  throttle_retry_limit: 0,
  max_query_depth: 0,
  date_created: "2024-05-01T10:00:00.123456789Z",
  expires: 1893456000,
  quota_max: 100,
  quota_renews: 1714560000,
  quota_remaining: 99,
  quota_renewal_rate: 3600,
  access_rights: {
    api1: {
      api_name: "API 1",
      api_id: "api1",
      versions: ["Default"],
      allowed_urls: [{ url: "/get", methods: ["GET"] }],
      restricted_types: [],
      allowed_types: [],
      limit: {
        rate: 10,
        per: 60,
        throttle_interval: 0,
        throttle_retry_limit: 0,
        max_query_depth: 0,
        quota_max: 5,
        quota_renews: 0,
        quota_remaining: 5,
        quota_renewal_rate: 60,
        smoothing: null,
      },
      field_access_rights: [],
      disable_introspection: false,
      allowance_scope: "api1",
    },
  },
  org_id: "default",
  oauth_client_id: "",
  oauth_keys: null,
  certificate: "",
  basic_auth_data: { password: "", hash_type: "" },
  jwt_data: { secret: "" },
  hmac_enabled: false,
  enable_http_signature_validation: false,
  hmac_string: "",
  rsa_certificate_id: "",
  is_inactive: false,
  apply_policy_id: "",
  apply_policies: ["pol1"],
  data_expires: 0,
  monitor: { trigger_limits: null },
  enable_detail_recording: false,
  enable_detailed_recording: false,
  meta_data: { developer_id: "dev1", nested: { a: 1 } },
  tags: ["t1"],
  alias: "alice",
  last_updated: "1714556400",
  id_extractor_deadline: 0,
  session_lifetime: 0,
  smoothing: null,
});

// Tyk v5.12+: zero fields omitted.
const V512 = JSON.stringify({
  rate: 5,
  per: 1,
  date_created: "2026-02-01T10:00:00Z",
  quota_max: -1,
  access_rights: { api1: { api_id: "api1", api_name: "API 1", versions: ["Default"] } },
  org_id: "default",
  post_expiry_action: "retain",
  post_expiry_grace_period: 3600,
});

Deno.test("parseSession() reads a Tyk v3 record with nulls as zero values", () => {
  const s = parseSession(V3);
  assert.equal(s.rate, 1000);
  assert.equal(s.throttle_interval, 0);
  assert.equal(s.date_created, ZERO_TIME);
  assert.deepEqual(s.oauth_keys, {});
  assert.deepEqual(s.apply_policies, []);
  assert.deepEqual(s.meta_data, {});
  assert.deepEqual(s.tags, []);
  assert.deepEqual(s.monitor, { trigger_limits: [] });
  assert.deepEqual(s.access_rights.api1.allowed_urls, []);
  assert.equal(s.access_rights.api1.limit.rate, 0);
  assert.equal(s.access_rights.api1.limit.smoothing, null);
  assert.equal(s.smoothing, null);
});

Deno.test("parseSession() reads a Tyk v5.8 record with every field", () => {
  const s = parseSession(V58);
  assert.equal(s.quota_remaining, 99);
  assert.equal(s.date_created, "2024-05-01T10:00:00.123456789Z");
  assert.deepEqual(s.access_rights.api1.allowed_urls, [{ url: "/get", methods: ["GET"] }]);
  assert.equal(s.access_rights.api1.limit.quota_max, 5);
  assert.equal(s.access_rights.api1.allowance_scope, "api1");
  assert.deepEqual(s.meta_data, { developer_id: "dev1", nested: { a: 1 } });
  assert.deepEqual(s.apply_policies, ["pol1"]);
});

Deno.test("parseSession() reads a Tyk v5.12 compact record with omitted zero fields", () => {
  const s = parseSession(V512);
  assert.equal(s.rate, 5);
  assert.equal(s.expires, 0);
  assert.equal(s.is_inactive, false);
  assert.equal(s.alias, "");
  assert.deepEqual(s.access_rights.api1.limit, {
    rate: 0,
    per: 0,
    throttle_interval: 0,
    throttle_retry_limit: 0,
    max_query_depth: 0,
    quota_max: 0,
    quota_renews: 0,
    quota_remaining: 0,
    quota_renewal_rate: 0,
    smoothing: null,
  });
  assert.deepEqual(s.access_rights.api1.endpoints, []);
  assert.equal(s.post_expiry_action, "retain");
  assert.equal(s.post_expiry_grace_period, 3600);
});

Deno.test("parseSession() keeps unknown fields, at the top and inside access rights", () => {
  const s = parseSession(JSON.stringify({
    rate: 1,
    json_rpc_methods_future: { x: 1 },
    access_rights: { a: { api_id: "a", mcp_tools: ["t"] } },
  }));
  assert.deepEqual(s.json_rpc_methods_future, { x: 1 });
  assert.deepEqual(s.access_rights.a.mcp_tools, ["t"]);
  const again = JSON.parse(serializeSession(s));
  assert.deepEqual(again.json_rpc_methods_future, { x: 1 });
  assert.deepEqual(again.access_rights.a.mcp_tools, ["t"]);
});

Deno.test("parseSession() throws an Error naming the bad field", () => {
  assert.throws(
    () => parseSession('{"rate":"5"}'),
    /Cannot parse session: rate: expected number, received string/,
  );
  assert.throws(
    () => parseSession('{"access_rights":{"a":{"versions":"v1"}}}'),
    /Cannot parse session: access_rights\.a\.versions: expected array/,
  );
  assert.throws(() => parseSession("[1]"), /Cannot parse session: expected object/);
  assert.throws(() => parseSession("{"), /Cannot parse session: /);
});

Deno.test("serializeSession() emits every field in Tyk's order", () => {
  const out = JSON.parse(serializeSession(parseSession(V512)));
  const keys = Object.keys(out);
  assert.deepEqual(keys.slice(0, 8), [
    "last_check",
    "allowance",
    "rate",
    "per",
    "throttle_interval",
    "throttle_retry_limit",
    "max_query_depth",
    "date_created",
  ]);
  for (const key of ["quota_renewal_rate", "access_rights", "hmac_string", "session_lifetime", "smoothing"]) {
    assert.ok(keys.includes(key), key);
  }
  assert.equal(out.access_rights.api1.limit.rate, 0);
  assert.ok("quota_renewal_rate" in out.access_rights.api1.limit);
  assert.equal(out.smoothing, null);
});

Deno.test("serializeSession() fills fields missing from a hand-built session", () => {
  const session = emptySession();
  session.rate = 3;
  // A caller that builds an access definition by hand, without a limit.
  session.access_rights.api9 = { api_id: "api9", api_name: "n", versions: [] } as never;
  const out = JSON.parse(serializeSession(session));
  assert.equal(out.rate, 3);
  assert.equal(out.access_rights.api9.limit.quota_max, 0);
  assert.deepEqual(out.access_rights.api9.allowed_urls, []);
});

Deno.test("serializeSession() round-trips through parseSession()", () => {
  for (const text of [V3, V58, V512]) {
    const once = parseSession(text);
    assert.deepEqual(parseSession(serializeSession(once)), once);
  }
});

Deno.test("emptySession() returns a fresh zero session each time", () => {
  const a = emptySession();
  a.tags.push("x");
  assert.deepEqual(emptySession().tags, []);
  assert.equal(a.date_created, ZERO_TIME);
  assert.deepEqual(a.access_rights, {});
});

Deno.test("cloneSession() copies deeply", () => {
  const original = parseSession(V58);
  const copy = cloneSession(original);
  assert.deepEqual(copy, original);
  copy.access_rights.api1.limit.quota_remaining = 0;
  copy.tags.push("x");
  (copy.meta_data.nested as { a: number }).a = 2;
  assert.equal(original.access_rights.api1.limit.quota_remaining, 5);
  assert.deepEqual(original.tags, ["t1"]);
  assert.deepEqual(original.meta_data.nested, { a: 1 });
});
