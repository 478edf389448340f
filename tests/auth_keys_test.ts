/** End to end: auth-token APIs and the /tyk/keys API through the real gateway process. */
import assert from "node:assert/strict";
import { keylessApi, SECRET, startGateway, tokenApi } from "./support/gateway.ts";
import { startUpstream } from "./support/upstream.ts";
import { freePort } from "./support/free_port.ts";
import { statusOf } from "./support/http.ts";
import { createKey, statuses } from "./support/keys.ts";
import { redisCli, startRedis } from "./support/redis_server.ts";
import { hasRedisServer } from "./support/tools.ts";

function session(apis: string[], extra: Record<string, unknown> = {}) {
  return {
    org_id: "default",
    rate: 0,
    per: 0,
    quota_max: -1,
    expires: 0,
    access_rights: Object.fromEntries(
      apis.map((id) => [id, { api_id: id, api_name: id, versions: ["Default"] }]),
    ),
    meta_data: { team: "blue" },
    ...extra,
  };
}

async function errorOf(res: Response): Promise<[number, string]> {
  return [res.status, (await res.json()).error];
}

Deno.test("auth-token API: missing, unknown, valid, Bearer, param and cookie keys", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    apps: {
      "t.json": tokenApi("tok", "/tok/", upstream.url),
      "p.json": tokenApi("par", "/par/", upstream.url, {
        auth: {
          auth_header_name: "x-key",
          use_param: true,
          param_name: "key",
          use_cookie: true,
          cookie_name: "ck",
        },
        strip_auth_data: true,
      }),
    },
  });
  try {
    const missing = await fetch(`${gw.url}/tok/x`);
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get("x-generator"), "tyk.io");
    assert.equal(await missing.text(), '{\n    "error": "Authorization field missing"\n}');
    assert.deepEqual(
      await errorOf(await fetch(`${gw.url}/tok/x`, { headers: { authorization: "nope-nope" } })),
      [
        403,
        "Access to this API has been disallowed",
      ],
    );

    const created = await gw.admin("/tyk/keys/create", {
      method: "POST",
      body: JSON.stringify(session(["tok", "par"])),
    });
    assert.equal(created.status, 200);
    const { key, status, action } = await created.json();
    assert.equal(status, "ok");
    assert.equal(action, "added");

    assert.equal(await statusOf(fetch(`${gw.url}/tok/x`, { headers: { authorization: key } })), 200);
    assert.equal(
      await statusOf(fetch(`${gw.url}/tok/x`, { headers: { authorization: `Bearer ${key}` } })),
      200,
    );
    const viaParam = await (await fetch(`${gw.url}/par/x?key=${key}&other=1`)).json();
    assert.equal(viaParam.query, "other=1", "strip_auth_data removes the key param");
    const viaCookie = await fetch(`${gw.url}/par/x`, { headers: { cookie: `ck=${key}; z=1` } });
    assert.equal(viaCookie.status, 200);
    assert.equal((await viaCookie.json()).headers.cookie, "z=1");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("auth-token API: expired, inactive and foreign keys are refused with Tyk's messages", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    apps: {
      "t.json": tokenApi("tok", "/tok/", upstream.url),
      "o.json": tokenApi("other", "/other/", upstream.url),
    },
  });
  try {
    const create = async (body: unknown) =>
      (await (await gw.admin("/tyk/keys", { method: "POST", body: JSON.stringify(body) })).json())
        .key as string;
    const expired = await create(session(["tok"], { expires: Math.floor(Date.now() / 1000) - 60 }));
    const inactive = await create(session(["tok"], { is_inactive: true }));
    const foreign = await create(session(["other"]));
    assert.deepEqual(await errorOf(await fetch(`${gw.url}/tok/`, { headers: { authorization: expired } })), [
      401,
      "Key has expired, please renew",
    ]);
    assert.deepEqual(await errorOf(await fetch(`${gw.url}/tok/`, { headers: { authorization: inactive } })), [
      403,
      "Key is inactive, please renew",
    ]);
    assert.deepEqual(await errorOf(await fetch(`${gw.url}/tok/`, { headers: { authorization: foreign } })), [
      403,
      "Access to this API has been disallowed",
    ]);
    assert.equal(await statusOf(fetch(`${gw.url}/other/`, { headers: { authorization: foreign } })), 200);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("keys API: custom id, get, update with and without suppress_reset, list, delete", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({ apps: { "t.json": tokenApi("tok", "/tok/", upstream.url) } });
  try {
    const created = await (await gw.admin("/tyk/keys/my-custom-key", {
      method: "POST",
      body: JSON.stringify(session(["tok"], { quota_max: 10, quota_renewal_rate: 3600 })),
    })).json();
    assert.equal(created.action, "added");
    const key = created.key as string;
    assert.equal(key, "defaultmy-custom-key");
    const got = await (await gw.admin(`/tyk/keys/${key}`)).json();
    assert.deepEqual(got.meta_data, { team: "blue" });
    assert.equal(got.org_id, "default");
    const renews = got.quota_renews;
    assert.deepEqual(await statuses(`${gw.url}/tok/`, 3, key), [200, 200, 200]);

    const updated = await gw.admin(`/tyk/keys/${key}?suppress_reset=1`, {
      method: "PUT",
      body: JSON.stringify({ ...got, meta_data: { team: "red" }, quota_renews: renews + 100 }),
    });
    assert.deepEqual(await updated.json(), { key, status: "ok", action: "modified" });
    const after = await (await gw.admin(`/tyk/keys/${key}`)).json();
    assert.deepEqual(after.meta_data, { team: "red" });
    assert.equal(after.quota_renews, renews, "suppress_reset keeps the stored renewal time");
    assert.equal(after.quota_remaining, 7, "suppress_reset keeps what was used");
    assert.equal(after.date_created, got.date_created);

    const reset = await gw.admin(`/tyk/keys/${key}`, { method: "PUT", body: JSON.stringify(after) });
    assert.deepEqual(await reset.json(), { key, status: "ok", action: "modified" });
    const fresh = await (await gw.admin(`/tyk/keys/${key}`)).json();
    assert.equal(fresh.quota_remaining, 10, "an update without suppress_reset starts the quota again");
    assert.ok(fresh.quota_renews >= renews);
    assert.deepEqual(await statuses(`${gw.url}/tok/`, 1, key), [200]);
    assert.equal((await (await gw.admin(`/tyk/keys/${key}`)).json()).quota_remaining, 9);

    const listed = await (await gw.admin("/tyk/keys")).json();
    assert.ok(listed.keys.includes(key));

    const missingPut = await gw.admin("/tyk/keys/not-a-key", { method: "PUT", body: JSON.stringify(got) });
    assert.deepEqual([missingPut.status, await missingPut.json()], [404, {
      status: "error",
      message: "Key is not found",
    }]);
    assert.equal((await gw.admin(`/tyk/keys/${key}`, { method: "DELETE" })).status, 200);
    const gone = await gw.admin(`/tyk/keys/${key}`);
    assert.deepEqual([gone.status, await gone.json()], [404, { status: "error", message: "Key not found" }]);
    const again = await gw.admin(`/tyk/keys/${key}`, { method: "DELETE" });
    assert.deepEqual([again.status, await again.json()], [404, {
      status: "error",
      message: "There is no such key found",
    }]);
    assert.equal(await statusOf(fetch(`${gw.url}/tok/`, { headers: { authorization: key } })), 403);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("control API: wrong or missing secret is refused; bad bodies get Tyk's errors", async () => {
  const gw = await startGateway({});
  try {
    for (const headers of [{}, { "x-tyk-authorization": "wrong" }] as Record<string, string>[]) {
      const res = await fetch(`${gw.url}/tyk/keys`, { headers });
      assert.deepEqual([res.status, await res.json()], [403, {
        status: "error",
        message: "Attempted administrative access with invalid or missing key!",
      }]);
    }
    const bad = await gw.admin("/tyk/keys", { method: "POST", body: "{not json" });
    assert.deepEqual([bad.status, await bad.json()], [400, {
      status: "error",
      message: "Request malformed",
    }]);
    const master = await gw.admin("/tyk/keys/create", {
      method: "POST",
      body: JSON.stringify({ org_id: "default" }),
    });
    assert.equal(master.status, 400);
    const wrongMethod = await gw.admin("/tyk/keys/create", { method: "GET" });
    assert.deepEqual([wrongMethod.status, await wrongMethod.json()], [405, {
      status: "error",
      message: "Method not supported",
    }]);
    const unknown = await gw.admin("/tyk/nothing");
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
    const hello = await fetch(`${gw.url}/hello`);
    assert.equal(hello.status, 200);
    assert.equal((await hello.json()).status, "pass");
  } finally {
    await gw.stop();
  }
});

Deno.test("control API: an empty secret refuses every admin call", async () => {
  const gw = await startGateway({ conf: { secret: "" } });
  const body = JSON.stringify(session(["tok"]));
  const calls: [string, string][] = [
    ["GET", "/tyk/keys"],
    ["POST", "/tyk/keys/create"],
    ["POST", "/tyk/keys/custom-key"],
    ["GET", "/tyk/keys/custom-key"],
    ["PUT", "/tyk/keys/custom-key"],
    ["DELETE", "/tyk/keys/custom-key"],
    ["GET", "/tyk/apis"],
    ["POST", "/tyk/apis"],
    ["DELETE", "/tyk/apis/tok"],
    ["GET", "/tyk/policies"],
    ["GET", "/tyk/reload"],
    ["GET", "/tyk/reload/group"],
    ["GET", "/tyk/no-such-endpoint"],
  ];
  try {
    for (const [method, path] of calls) {
      for (const headers of [{}, { "x-tyk-authorization": "" }] as Record<string, string>[]) {
        const res = await fetch(`${gw.url}${path}`, {
          method,
          headers,
          body: method === "GET" ? null : body,
        });
        assert.deepEqual([res.status, await res.json()], [403, {
          status: "error",
          message: "Attempted administrative access with invalid or missing key!",
        }], `${method} ${path} ${JSON.stringify(headers)}`);
      }
    }
    await gw.waitForLog("secret is empty");
  } finally {
    await gw.stop();
  }
});

Deno.test("embedded store: keys and meta_data survive a gateway restart", async () => {
  const upstream = await startUpstream();
  const dir = await Deno.makeTempDir({ prefix: "portcullis-test-" });
  let gw = await startGateway({ dir, apps: { "t.json": tokenApi("tok", "/tok/", upstream.url) } });
  let key = "";
  try {
    key =
      (await (await gw.admin("/tyk/keys/create", { method: "POST", body: JSON.stringify(session(["tok"])) }))
        .json()).key;
  } finally {
    await gw.stop();
  }
  const { spawnGateway } = await import("./support/gateway.ts");
  gw = await spawnGateway(dir, SECRET);
  try {
    assert.equal(await statusOf(fetch(`${gw.url}/tok/`, { headers: { authorization: key } })), 200);
    assert.deepEqual((await (await gw.admin(`/tyk/keys/${key}`)).json()).meta_data, { team: "blue" });
  } finally {
    await gw.stop();
    await upstream.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** How many key reads Redis has served (keyspace hits and misses): a key lookup adds to it, PING does not. */
async function keyReads(port: number): Promise<number> {
  const info = await redisCli(port, ["INFO", "stats"]);
  const stat = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, "m").exec(info)?.[1]);
  return stat("keyspace_hits") + stat("keyspace_misses");
}

Deno.test({
  name: "keyless and keyed APIs coexist; keyless never touches the key store",
  ignore: !hasRedisServer(),
}, async () => {
  // On Redis, where every key lookup shows in its keyspace statistics
  const redis = await startRedis();
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { storage: { type: "redis", host: "127.0.0.1", port: redis.port } },
    apps: {
      "k.json": keylessApi("open", "/open/", upstream.url),
      "t.json": tokenApi("tok", "/tok/", upstream.url),
    },
  });
  try {
    const key = await createKey(gw, session(["tok"]));
    assert.equal(await statusOf(fetch(`${gw.url}/tok/`)), 401);
    const before = await keyReads(redis.port);
    for (const authorization of [key, "not-a-key", ""]) {
      assert.equal(await statusOf(fetch(`${gw.url}/open/`, { headers: { authorization } })), 200);
    }
    assert.equal(await keyReads(redis.port), before, "a keyless request read the key store");
    // the measure sees a lookup: an unknown key on the keyed API is looked up in Redis
    assert.equal(await statusOf(fetch(`${gw.url}/tok/`, { headers: { authorization: "not-a-key" } })), 403);
    assert.ok(await keyReads(redis.port) > before);
  } finally {
    await gw.stop();
    await upstream.stop();
    await redis.stop();
  }
});

Deno.test("control_api_port: /tyk/, /hello and /ready are served only on the control port, APIs only on the other", async () => {
  const upstream = await startUpstream();
  const controlPort = freePort();
  const gw = await startGateway({
    conf: { control_api_port: controlPort },
    apps: { "k.json": keylessApi("open", "/open/", upstream.url) },
  });
  const control = `http://127.0.0.1:${controlPort}`;
  const headers = { "x-tyk-authorization": SECRET };
  try {
    await gw.waitForLog(`Control API listening on 127.0.0.1:${controlPort}`);
    const keys = await fetch(`${control}/tyk/keys`, { headers });
    assert.equal(keys.status, 200);
    assert.deepEqual(await keys.json(), { keys: [] });
    assert.equal((await (await fetch(`${control}/hello`)).json()).status, "pass");
    assert.equal(await statusOf(fetch(`${control}/ready`)), 200);
    assert.equal(await statusOf(fetch(`${control}/open/`)), 404);
    for (const path of ["/tyk/keys", "/hello", "/ready"]) {
      assert.equal(await statusOf(fetch(`${gw.url}${path}`, { headers })), 404, path);
    }
    assert.equal(await statusOf(fetch(`${gw.url}/open/`)), 200);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});
