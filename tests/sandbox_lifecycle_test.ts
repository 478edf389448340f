/**
 * End to end: when the gateway starts and stops JS sandboxes. An API's sandbox starts at its first JS call
 * (its plugins are only checked at load), and one left without calls for `jsvm_idle_timeout` is stopped.
 * Worker threads of the gateway process (`worker-N`) are counted: each sandbox, and each spare kept booted
 * once sandboxes are in use, runs on two (the sandbox and its launcher).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { keylessApi, startGateway, withPlugins } from "./support/gateway.ts";
import { type Echo, startUpstream } from "./support/upstream.ts";
import { workerThreads } from "./support/thread_cpu.ts";
import { waitUntil } from "./support/wait_until.ts";

/** A pre hook that says when its sandbox loads it and tags each request with `tag`. */
function taggingPlugin(tag: string, extra = ""): string {
  return `log("sandbox loaded for ${tag}");
var tagger = new TykJS.TykMiddleware.NewMiddleware({});
tagger.NewProcessRequest(function (request, session, spec) {
  ${extra}
  request.SetHeaders["X-Tag"] = "${tag}";
  return tagger.ReturnData(request, {});
});
`;
}

function taggedApi(id: string, target: string) {
  return withPlugins(keylessApi(id, `/${id}/`, target), {
    pre: [{ name: "tagger", path: `plugins/${id}.js` }],
  });
}

async function tagOf(url: string): Promise<string | undefined> {
  const res = await fetch(url);
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as Echo).headers["x-tag"];
}

