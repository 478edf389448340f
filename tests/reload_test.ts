/** End to end: hot reload, the /tyk/apis API, broken files and broken configs. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { keylessApi, runGatewayToExit, startGateway, withPlugins } from "./support/gateway.ts";
import { statusOf } from "./support/http.ts";
import { startRawHttpServer } from "./support/raw_http_server.ts";
import { type Echo, startUpstream } from "./support/upstream.ts";
import { waitUntil } from "./support/wait_until.ts";

Deno.test("a new API file is served after /tyk/reload?block=true", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({ apps: { "a.json": keylessApi("a", "/a/", upstream.url) } });
  try {
    assert.equal(await statusOf(fetch(`${gw.url}/b/`)), 404);
    await Deno.writeTextFile(
      join(gw.dir, "apps", "b.json"),
      JSON.stringify(keylessApi("b", "/b/", upstream.url)),
    );
    const reload = await gw.admin("/tyk/reload?block=true");
    assert.deepEqual(await reload.json(), { status: "ok", message: "" });
    assert.equal(await statusOf(fetch(`${gw.url}/b/`)), 200);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("a changed API file is picked up by the watcher without calling reload", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({ apps: { "a.json": keylessApi("a", "/a/", upstream.url) } });
  try {
    await Deno.writeTextFile(
      join(gw.dir, "apps", "a.json"),
      JSON.stringify(keylessApi("a", "/moved/", upstream.url)),
    );
    // the watcher debounces: there is no event to wait for
    await waitUntil(async () => (await statusOf(fetch(`${gw.url}/moved/`))) === 200, "/moved/ is served");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("a broken API file is reported with its name and the other APIs keep serving", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    apps: {
      "good.json": keylessApi("good", "/good/", upstream.url),
      "broken.json": "{ this is not json",
      "nolisten.json": keylessApi("nolisten", "", upstream.url),
    },
  });
  try {
    assert.equal(await statusOf(fetch(`${gw.url}/good/`)), 200);
    assert.match(gw.logs(), /broken\.json/);
    assert.match(gw.logs(), /nolisten\.json/);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("a reload that meets a broken file keeps serving the last good version of that API", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({ apps: { "a.json": keylessApi("a", "/a/", upstream.url) } });
  try {
    await Deno.writeTextFile(join(gw.dir, "apps", "a.json"), "{ broken");
    await (await gw.admin("/tyk/reload?block=true")).body?.cancel();
    assert.equal(await statusOf(fetch(`${gw.url}/a/`)), 200);
    await gw.waitForLog("still serving its last good version");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("reloads under concurrent load drop no request", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({ apps: { "a.json": keylessApi("a", "/a/", upstream.url) } });
  try {
    let stop = false;
    const failures: string[] = [];
    let done = 0;
    const client = async () => {
      while (!stop) {
        const res = await fetch(`${gw.url}/a/load`);
        if (res.status !== 200) failures.push(`${res.status} ${await res.text()}`);
        else await res.body?.cancel();
        done++;
      }
    };
    const clients = Array.from({ length: 8 }, client);
    for (let i = 0; i < 10; i++) {
      await Deno.writeTextFile(
        join(gw.dir, "apps", "a.json"),
        JSON.stringify(keylessApi("a", "/a/", upstream.url, { name: `rev ${i}` })),
      );
      await (await gw.admin("/tyk/reload?block=true")).body?.cancel();
    }
    stop = true;
    await Promise.all(clients);
    assert.deepEqual(failures, []);
    assert.ok(done > 50, `only ${done} requests were made`);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("a request in flight during a reload finishes on the old API set, with the old plugins", async () => {
  const release = Promise.withResolvers<void>();
  await using upstream = await startRawHttpServer({
    respond: async (req) => {
      if (req.target === "/held") await release.promise;
      return { body: "upstream" };
    },
  });
  const stamp = (version: number) =>
    `var stamp = new TykJS.TykMiddleware.NewMiddleware({});
stamp.NewProcessResponse(function (response, request, session, spec) {
  response.SetHeaders["X-Version"] = "${version}";
  return stamp.ReturnResponseData(response, {});
});
`;
  const gw = await startGateway({
    conf: { enable_jsvm: true },
    files: { "plugins/stamp.js": stamp(1) },
    apps: {
      "a.json": withPlugins(keylessApi("a", "/a/", upstream.url), {
        response: [{ name: "stamp", path: "plugins/stamp.js" }],
      }),
    },
  });
  try {
    // Held at the upstream, so its response hook runs after the reload has swapped the API set
    const held = fetch(`${gw.url}/a/held`);
    await upstream.waitUntil(() => upstream.requests.length === 1);
    await Deno.writeTextFile(join(gw.dir, "plugins/stamp.js"), stamp(2));
    await (await gw.admin("/tyk/reload?block=true")).body?.cancel();
    const fresh = await fetch(`${gw.url}/a/fresh`);
    assert.deepEqual([fresh.status, fresh.headers.get("x-version"), await fresh.text()], [
      200,
      "2",
      "upstream",
    ]);
    release.resolve();
    const old = await held;
    assert.deepEqual([old.status, old.headers.get("x-version"), await old.text()], [200, "1", "upstream"]);
  } finally {
    release.resolve();
    await gw.stop();
  }
});

Deno.test("/tyk/apis: create writes a file, reload serves it, update and delete change it", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({ apps: { "a.json": keylessApi("a", "/a/", upstream.url) } });
  try {
    const list = await (await gw.admin("/tyk/apis")).json();
    assert.deepEqual(list.map((api: { api_id: string }) => api.api_id), ["a"]);
    const created = await gw.admin("/tyk/apis", {
      method: "POST",
      body: JSON.stringify(keylessApi("made", "/made/", upstream.url)),
    });
    assert.deepEqual(await created.json(), { key: "made", status: "ok", action: "added" });
    assert.ok((await Deno.stat(join(gw.dir, "apps", "made.json"))).isFile);
    const notYet = await gw.admin("/tyk/apis/made");
    assert.deepEqual([notYet.status, await notYet.json()], [404, {
      status: "error",
      message: "API not found",
    }]);
    await (await gw.admin("/tyk/reload?block=true")).body?.cancel();
    const echo: Echo = await (await fetch(`${gw.url}/made/x`)).json();
    assert.equal(echo.path, "/x");

    const mismatch = await gw.admin("/tyk/apis/made", {
      method: "PUT",
      body: JSON.stringify(keylessApi("other", "/made/", upstream.url)),
    });
    assert.equal(mismatch.status, 400);
    await mismatch.body?.cancel();
    const invalid = await gw.admin("/tyk/apis", {
      method: "POST",
      body: JSON.stringify({ api_id: "x", proxy: {} }),
    });
    assert.equal(invalid.status, 400);
    assert.match((await invalid.json()).message, /^Validation of API Definition failed/);

    const deleted = await gw.admin("/tyk/apis/made", { method: "DELETE" });
    assert.deepEqual(await deleted.json(), { key: "made", status: "ok", action: "deleted" });
    await (await gw.admin("/tyk/reload?block=true")).body?.cancel();
    assert.equal(await statusOf(fetch(`${gw.url}/made/x`)), 404);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("a broken tyk.conf stops start-up with one message naming the file and field", async () => {
  const dir = await Deno.makeTempDir();
  const conf = join(dir, "tyk.conf");
  await Deno.writeTextFile(conf, JSON.stringify({ listen_port: "abc", secret: "s" }));
  const oneLine = (log: string) => {
    const lines = log.trim().split("\n");
    assert.equal(lines.length, 1, log);
    assert.match(lines[0], /level=error msg="Cannot load \S+/);
    return lines[0];
  };
  try {
    const bad = await runGatewayToExit(conf);
    assert.equal(bad.code, 1);
    assert.match(oneLine(bad.log), /tyk\.conf: listen_port must be an integer/);
    await Deno.writeTextFile(conf, "{ nope");
    const syntax = await runGatewayToExit(conf);
    assert.equal(syntax.code, 1);
    assert.match(oneLine(syntax.log), /tyk\.conf: not valid JSON/);
    const missing = await runGatewayToExit(join(dir, "absent.conf"));
    assert.equal(missing.code, 1);
    assert.match(oneLine(missing.log), /absent\.conf: file not found/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
