/**
 * End to end: a reload (or the file watcher) re-reads every API's directory loader,
 * `<middleware_path>/<api_id>/{pre,post_auth,post}/`, so added and removed plugin files take effect.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { defaultVersion, keylessApi, startGateway, tokenApi, withPlugins } from "./support/gateway.ts";
import { startRawHttpServer } from "./support/raw_http_server.ts";
import { type Echo, startUpstream } from "./support/upstream.ts";
import { waitUntil } from "./support/wait_until.ts";

const JSVM = { enable_jsvm: true, jsvm_timeout: 2, middleware_path: "middleware" };

/** A directory-loader plugin named after its file that sets `X-<name>: yes`. */
function tagger(name: string): string {
  return `var ${name} = new TykJS.TykMiddleware.NewMiddleware({});
${name}.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-${name}"] = "yes";
  return ${name}.ReturnData(request, session.meta_data);
});
`;
}

const FOLDERS = { pre: "Pre", post_auth: "PostAuth", post: "Post" } as const;

async function createKey(gw: { admin(path: string, init?: RequestInit): Promise<Response> }, apiId: string) {
  const res = await gw.admin("/tyk/keys/create", {
    method: "POST",
    body: JSON.stringify({
      org_id: "default",
      access_rights: { [apiId]: { api_id: apiId, versions: ["Default"] } },
    }),
  });
  return (await res.json()).key as string;
}

/** Which of the taggers ran on a request to the API. */
async function tagsSeen(url: string, key: string): Promise<string[]> {
  const res = await fetch(url, { headers: { authorization: key } });
  assert.equal(res.status, 200, await res.clone().text());
  const echo: Echo = await res.json();
  return Object.values(FOLDERS).filter((name) => echo.headers[`x-${name.toLowerCase()}`] === "yes");
}

