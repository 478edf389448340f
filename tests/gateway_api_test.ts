/**
 * End to end: Gateway API and routing details Tyk users rely on: duplicate listen paths, wrong methods,
 * keys by hash and by custom id, listing by API, and sessions of any size.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { keylessApi, startGateway } from "./support/gateway.ts";
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
