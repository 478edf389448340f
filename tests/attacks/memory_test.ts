/**
 * Attack: one call's memory. A plugin that allocates past `jsvm_memory_limit_mb` ends only its own sandbox
 * (500 for that call, a log line naming the API and plugin, the API serves its next request); a hook that
 * returns a huge body or huge headers gets a clear error instead of taking the process down. Meanwhile the
 * gateway's other APIs serve as usual.
 */
import assert from "node:assert/strict";
import { startGateway } from "../support/gateway.ts";
import { statusOf } from "../support/http.ts";
import { startUpstream } from "../support/upstream.ts";
import { probeApis } from "./_probe_apis.ts";

const CASES: Record<string, string> = {
  // fills its heap fast (splitting a 120 MB string a few times does too, but takes V8 tens of seconds of
  // garbage collection near the limit before it gives up)
  hog: "var hog = []; for (var i = 0; ; i++) hog.push(new Array(1e6).fill(i));",
  body: 'request.ReturnOverrides.ResponseCode = 200; request.ReturnOverrides.ResponseBody = "x".repeat(7e7);',
  headers: 'for (var i = 0; i < 2000; i++) request.SetHeaders["X-Big-" + i] = "v".repeat(1000);',
  fine: "",
};

Deno.test("attack: memory past jsvm_memory_limit_mb or a huge hook result fails one call, not the gateway", async () => {
  const upstream = await startUpstream();
  const { files, apps } = probeApis(CASES, upstream.url);
  const gw = await startGateway({
    conf: { enable_jsvm: true, jsvm_timeout: 20, jsvm_pool_size: 1, jsvm_memory_limit_mb: 320 },
    files,
    apps,
  });
  try {
    const other = () => statusOf(fetch(`${gw.url}/fine/?run=1`));
    assert.equal(await other(), 200);

    const hog = fetch(`${gw.url}/hog/?run=1`);
    assert.equal(await other(), 200, "another API serves while one sandbox fills its heap");
    const res = await hog;
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { error: "Internal Server Error" });
    await gw.waitForLog(
      /level=error msg="JS sandbox ran out of memory \(jsvm_memory_limit_mb is 320\)" prefix=\S+ api_id=hog plugin="probe \(\S+hog\.js\) DoProcessRequest"/,
    );
    assert.equal(await statusOf(fetch(`${gw.url}/hog/`)), 200, "the API serves its next request");

    assert.equal(await statusOf(fetch(`${gw.url}/body/?run=1`)), 500);
    await gw.waitForLog(/api_id=body .*more than the 67108864 (characters )?a JS hook may return/);
    assert.equal(await statusOf(fetch(`${gw.url}/headers/?run=1`)), 500);
    await gw.waitForLog(/api_id=headers .*more than the 1048576 a JS hook may set/);
    for (const name of ["body", "headers", "fine"]) {
      assert.equal(await statusOf(fetch(`${gw.url}/${name}/`)), 200);
    }
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});