Deno.test("/tyk/reload runs plugin files added to an API's middleware folders after start, and drops removed ones", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: JSVM,
    // the API starts with no plugin at all; the folder of another API exists
    files: { "middleware/other/pre/Pre.js": tagger("Pre") },
    apps: { "d.json": { ...tokenApi("dir", "/dir/", upstream.url), custom_middleware: { driver: "otto" } } },
  });
  try {
    const key = await createKey(gw, "dir");
    assert.deepEqual(await tagsSeen(`${gw.url}/dir/`, key), []);

    for (const [folder, name] of Object.entries(FOLDERS)) {
      await Deno.mkdir(join(gw.dir, "middleware/dir", folder), { recursive: true });
      await Deno.writeTextFile(join(gw.dir, "middleware/dir", folder, `${name}.js`), tagger(name));
    }
    await (await gw.admin("/tyk/reload?block=true")).body?.cancel();
    assert.deepEqual(await tagsSeen(`${gw.url}/dir/`, key), ["Pre", "PostAuth", "Post"]);

    await Deno.remove(join(gw.dir, "middleware/dir/post_auth/PostAuth.js"));
    await (await gw.admin("/tyk/reload?block=true")).body?.cancel();
    assert.deepEqual(await tagsSeen(`${gw.url}/dir/`, key), ["Pre", "Post"]);

    await Deno.remove(join(gw.dir, "middleware/dir"), { recursive: true });
    await (await gw.admin("/tyk/reload?block=true")).body?.cancel();
    assert.deepEqual(await tagsSeen(`${gw.url}/dir/`, key), []);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("the file watcher picks up a plugin file in a middleware folder created after start, and its removal", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: JSVM,
    // no middleware folder yet: the user creates it after start
    apps: {
      "w.json": { ...tokenApi("watched", "/w/", upstream.url), custom_middleware: { driver: "otto" } },
    },
  });
  try {
    const key = await createKey(gw, "watched");
    assert.deepEqual(await tagsSeen(`${gw.url}/w/`, key), []);
    await Deno.mkdir(join(gw.dir, "middleware/watched/pre"), { recursive: true });
    await Deno.writeTextFile(join(gw.dir, "middleware/watched/pre/Pre.js"), tagger("Pre"));
    await waitUntil(
      async () => (await tagsSeen(`${gw.url}/w/`, key)).includes("Pre"),
      "the new pre plugin runs",
    );
    await Deno.remove(join(gw.dir, "middleware/watched/pre/Pre.js"));
    await waitUntil(
      async () => (await tagsSeen(`${gw.url}/w/`, key)).length === 0,
      "the removed plugin stops",
    );
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("plugins that fail to load are counted in the reload log line, named at warn level and listed by /tyk/apis/{id}/status", async () => {
  const upstream = await startUpstream();
  const pre = (name: string, path: string) => ({ name, path });
  const gw = await startGateway({
    conf: JSVM,
    files: {
      "plugins/syntax.js": "var Broken = {;",
      "plugins/wrong.js": tagger("Other"), // defines Other, the definition calls Wrong
      "plugins/good.js": tagger("Good"),
    },
    apps: {
      "bad.json": {
        ...tokenApi("bad", "/bad/", upstream.url),
        use_keyless: true,
        custom_middleware: {
          driver: "otto",
          pre: [
            pre("Broken", "plugins/syntax.js"),
            pre("Missing", "plugins/missing.js"),
            pre("Wrong", "plugins/wrong.js"),
          ],
        },
      },
      "good.json": {
        ...tokenApi("good", "/good/", upstream.url),
        use_keyless: true,
        custom_middleware: { driver: "otto", pre: [pre("Good", "plugins/good.js")] },
      },
    },
  });
  const status = async (apiId: string) => await (await gw.admin(`/tyk/apis/${apiId}/status`)).json();
  try {
    await gw.waitForLog(/msg="API reload complete".* plugin_errors=3/);
    assert.match(gw.logs(), /level=warn msg="API \\"bad\\" serves with 3 plugin load failure\(s\)/);
    const bad = await status("bad");
    const byFile = Object.fromEntries(
      bad.plugin_errors.map((
        e: { file: string; message: string },
      ) => [e.file.replace(`${gw.dir}/`, ""), e.message]),
    );
    assert.deepEqual(Object.keys(byFile).sort(), [
      "plugins/missing.js",
      "plugins/syntax.js",
      "plugins/wrong.js",
    ]);
    assert.match(byFile["plugins/missing.js"], /no such file/);
    assert.match(byFile["plugins/syntax.js"], /SyntaxError/);
    assert.match(byFile["plugins/wrong.js"], /Cannot find "Wrong"/);
    assert.deepEqual(await status("good"), { api_id: "good", listen_path: "/good/", plugin_errors: [] });
    const unknown = await gw.admin("/tyk/apis/nope/status");
    assert.deepEqual([unknown.status, await unknown.json()], [404, {
      status: "error",
      message: "API not found",
    }]);

    await Deno.writeTextFile(join(gw.dir, "plugins/syntax.js"), tagger("Broken"));
    await Deno.writeTextFile(join(gw.dir, "plugins/missing.js"), tagger("Missing"));
    await Deno.writeTextFile(join(gw.dir, "plugins/wrong.js"), tagger("Wrong"));
    await (await gw.admin("/tyk/reload?block=true")).body?.cancel();
    assert.deepEqual((await status("bad")).plugin_errors, []);
    assert.match(gw.logs(), /msg="API reload complete".* plugin_errors=0/);
    const res = await fetch(`${gw.url}/bad/`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

/** A virtual endpoint, a response hook and a JS event handler, each telling which version `n` of it ran. */
function versioned(n: number, sink: string): Record<string, string> {
  return {
    "plugins/answer.js": `function answer(request, session, config) {
  return TykJsResponse({ Body: "virtual v${n}", Code: 200 }, {});
}
`,
    "plugins/stamp.js": `var stamp = new TykJS.TykMiddleware.NewMiddleware({});
stamp.NewProcessResponse(function (response, request, session, spec) {
  response.SetHeaders["X-Stamp"] = "v${n}";
  return stamp.ReturnResponseData(response, {});
});
`,
    "events/report.js": `var report = new TykJS.TykEventHandlers.NewEventHandler({});
report.NewHandler(function (event, context) {
  TykMakeHttpRequest(JSON.stringify({ Method: "POST", Domain: "${sink}", Resource: "/v${n}", Body: event.EventType }));
});
`,
  };
}

Deno.test("/tyk/reload serves edited virtual endpoint, response hook and JS event handler files of unchanged APIs", async () => {
  await using sink = await startRawHttpServer();
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: JSVM,
    files: versioned(1, sink.url),
    apps: {
      "ve.json": withPlugins(
        keylessApi("ve", "/ve/", upstream.url, {
          ...defaultVersion({
            virtual: [{
              path: "/answer",
              method: "GET",
              response_function_name: "answer",
              function_source_type: "file",
              function_source_uri: "plugins/answer.js",
            }],
          }),
        }),
        { response: [{ name: "stamp", path: "plugins/stamp.js" }] },
      ),
      "tok.json": tokenApi("tok", "/tok/", upstream.url, {
        event_handlers: {
          events: {
            AuthFailure: [{
              handler_name: "eh_dynamic_handler",
              handler_meta: { name: "report", path: "events/report.js" },
            }],
          },
        },
      }),
    },
  });
  try {
    const served = async () => {
      const res = await fetch(`${gw.url}/ve/answer`);
      return [await res.text(), res.headers.get("x-stamp")];
    };
    const reported = async (n: number) => {
      const res = await fetch(`${gw.url}/tok/x`, { headers: { authorization: "unknown" } });
      assert.equal(res.status, 403);
      await res.body?.cancel();
      await sink.waitUntil(() => sink.requests.length === n, 10_000);
      return sink.requests[n - 1].target;
    };
    assert.deepEqual(await served(), ["virtual v1", "v1"]);
    assert.equal(await reported(1), "/v1");

    for (const [path, text] of Object.entries(versioned(2, sink.url))) {
      await Deno.writeTextFile(join(gw.dir, path), text);
    }
    await (await gw.admin("/tyk/reload?block=true")).body?.cancel();
    assert.deepEqual(await served(), ["virtual v2", "v2"]);
    assert.equal(
      await reported(2),
      "/v2",
      "Tyk loses the handlers of unchanged APIs on reload; here they are re-read",
    );
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});
