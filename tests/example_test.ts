/** End to end: the repository's own example (tyk.conf, apps/, plugins/) behaves as the README says. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { spawnGateway } from "./support/gateway.ts";
import { freePort } from "./support/free_port.ts";
import { type Echo, startUpstream } from "./support/upstream.ts";
import { waitUntil } from "./support/wait_until.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const EXAMPLE_SECRET = "352d20ee67be67f6340b4c0605b044b7";

/**
 * The repository as a fresh checkout has it, in a temp folder (its data/ folder must not be the repository's):
 * the example (tyk.conf, apps/, plugins/) copied unchanged, and the program (deno.json, main.ts, src/ and
 * the npm packages) linked, so `deno task start` runs there as the README says.
 */
async function copyExample(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "portcullis-example-" });
  const files = ["tyk.conf"];
  for (const folder of ["apps", "plugins"]) {
    await Deno.mkdir(join(dir, folder));
    for await (const entry of Deno.readDir(join(ROOT, folder))) files.push(join(folder, entry.name));
  }
  for (const file of files) await Deno.copyFile(join(ROOT, file), join(dir, file));
  for (const name of ["deno.json", "deno.lock", "main.ts", "src", "node_modules"]) {
    try {
      await Deno.symlink(join(ROOT, name), join(dir, name));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err; // no node_modules yet: deno task makes one
    }
  }
  return dir;
}

Deno.test("the README's TYK_GW_LISTENPORT=… deno task start serves the example on a free port: /open answers, /protected/ needs a key and counts visits, an API added through /tyk/apis proxies", async () => {
  const dir = await copyExample();
  const port = freePort();
  const upstream = await startUpstream();
  const gw = await spawnGateway(dir, EXAMPLE_SECRET, { TYK_GW_LISTENPORT: String(port) }, { task: "start" });
  try {
    assert.equal(gw.port, port);
    const pong = await fetch(`${gw.url}/open/ping`);
    assert.equal(pong.status, 200);
    assert.equal(await pong.text(), "pong");
    for (const method of ["GET", "POST"]) {
      const open = await fetch(`${gw.url}/open/x?y=1`, { method });
      assert.equal(open.status, 200, method);
      assert.deepEqual(await open.json(), {
        message: "answered by plugins/pingPong.js",
        method,
        url: "/open/x?y=1",
      });
    }
    const denied = await fetch(`${gw.url}/protected/`);
    assert.equal(denied.status, 401);
    await denied.body?.cancel();

    const { key } = await (await gw.admin("/tyk/keys/create", {
      method: "POST",
      body: JSON.stringify({
        org_id: "default",
        access_rights: { protected: { api_id: "protected", versions: ["Default"] } },
      }),
    })).json();
    for (const visits of ["1", "2"]) {
      const res = await fetch(`${gw.url}/protected/`, { headers: { authorization: key } });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { visits });
    }
    const session = await (await gw.admin(`/tyk/keys/${key}`)).json();
    assert.equal(session.meta_data.visits, "2");

    // an API of one's own, added as the README shows, proxies to its service
    const created = await gw.admin("/tyk/apis", {
      method: "POST",
      body: JSON.stringify({
        api_id: "mine",
        name: "Mine",
        use_keyless: true,
        proxy: { listen_path: "/mine/", target_url: `${upstream.url}/`, strip_listen_path: true },
        version_data: { not_versioned: true, versions: { Default: { name: "Default" } } },
      }),
    });
    assert.equal(created.status, 200, await created.text());
    assert.deepEqual(await (await gw.admin("/tyk/reload")).json(), { status: "ok", message: "" });
    await waitUntil(async () => {
      const res = await fetch(`${gw.url}/mine/`);
      await res.body?.cancel();
      return res.status === 200;
    }, "the reload serves /mine/");
    const echo: Echo = await (await fetch(`${gw.url}/mine/hello?a=1`)).json();
    assert.deepEqual([echo.method, echo.path, echo.query], ["GET", "/hello", "a=1"]);
  } finally {
    await gw.stop();
    await upstream.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
