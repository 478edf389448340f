/** End to end: policies from policy_path, /tyk/policies, reloads, and <listen_path>/tyk/rate-limits/. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startGateway, tokenApi } from "./support/gateway.ts";
import { createKey, statuses } from "./support/keys.ts";
import { startUpstream } from "./support/upstream.ts";

function policy(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    org_id: "default",
    rate: 2,
    per: 60,
    quota_max: -1,
    access_rights: { tok: { api_id: "tok", api_name: "tok", versions: ["Default"] } },
    ...extra,
  };
}

const KEY_WITH = (ids: string[]) => ({ org_id: "default", apply_policies: ids });

Deno.test("policies: loaded from policy_path (a broken file is named, the rest load), applied to keys", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { policies: { policy_source: "file", policy_path: "policies" } },
    apps: { "t.json": tokenApi("tok", "/tok/", upstream.url) },
    files: {
      "policies/gold.json": JSON.stringify(policy("gold", { quota_max: 10, quota_renewal_rate: 3600 })),
      "policies/broken.json": '{ "id": "broken", ',
    },
  });
  try {
    await gw.waitForLog(/Cannot load policy from \S*policies\/broken\.json: not valid JSON/);
    const listed = await (await gw.admin("/tyk/policies")).json();
    assert.deepEqual(listed.map((p: { id: string }) => p.id), ["gold"]);

    const key = await createKey(gw, KEY_WITH(["gold"]));
    assert.deepEqual(await statuses(`${gw.url}/tok/`, 3, key), [200, 200, 429]);
    const shown = await (await gw.admin(`/tyk/keys/${key}`)).json();
    assert.deepEqual([shown.rate, shown.per, shown.quota_max, shown.quota_remaining], [2, 60, 10, 8]);

    const limits = await fetch(`${gw.url}/tok/tyk/rate-limits/`, { headers: { authorization: key } });
    assert.equal(limits.headers.get("content-type"), "application/json");
    const body = await limits.json();
    assert.deepEqual(body.rate_limit, { requests: 2, per_unit: 60 });
    assert.deepEqual([body.quota.quota_max, body.quota.quota_remaining], [10, 8]);
    assert.ok(body.quota.quota_renews > Date.now() / 1000);

    const unknown = await gw.admin("/tyk/keys/create", {
      method: "POST",
      body: JSON.stringify(KEY_WITH(["nope"])),
    });
    assert.deepEqual([unknown.status, await unknown.json()], [500, {
      status: "error",
      message: 'Failed to create key - policy not found: "nope"',
    }]);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("policies: /tyk/policies writes files; the loaded set changes only on reload", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { policies: { policy_path: "policies" } },
    apps: { "t.json": tokenApi("tok", "/tok/", upstream.url) },
    files: { "policies/silver.json": JSON.stringify(policy("silver")) },
  });
  try {
    const added = await gw.admin("/tyk/policies", { method: "POST", body: JSON.stringify(policy("bronze")) });
    assert.deepEqual(await added.json(), { key: "bronze", status: "ok", action: "added" });
    assert.ok((await Deno.stat(join(gw.dir, "policies", "bronze.json"))).isFile);
    assert.equal((await gw.admin("/tyk/policies/bronze")).status, 404, "not loaded before a reload");
    const noId = await gw.admin("/tyk/policies", { method: "POST", body: JSON.stringify({ rate: 1 }) });
    assert.deepEqual([noId.status, (await noId.json()).message], [
      400,
      "Unable to create policy without id.",
    ]);

    const key = await createKey(gw, KEY_WITH(["silver"]));
    assert.deepEqual(await statuses(`${gw.url}/tok/`, 3, key), [200, 200, 429]);
    const changed = await gw.admin("/tyk/policies/silver", {
      method: "PUT",
      body: JSON.stringify(policy("silver", { rate: 100 })),
    });
    assert.deepEqual(await changed.json(), { key: "silver", status: "ok", action: "modified" });
    assert.deepEqual(await statuses(`${gw.url}/tok/`, 1, key), [429], "still the loaded policy");

    await gw.admin("/tyk/reload?block=true");
    assert.equal((await (await gw.admin("/tyk/policies/bronze")).json()).id, "bronze");
    assert.deepEqual(await statuses(`${gw.url}/tok/`, 3, key), [200, 200, 200], "the changed policy applies");

    const deleted = await gw.admin("/tyk/policies/silver", { method: "DELETE" });
    assert.deepEqual(await deleted.json(), { key: "silver", status: "ok", action: "deleted" });
    await gw.admin("/tyk/reload?block=true");
    assert.deepEqual(
      await statuses(`${gw.url}/tok/`, 1, key),
      [403],
      "a key whose policy is gone is refused",
    );
    await gw.waitForLog('Cannot apply policies to key: policy not found: \\"silver\\"');
    const gone = await gw.admin("/tyk/policies/silver", { method: "DELETE" });
    assert.deepEqual([gone.status, (await gone.json()).message], [500, "Delete failed"]);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});
