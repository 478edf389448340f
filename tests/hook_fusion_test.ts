/**
 * Hooks that follow each other share one sandbox call (`jsvm_fuse_hooks`, on by default). The same APIs on
 * a gateway with it off must give byte for byte the same upstream requests, responses and stored sessions.
 */
import assert from "node:assert/strict";
import { keylessApi, startGateway, type TestGateway, tokenApi, withPlugins } from "./support/gateway.ts";
import { createKey, keySession } from "./support/keys.ts";
import { type RawRequest, startRawHttpServer } from "./support/raw_http_server.ts";

const hook = (name: string, body: string) =>
  `var ${name} = new TykJS.TykMiddleware.NewMiddleware({});
${name}.NewProcessRequest(function (request, session, spec) {
${body}
});
`;

const FILES = {
  "plugins/edit.js": hook(
    "edit",
    `request.SetHeaders["X-Edit"] = "1";
  request.DeleteHeaders.push("X-Drop");
  request.AddParams["added"] = "yes";
  request.Body = request.Body + "+edited";
  leaked = "edit";
  return edit.ReturnData(request, {});`,
  ),
  "plugins/report.js": hook(
    "report",
    `request.SetHeaders["X-Seen"] = JSON.stringify({
    h: request.Headers, u: request.URL, p: request.Params, n: request.Body.length, leak: typeof leaked
  });
  return report.ReturnData(request, {});`,
  ),
  "plugins/answer.js": hook(
    "answer",
    `request.ReturnOverrides.ResponseCode = 202;
  request.ReturnOverrides.ResponseBody = "answered before the post hook";
  request.ReturnOverrides.ResponseHeaders = { "X-Answer": "1" };
  return answer.ReturnData(request, {});`,
  ),
  "plugins/customAuth.js": `var customAuth = new TykJS.TykMiddleware.NewMiddleware({});
customAuth.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Authed"] = "yes";
  var accepted = { rate: 100, per: 1, quota_max: -1, meta_data: { who: "custom" } };
  return { Request: request, Session: accepted, AuthValue: "custom-key" };
});
`,
  "plugins/writer.js": hook("writer", `return writer.ReturnData(request, { step: "written", kept: "k" });`),
  "plugins/reader.js": hook(
    "reader",
    `request.SetHeaders["X-Step"] = session.meta_data.step;
  return reader.ReturnData(request, { step: session.meta_data.step + "+read", kept: "k" });`,
  ),
};

const HOOKS = {
  prePost: { pre: ["edit"], post: ["report"] },
  answered: { pre: ["answer"], post: ["report"] },
};

function entries(names: string[], requireSession = false) {
  return names.map((name) => ({ name, path: `plugins/${name}.js`, require_session: requireSession }));
}

/** An upstream request, with the address of the gateway that sent it (hooks see it as Host) left out. */
function seen(request: RawRequest, gw: TestGateway) {
  return { head: request.head.replaceAll(`127.0.0.1:${gw.port}`, "<gateway>"), body: [...request.body] };
}

Deno.test("hooks give the same upstream requests, answers and sessions fused and one call per hook", async () => {
  await using upstream = await startRawHttpServer({ respond: () => ({ body: "upstream" }) });
  const apps = {
    "prepost.json": withPlugins(keylessApi("prepost", "/prepost/", upstream.url), {
      pre: entries(HOOKS.prePost.pre),
      post: entries(HOOKS.prePost.post),
    }),
    "answered.json": withPlugins(keylessApi("answered", "/answered/", upstream.url), {
      pre: entries(HOOKS.answered.pre),
      post: entries(HOOKS.answered.post),
    }),
    "custom.json": withPlugins(tokenApi("custom", "/custom/", upstream.url), {
      auth_check: { name: "customAuth", path: "plugins/customAuth.js" },
      post_key_auth: entries(["report"]),
    }, { custom_plugin_auth_enabled: true }),
    "meta.json": withPlugins(tokenApi("meta", "/meta/", upstream.url), {
      post_key_auth: entries(["writer", "reader"], true),
      post: entries(["report"]),
    }),
  };
  const gateways: TestGateway[] = [];
  try {
    for (const fuse of [true, false]) {
      gateways.push(
        await startGateway({ conf: { enable_jsvm: true, jsvm_fuse_hooks: fuse }, files: FILES, apps }),
      );
    }
    const results = [];
    for (const gw of gateways) {
      const key = await createKey(gw, keySession(["meta"], { meta_data: { step: "start" } }), "fusion-key");
      const from = upstream.requests.length;
      // a body that is not UTF-8, with its length declared
      const body = new Uint8Array([0x61, 0xff, 0x00, 0xfe, 0x62]);
      const answers = [];
      for (const path of ["/prepost/x?q=1", "/answered/x", "/meta/x", "/custom/x"]) {
        const res = await fetch(`${gw.url}${path}`, {
          method: "POST",
          body,
          headers: { "x-drop": "gone", authorization: key, "content-type": "application/octet-stream" },
        });
        const headers = [...res.headers].filter(([name]) => name !== "date");
        answers.push({ path, status: res.status, headers, body: await res.text() });
      }
      const stored = await (await gw.admin(`/tyk/keys/${key}`)).json();
      const custom = await (await gw.admin("/tyk/keys/custom-key")).json();
      results.push({
        answers,
        upstream: upstream.requests.slice(from).map((request) => seen(request, gw)),
        meta: stored.meta_data,
        custom: custom.meta_data,
        logs: gw.logs().includes("Failed to run JS middleware"),
      });
    }
    const [fused, unfused] = results;
    assert.deepEqual(fused, unfused);
    // and the hooks did their work: the edits reached the post hook and the upstream, the answer stopped it
    assert.equal(fused.upstream.length, 3, "the answered API never reached the upstream");
    assert.match(fused.upstream[0].head, /^POST \/x\?added=yes&q=1 HTTP\/1\.1\r\n/);
    assert.match(
      fused.upstream[0].head,
      /\r\nX-Seen: \{[^\r]*"X-Edit":\["1"\][^\r]*"leak":"undefined"\}\r\n/i,
    );
    assert.doesNotMatch(fused.upstream[0].head, /x-drop/i);
    assert.deepEqual(fused.upstream[0].body, [
      0x61,
      0xff,
      0x00,
      0xfe,
      0x62,
      ...new TextEncoder().encode("+edited"),
    ]);
    assert.deepEqual(fused.answers[1].status, 202);
    assert.match(fused.upstream[1].head, /\r\nX-Step: written\r\n/i);
    assert.deepEqual(fused.meta, { step: "written+read", kept: "k" });
    assert.match(fused.upstream[2].head, /\r\nX-Seen: \{[^\r]*"X-Authed":\["yes"\]/i);
    assert.deepEqual(fused.custom, { who: "custom" });
    assert.deepEqual(upstream.errors, []);
  } finally {
    for (const gw of gateways) await gw.stop();
  }
});
