/**
 * Attack: a plugin on any API asks the host API for a URL that is not http(s) — `file:` to read tyk.conf
 * (with the Gateway API secret), `data:`, `blob:`, other schemes, relative forms, an http URL that
 * redirects to `file:`. Each must fail as a bad URL fails in Tyk, and nothing of the files may come back.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { keylessApi, SECRET, startGateway, withPlugins } from "../support/gateway.ts";
import { startUpstream } from "../support/upstream.ts";
import { base64 } from "../support/base64.ts";

/** Tries every [Domain, Resource] with TykMakeHttpRequest and every URL with TykBatchRequest; answers what came back. */
const PROBE = `var probe = new TykJS.TykMiddleware.NewMiddleware({});
probe.NewProcessRequest(function (request, session, spec) {
  var targets = spec.config_data.targets;
  var out = [];
  for (var i = 0; i < targets.length; i++) {
    var made = TykMakeHttpRequest(JSON.stringify({ Method: "GET", Domain: targets[i][0], Resource: targets[i][1] }));
    out.push(["make", i, made === undefined ? "undefined" : JSON.parse(made).Code]);
  }
  var batch = JSON.parse(TykBatchRequest(JSON.stringify({
    requests: targets.map(function (t) { return { method: "GET", relative_url: t[0] + t[1], headers: {}, body: "" }; }),
    suppress_parallel_execution: true
  })));
  for (var j = 0; j < batch.length; j++) out.push(["batch", j, batch[j]]);
  request.ReturnOverrides.ResponseCode = 200;
  request.ReturnOverrides.ResponseBody = JSON.stringify(out);
  return probe.ReturnData(request, {});
});
`;

Deno.test("attack: the host API refuses file:, data:, blob: and every other non-http(s) URL", async () => {
  const upstream = await startUpstream();
  // An http server that sends the client on to a file: or data: URL.
  const redirects = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const to = new URL(req.url).searchParams.get("to")!;
    return new Response(null, { status: 302, headers: { location: to } });
  });
  const dir = await Deno.makeTempDir({ prefix: "portcullis-attack-" });
  const conf = join(dir, "tyk.conf");
  const canary = join(dir, "canary.txt");
  await Deno.writeTextFile(canary, "CANARY-FILE-CONTENT");
  const redirect = `http://127.0.0.1:${redirects.addr.port}/?to=`;
  const targets: [string, string][] = [
    ["file://", conf],
    ["FILE://", conf],
    ["fIlE:", conf],
    ["", `file://${conf}`],
    [" \tfile://", canary],
    ["file://localhost", canary],
    ["data:text/plain,", "CANARY-DATA"],
    ["data:text/plain;base64,", base64("CANARY-DATA")],
    ["blob:", `${upstream.url}/00000000-0000-0000-0000-000000000000`],
    ["ftp://127.0.0.1", "/x"],
    ["javascript:", "1"],
    ["", "/relative/path"],
    ["", `//127.0.0.1:${upstream.port}/protocol-relative`],
    [redirect, encodeURIComponent(`file://${canary}`)],
    [redirect, encodeURIComponent("data:text/plain,CANARY-DATA")],
  ];
  const allowed: [string, string][] = [[upstream.url, "/plain-http"], [upstream.url.toUpperCase(), "/UPPER"]];
  let gw;
  try {
    gw = await startGateway({
      dir,
      conf: { enable_jsvm: true, jsvm_timeout: 5 },
      files: { "plugins/probe.js": PROBE },
      apps: {
        "probe.json": withPlugins(keylessApi("probe", "/probe/", upstream.url), {
          pre: [{ name: "probe", path: "plugins/probe.js" }],
        }, { config_data: { targets: [...targets, ...allowed] } }),
      },
    });
    const res = await fetch(`${gw.url}/probe/`);
    const text = await res.text();
    assert.equal(res.status, 200, text);
    for (const leak of [SECRET, "CANARY-FILE-CONTENT", "CANARY-DATA", '"listen_port"']) {
      assert.ok(!text.includes(leak), `${leak} leaked: ${text}`);
    }
    const failed = { relative_url: "", code: 0, headers: null, body: "" };
    const expected = [
      ...targets.map((_, i) => ["make", i, "undefined"]),
      ...allowed.map((_, i) => ["make", targets.length + i, 200]),
    ];
    const out = JSON.parse(text) as [string, number, unknown][];
    assert.deepEqual(out.filter((o) => o[0] === "make"), expected);
    const batch = out.filter((o) => o[0] === "batch");
    for (let i = 0; i < targets.length; i++) assert.deepEqual(batch[i][2], failed, targets[i].join(""));
    for (let i = 0; i < allowed.length; i++) {
      assert.equal(
        (batch[targets.length + i][2] as { code: number }).code,
        200,
        allowed[i].join(""),
      );
    }
    await gw.waitForLog(/TykMakeHttpRequest failed.*unsupported protocol scheme \\"file/);
  } finally {
    await gw?.stop();
    await Deno.remove(dir, { recursive: true });
    await redirects.shutdown();
    await upstream.stop();
  }
});