Deno.test("an API's sandbox starts at its first JS call: none at load, none for APIs not called", async () => {
  const upstream = await startUpstream();
  const ids = ["a", "b", "c"];
  const gw = await startGateway({
    conf: { enable_jsvm: true },
    files: Object.fromEntries(ids.map((id) => [`plugins/${id}.js`, taggingPlugin(id)])),
    apps: Object.fromEntries(ids.map((id) => [`${id}.json`, taggedApi(id, upstream.url)])),
  });
  try {
    assert.equal(workerThreads(gw.pid).length, 0, "no Worker thread after start-up");
    assert.ok(!gw.logs().includes("sandbox loaded"), "no plugin code ran at load");

    assert.equal(await tagOf(`${gw.url}/b/`), "b");
    await gw.waitForLog("sandbox loaded for b");
    assert.ok(!gw.logs().includes("sandbox loaded for a") && !gw.logs().includes("sandbox loaded for c"));

    assert.equal(await tagOf(`${gw.url}/a/`), "a");
    await gw.waitForLog("sandbox loaded for a");
    assert.ok(!gw.logs().includes("sandbox loaded for c"));
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("a plugin with a syntax error is reported at load with its file and line, with no sandbox", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { enable_jsvm: true },
    files: { "plugins/broken.js": "var tagger = {};\n\nvar broken = ;\n" },
    apps: { "broken.json": taggedApi("broken", upstream.url) },
  });
  try {
    const file = join(gw.dir, "plugins/broken.js");
    const line = gw.logs().split("\n").find((l) => l.includes("Cannot load JS plugin: SyntaxError"));
    assert.ok(line, `the load error is in the start-up log:\n${gw.logs()}`);
    assert.ok(
      line.includes(`file=${file}`) && line.includes("line=3") && line.includes("api_id=broken"),
      line,
    );
    assert.equal(workerThreads(gw.pid).length, 0);
    // The hook it should have defined is missing: Tyk's 500, as before.
    const res = await fetch(`${gw.url}/broken/`);
    assert.equal(res.status, 500);
    await res.body?.cancel();
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("a sandbox idle for jsvm_idle_timeout is stopped, and the next request starts a fresh one", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { enable_jsvm: true, jsvm_idle_timeout: 1 },
    files: { "plugins/idle.js": taggingPlugin("idle") },
    apps: { "idle.json": taggedApi("idle", upstream.url) },
  });
  try {
    assert.equal(await tagOf(`${gw.url}/idle/`), "idle");
    assert.ok(workerThreads(gw.pid).length >= 1);
    // The sandbox, and the spare nobody took, end after a second without calls.
    await waitUntil(() => workerThreads(gw.pid).length === 0, "every Worker thread of the gateway has ended");
    assert.equal(await tagOf(`${gw.url}/idle/`), "idle");
    assert.ok(workerThreads(gw.pid).length >= 1, "the request ran in a new sandbox");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("requests in flight or queued are never cut by the idle release", async () => {
  const upstream = await startUpstream();
  // Each call holds its sandbox for 1.5 s, longer than jsvm_idle_timeout; with one worker the others queue.
  const slow = "var until = Date.now() + 1500; while (Date.now() < until) {}";
  const gw = await startGateway({
    conf: { enable_jsvm: true, jsvm_idle_timeout: 1, jsvm_timeout: 10, jsvm_pool_size: 1 },
    files: { "plugins/slow.js": taggingPlugin("slow", slow) },
    apps: { "slow.json": taggedApi("slow", upstream.url) },
  });
  try {
    const tags = await Promise.all([1, 2, 3].map(() => tagOf(`${gw.url}/slow/`)));
    assert.deepEqual(tags, ["slow", "slow", "slow"]);
    assert.ok(!gw.logs().includes("Middleware error"), gw.logs());
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("a reload keeps an unchanged API and its warm sandbox, rebuilds one whose plugin changed", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { enable_jsvm: true },
    files: {
      "plugins/kept.js": taggingPlugin("kept"),
      "plugins/edited.js": taggingPlugin("edited"),
      "plugins/broken.js": "var tagger = ;\n",
    },
    apps: {
      "kept.json": taggedApi("kept", upstream.url),
      "edited.json": taggedApi("edited", upstream.url),
      "broken.json": taggedApi("broken", upstream.url),
    },
  });
  const count = (text: string) => gw.logs().split(text).length - 1;
  const reload = async () => {
    const res = await gw.admin("/tyk/reload?block=true");
    assert.equal(res.status, 200);
    await res.body?.cancel();
  };
  try {
    assert.equal(await tagOf(`${gw.url}/kept/`), "kept");
    assert.equal(await tagOf(`${gw.url}/edited/`), "edited");
    assert.equal(count("sandbox loaded for kept"), 1);
    assert.equal(count("Cannot load JS plugin: SyntaxError"), 1);

    await Deno.writeTextFile(join(gw.dir, "plugins/edited.js"), taggingPlugin("edited again"));
    await reload();
    assert.equal(await tagOf(`${gw.url}/edited/`), "edited again");
    assert.equal(await tagOf(`${gw.url}/kept/`), "kept");
    assert.equal(count("sandbox loaded for kept"), 1, "the kept API's sandbox served on, not a new one");
    // A reload reports a broken plugin again, whether its API is rebuilt or kept.
    assert.equal(count("Cannot load JS plugin: SyntaxError"), 2);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("a reload that rebuilds an API in use starts its new sandbox before the swap; one never used stays lazy", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { enable_jsvm: true },
    files: { "plugins/used.js": taggingPlugin("used"), "plugins/unused.js": taggingPlugin("unused") },
    apps: { "used.json": taggedApi("used", upstream.url), "unused.json": taggedApi("unused", upstream.url) },
  });
  try {
    assert.equal(await tagOf(`${gw.url}/used/`), "used");
    await Deno.writeTextFile(join(gw.dir, "plugins/used.js"), taggingPlugin("used v2"));
    await Deno.writeTextFile(join(gw.dir, "plugins/unused.js"), taggingPlugin("unused v2"));
    const res = await gw.admin("/tyk/reload?block=true");
    assert.equal(res.status, 200);
    await res.body?.cancel();
    // No request reached the rebuilt API: its sandbox started because the old one was running
    await gw.waitForLog("sandbox loaded for used v2");
    assert.equal(await tagOf(`${gw.url}/used/`), "used v2");
    assert.ok(!gw.logs().includes("sandbox loaded for unused"), "an API never called gets no sandbox");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});
