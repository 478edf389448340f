/**
 * End to end: Gateway API and routing details Tyk users rely on: duplicate listen paths, wrong methods,
 * keys by hash and by custom id, listing by API, and sessions of any size.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { keylessApi, startGateway, tokenApi } from "./support/gateway.ts";
import { type Echo, startUpstream } from "./support/upstream.ts";

Deno.test("duplicate listen paths: the API that served the path keeps it, the other moves to <listen_path>-<api_id>", async () => {
  const upstream = await startUpstream();
  // "z" serves /dup/ first; "a" comes before it in load order once it is added
  const gw = await startGateway({ apps: { "z.json": keylessApi("z", "/dup/", `${upstream.url}/z`) } });
  const pathAt = async (path: string) => ((await (await fetch(`${gw.url}${path}`)).json()) as Echo).path;
  const listenPathOf = async (apiId: string) =>
    (await (await gw.admin(`/tyk/apis/${apiId}`)).json()).proxy.listen_path;
  try {
    await Deno.writeTextFile(
      join(gw.dir, "apps", "a.json"),
      JSON.stringify(keylessApi("a", "/dup/", `${upstream.url}/a`)),
    );
    await (await gw.admin("/tyk/reload?block=true")).body?.cancel();
    assert.equal(await pathAt("/dup/x"), "/z/x");
    assert.equal(await pathAt("/dup/-a/x"), "/a/x");
    assert.equal(await listenPathOf("z"), "/dup/");
    assert.equal(await listenPathOf("a"), "/dup/-a");
    const listed = await (await gw.admin("/tyk/apis")).json();
    assert.deepEqual(
      listed.map((
        api: { api_id: string; proxy: { listen_path: string } },
      ) => [api.api_id, api.proxy.listen_path]),
      [["a", "/dup/-a"], ["z", "/dup/"]],
    );
    await gw.waitForLog("now listens on /dup/-a");

    // once the path is no longer contested, the moved API gets it back
    await Deno.remove(join(gw.dir, "apps", "z.json"));
    await (await gw.admin("/tyk/reload?block=true")).body?.cancel();
    assert.equal(await pathAt("/dup/x"), "/a/x");
    assert.equal(await listenPathOf("a"), "/dup/");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("a wrong method on a known control route answers 405 Method not supported", async () => {
  const gw = await startGateway({});
  try {
    for (
      const [method, path] of [["POST", "/tyk/reload"], ["DELETE", "/tyk/reload/group"], [
        "PATCH",
        "/tyk/keys/abc",
      ]]
    ) {
      const res = await gw.admin(path, { method });
      assert.deepEqual([method, path, res.status, await res.json()], [method, path, 405, {
        status: "error",
        message: "Method not supported",
      }]);
    }
    const unknown = await gw.admin("/tyk/nothing-here", { method: "POST" });
    assert.deepEqual([unknown.status, await unknown.text()], [404, "404 page not found\n"]);
  } finally {
    await gw.stop();
  }
});

function keyFor(...apiIds: string[]) {
  return {
    org_id: "default",
    access_rights: Object.fromEntries(apiIds.map((api_id) => [api_id, { api_id, versions: ["Default"] }])),
    meta_data: { v: "1" },
  };
}

Deno.test("hash_keys: PUT and DELETE take a hash with ?hashed=true, a hash alone is not a key, listing filters by api_id", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { hash_keys: true, hash_key_function: "murmur64", enable_hashed_keys_listing: true },
    apps: { "a.json": tokenApi("a", "/a/", upstream.url), "b.json": tokenApi("b", "/b/", upstream.url) },
  });
  const create = async (...apiIds: string[]) =>
    await (await gw.admin("/tyk/keys/create", { method: "POST", body: JSON.stringify(keyFor(...apiIds)) }))
      .json();
  const call = (method: string, path: string, body?: unknown) =>
    gw.admin(path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  try {
    const one = await create("a");
    const two = await create("b");
    const three = await create("a", "b");
    const listed = await (await gw.admin("/tyk/keys?api_id=a")).json();
    assert.deepEqual(listed.keys.sort(), [one.key_hash, three.key_hash].sort());
    assert.equal((await (await gw.admin("/tyk/keys")).json()).keys.length, 3);

    // without ?hashed=true the hash is read as a key name, and no key has that name
    for (const method of ["GET", "PUT", "DELETE"]) {
      const res = await call(method, `/tyk/keys/${one.key_hash}`, method === "PUT" ? keyFor("a") : undefined);
      assert.equal(res.status, 404, method);
      await res.body?.cancel();
    }

    const byHash = await (await call("GET", `/tyk/keys/${one.key_hash}?hashed=true`)).json();
    assert.deepEqual([Object.keys(byHash.access_rights), byHash.meta_data], [["a"], { v: "1" }]);

    const updated = await call("PUT", `/tyk/keys/${one.key_hash}?hashed=true`, {
      ...keyFor("a"),
      meta_data: { v: "2" },
    });
    assert.deepEqual(await updated.json(), { key: one.key_hash, status: "ok", action: "modified" });
    assert.deepEqual((await (await gw.admin(`/tyk/keys/${one.key}`)).json()).meta_data, { v: "2" });
    assert.equal((await (await gw.admin("/tyk/keys")).json()).keys.length, 3, "updated in place, not added");

    const deleted = await call("DELETE", `/tyk/keys/${one.key_hash}?hashed=true`);
    assert.deepEqual(await deleted.json(), { key: one.key_hash, status: "ok", action: "deleted" });
    const refused = await fetch(`${gw.url}/a/`, { headers: { authorization: one.key } });
    assert.equal(refused.status, 403);
    await refused.body?.cancel();
    assert.deepEqual(
      (await (await gw.admin("/tyk/keys")).json()).keys.sort(),
      [two.key_hash, three.key_hash].sort(),
    );
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("hash_keys without enable_hashed_keys_listing refuses listing; ?hashed=true needs hash_keys", async () => {
  const upstream = await startUpstream();
  const hidden = await startGateway({
    conf: { hash_keys: true, hash_key_function: "murmur64" },
    apps: { "a.json": tokenApi("a", "/a/", upstream.url) },
  });
  const plain = await startGateway({
    conf: { hash_keys: false },
    apps: { "a.json": tokenApi("a", "/a/", upstream.url) },
  });
  try {
    const create = { method: "POST", body: JSON.stringify(keyFor("a")) };
    const { key_hash } = await (await hidden.admin("/tyk/keys/create", create)).json();
    const list = await hidden.admin("/tyk/keys");
    assert.deepEqual([list.status, await list.json()], [404, {
      status: "error",
      message: "Hashed key listing is disabled in config (enable_hashed_keys_listing)",
    }]);
    assert.equal((await hidden.admin(`/tyk/keys/${key_hash}?hashed=true`)).status, 200);

    const { key } = await (await plain.admin("/tyk/keys/create", create)).json();
    assert.deepEqual((await (await plain.admin("/tyk/keys")).json()).keys, [key]);
    const byHash = await plain.admin(`/tyk/keys/${key}?hashed=true`);
    assert.deepEqual([byHash.status, await byHash.json()], [400, {
      status: "error",
      message: "Key requested by hash but key hashing is not enabled",
    }]);
  } finally {
    await hidden.stop();
    await plain.stop();
    await upstream.stop();
  }
});

const KEY_OWNER = `var keyOwner = new TykJS.TykMiddleware.NewMiddleware({});
keyOwner.NewProcessRequest(function (request, session, spec) {
  var data = JSON.parse(TykGetKeyData(request.Headers["Authorization"][0], spec.APIID));
  request.SetHeaders["X-Owner"] = data.meta_data ? data.meta_data.owner : data.message;
  return keyOwner.ReturnData(request, {});
});
`;

Deno.test("a key created with a custom id is read, updated and deleted by that id with ?api_id=", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { hash_keys: true, hash_key_function: "murmur64", enable_jsvm: true },
    files: { "plugins/keyOwner.js": KEY_OWNER },
    apps: {
      "c.json": {
        ...tokenApi("c", "/c/", upstream.url),
        custom_middleware: { driver: "otto", pre: [{ name: "keyOwner", path: "plugins/keyOwner.js" }] },
      },
    },
  });
  const owner = async () => {
    const res = await fetch(`${gw.url}/c/`, { headers: { authorization: "my-custom-key" } });
    if (res.status !== 200) return `${res.status}`;
    return ((await res.json()) as Echo).headers["x-owner"];
  };
  try {
    const created = await (await gw.admin("/tyk/keys/my-custom-key", {
      method: "POST",
      body: JSON.stringify({ ...keyFor("c"), meta_data: { owner: "alice" } }),
    })).json();
    assert.match(created.key, /^ey/, "Tyk stores a custom id as the org's b64 token");
    assert.equal(await owner(), "alice", "the raw id authenticates and TykGetKeyData finds it");

    const bare = await gw.admin("/tyk/keys/my-custom-key");
    assert.equal(bare.status, 404, "without an org the id is looked up as given");
    await bare.body?.cancel();
    const got = await (await gw.admin("/tyk/keys/my-custom-key?api_id=c")).json();
    assert.deepEqual(got.meta_data, { owner: "alice" });

    const updated = await gw.admin("/tyk/keys/my-custom-key?api_id=c", {
      method: "PUT",
      body: JSON.stringify({ ...got, meta_data: { owner: "bob" } }),
    });
    assert.deepEqual(await updated.json(), { key: created.key, status: "ok", action: "modified" });
    assert.equal(await owner(), "bob");

    const deleted = await gw.admin("/tyk/keys/my-custom-key?api_id=c", { method: "DELETE" });
    assert.deepEqual(await deleted.json(), { key: created.key, status: "ok", action: "deleted" });
    assert.equal(await owner(), "403");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

const COUNT_VISITS = `var countVisits = new TykJS.TykMiddleware.NewMiddleware({});
countVisits.NewProcessRequest(function (request, session, spec) {
  var meta = session.meta_data || {};
  meta.visits = String(parseInt(meta.visits || "0", 10) + 1);
  return countVisits.ReturnData(request, meta);
});
`;

Deno.test("a session far over Deno KV's 64 KiB value limit is created, used, written back, updated and deleted", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { enable_jsvm: true },
    files: { "plugins/countVisits.js": COUNT_VISITS },
    apps: {
      "big.json": {
        ...tokenApi("big", "/big/", upstream.url),
        custom_middleware: {
          driver: "otto",
          post: [{ name: "countVisits", path: "plugins/countVisits.js", require_session: true }],
        },
      },
    },
  });
  // 2000 APIs a key may call, as a large installation grants: about 400 KB of session JSON
  const rights = Object.fromEntries(
    Array.from({ length: 2000 }, (_, i) => [`api-${i}`, {
      api_id: `api-${i}`,
      api_name: `API number ${i} of a large installation`,
      versions: ["Default"],
      allowed_urls: [{ url: `/resource/${i}/.*`, methods: ["GET", "POST"] }],
    }]),
  );
  const session = {
    org_id: "default",
    access_rights: { ...rights, big: { api_id: "big", versions: ["Default"] } },
  };
  try {
    assert.ok(JSON.stringify(session).length > 5 * 65536);
    const created = await gw.admin("/tyk/keys/create", { method: "POST", body: JSON.stringify(session) });
    assert.equal(created.status, 200, await created.clone().text());
    const { key } = await created.json();
    for (const visits of ["1", "2"]) {
      const res = await fetch(`${gw.url}/big/`, { headers: { authorization: key } });
      assert.equal(res.status, 200);
      await res.body?.cancel();
      const stored = await (await gw.admin(`/tyk/keys/${key}`)).json();
      assert.equal(stored.meta_data.visits, visits, "written back after the request");
      assert.equal(Object.keys(stored.access_rights).length, 2001);
    }
    const updated = await gw.admin(`/tyk/keys/${key}`, {
      method: "PUT",
      body: JSON.stringify({ ...session, meta_data: { team: "big" } }),
    });
    assert.equal(updated.status, 200);
    await updated.body?.cancel();
    assert.deepEqual((await (await gw.admin(`/tyk/keys/${key}`)).json()).meta_data, { team: "big" });
    const deleted = await gw.admin(`/tyk/keys/${key}`, { method: "DELETE" });
    assert.equal(deleted.status, 200);
    await deleted.body?.cancel();
    const gone = await fetch(`${gw.url}/big/`, { headers: { authorization: key } });
    assert.equal(gone.status, 403);
    await gone.body?.cancel();
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});
