/** End to end: the repository's own example (tyk.conf, apps/, plugins/) behaves as the README says. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { spawnGateway } from "./support/gateway.ts";
import { freePort } from "./support/free_port.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const EXAMPLE_SECRET = "352d20ee67be67f6340b4c0605b044b7";

/** Copies the example to a temp folder, moving it from port 8080 to a free one. */
async function copyExample(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "portcullis-example-" });
  const port = String(freePort());
  const files = ["tyk.conf"];
  for (const folder of ["apps", "plugins"]) {
    await Deno.mkdir(join(dir, folder));
    for await (const entry of Deno.readDir(join(ROOT, folder))) files.push(join(folder, entry.name));
  }
  for (const file of files) {
    const text = await Deno.readTextFile(join(ROOT, file));
    await Deno.writeTextFile(join(dir, file), text.replaceAll("8080", port));
  }
  return dir;
}

Deno.test("the example: /open/ping answers pong, /protected/ needs a key and counts visits", async () => {
  const dir = await copyExample();
  const gw = await spawnGateway(dir, EXAMPLE_SECRET);
  try {
    const pong = await fetch(`${gw.url}/open/ping`);
    assert.equal(pong.status, 200);
    assert.equal(await pong.text(), "pong");
    const hello = await (await fetch(`${gw.url}/open/`)).json();
    assert.equal(hello.status, "pass");
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
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${gw.url}/protected/`, { headers: { authorization: key } });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).status, "pass");
    }
    const session = await (await gw.admin(`/tyk/keys/${key}`)).json();
    assert.equal(session.meta_data.visits, "2");
  } finally {
    await gw.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
