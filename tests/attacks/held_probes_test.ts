/**
 * Attack: the probes that held when the gateway was first attacked, kept as end-to-end checks so they keep
 * holding: a plugin reaching for Deno, fetch, Worker, WebAssembly, process or import() (also built at run
 * time), polluting a prototype for another API, recursing without end; and a client sending malformed JSON
 * or an API id with a path in it to the Gateway API without, and with, the secret.
 */
import assert from "node:assert/strict";
import { keylessApi, startGateway, withPlugins } from "../support/gateway.ts";
import { startUpstream } from "../support/upstream.ts";

const PROBES: Record<string, string> = {
  deno: "return typeof Deno;",
  fetch: "return typeof fetch;",
  worker: "return typeof Worker;",
  wasm: "return typeof WebAssembly;",
  process: "return typeof process;",
  importCall: 'return eval("im" + "port(\\"data:text/javascript,export default 1\\")");',
  pollute:
    'Object.prototype.polluted = "yes"; String.prototype.trim = function () { return "hijacked"; }; return "tried";',
  recursion: "var f = function (n) { return f(n + 1) + 1; }; return f(0);",
};

function probePlugin(name: string, code: string): string {
  return `var probe_${name} = new TykJS.TykMiddleware.NewMiddleware({});
probe_${name}.NewProcessRequest(function (request, session, spec) {
  var out;
  try { out = (function () { ${code} })(); } catch (e) { out = "blocked: " + e.name; }
  request.ReturnOverrides.ResponseCode = 200;
  request.ReturnOverrides.ResponseBody = JSON.stringify({ out: String(out), seen: ({}).polluted, trim: " a ".trim() });
  return probe_${name}.ReturnData(request, {});
});
`;
}

Deno.test("attack: the held probes still hold (sandbox ways out, cross-API pollution, recursion, Gateway API input)", async () => {
  const upstream = await startUpstream();
  const files: Record<string, string> = {};
  const apps: Record<string, unknown> = {};
  for (const [name, code] of Object.entries(PROBES)) {
    files[`plugins/${name}.js`] = probePlugin(name, code);
    apps[`${name}.json`] = withPlugins(keylessApi(name, `/${name}/`, upstream.url), {
      pre: [{ name: `probe_${name}`, path: `plugins/${name}.js` }],
    });
  }
  const gw = await startGateway({ conf: { enable_jsvm: true, jsvm_pool_size: 1 }, files, apps });
  const probe = async (name: string) => {
    const res = await fetch(`${gw.url}/${name}/`);
    assert.equal(res.status, 200, `${name}: ${gw.logs()}`);
    return await res.json();
  };
  try {
    for (const name of ["deno", "fetch", "worker", "wasm", "process"]) {
      assert.equal((await probe(name)).out, "undefined", name);
    }
    assert.equal((await probe("importCall")).out, "blocked: SyntaxError");
    assert.equal((await probe("recursion")).out, "blocked: RangeError");
    assert.equal((await probe("recursion")).out, "blocked: RangeError", "the sandbox survives it");
    const polluted = await probe("pollute");
    assert.equal(polluted.out, "tried");
    assert.equal(polluted.trim, "hijacked", "within its own call, a plugin may change built-ins");
    const other = await probe("deno"); // another API, its own sandbox
    assert.deepEqual([other.seen, other.trim], [undefined, "a"]);
    assert.equal(upstream.count(), 0, "every probe answered from its plugin");

    // the Gateway API: nothing without the secret, clear errors for bad input with it
    assert.equal((await fetch(`${gw.url}/tyk/apis`)).status, 403);
    const broken = await gw.admin("/tyk/apis", { method: "POST", body: "{not json" });
    assert.equal(broken.status, 400);
    await broken.body?.cancel();
    const traversal = await gw.admin("/tyk/apis", {
      method: "POST",
      body: JSON.stringify(keylessApi("../../etc/x", "/x/", upstream.url)),
    });
    assert.equal(traversal.status, 400);
    assert.deepEqual(await traversal.json(), { status: "error", message: "Invalid API ID" });
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});
