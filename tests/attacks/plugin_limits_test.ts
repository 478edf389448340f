/**
 * Attack: what a plugin may do through the host API, per API (`jsvm_limits`, our addition). By default a
 * plugin does what Tyk lets it: send requests anywhere (the gateway's own admin API included), read any
 * key's session and mint keys for other APIs, and share one TykStorage space with every API. An API with
 * limits can reach only the hosts it lists (redirects included; the admin port only when an entry names
 * it), has no key functions, and keeps its TykStorage keys apart.
 */
import assert from "node:assert/strict";
import { keylessApi, SECRET, startGateway, tokenApi, withPlugins } from "../support/gateway.ts";
import { startUpstream } from "../support/upstream.ts";

const PROBE = `var probe = new TykJS.TykMiddleware.NewMiddleware({});
probe.NewProcessRequest(function (request, session, spec) {
  var p = request.Params, out = {};
  if (p.to) {
    var r = TykMakeHttpRequest(JSON.stringify({
      Method: "GET", Domain: p.to[0], Resource: "", Headers: { "X-Tyk-Authorization": ${
  JSON.stringify(SECRET)
} }
    }));
    out.http = typeof r === "string" && r !== "" ? JSON.parse(r).Code : "refused";
    out.batch = JSON.parse(TykBatchRequest(JSON.stringify({
      requests: [{ method: "GET", relative_url: p.to[0], headers: {} }]
    })))[0].code;
  }
  if (p.set) TykStorageSet("k", p.set[0], 0);
  out.stored = TykStorageGet("k");
  if (p.mint) {
    TykSetKeyData(p.mint[0], JSON.stringify({
      org_id: "default", meta_data: { by: "plugin" },
      access_rights: { tok: { api_id: "tok", api_name: "tok", versions: ["Default"] } }
    }), "1");
  }
  if (p.peek) out.peek = JSON.parse(TykGetKeyData(p.peek[0], "tok"));
  request.ReturnOverrides.ResponseCode = 200;
  request.ReturnOverrides.ResponseBody = JSON.stringify(out);
  return probe.ReturnData(request, {});
});
`;

Deno.test("attack: jsvm_limits confine an API's plugins (egress, key functions, storage); without them Tyk's defaults hold", async () => {
  const other = await startUpstream(); // not on any allow-list; counts what reaches it
  // a listed host that answers 200, or redirects to ?to=
  const listed = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const to = new URL(req.url).searchParams.get("to");
    return to ? Response.redirect(to, 302) : new Response("listed");
  });
  const listedUrl = `http://127.0.0.1:${listed.addr.port}`;
  const api = (id: string, limits?: Record<string, unknown>) =>
    withPlugins(keylessApi(id, `/${id}/`, other.url, limits ? { jsvm_limits: limits } : {}), {
      pre: [{ name: "probe", path: "plugins/probe.js" }],
    });
  const gw = await startGateway({
    conf: { enable_jsvm: true },
    files: { "plugins/probe.js": PROBE },
    apps: {
      "open.json": api("open"),
      "limited.json": api("limited", {
        egress_allow: [`127.0.0.1:${listed.addr.port}`, "10.0.0.0/8"],
        key_functions: false,
        storage_per_api: true,
      }),
      // all of loopback, by CIDR: still not the gateway's own admin port
      "loopback.json": api("loopback", { egress_allow: ["127.0.0.0/8"], storage_per_api: true }),
      "tok.json": tokenApi("tok", "/tok/", other.url),
    },
  });
  const probe = async (id: string, query: Record<string, string>) => {
    const res = await fetch(`${gw.url}/${id}/?${new URLSearchParams(query)}`);
    assert.equal(res.status, 200, gw.logs());
    return await res.json();
  };
  const admin = `${gw.url}/tyk/keys`;
  try {
    // egress: Tyk's default sends anywhere, the gateway's admin API (with its secret) included
    assert.deepEqual(await probe("open", { to: other.url }), { http: 200, batch: 200, stored: null });
    assert.equal((await probe("open", { to: admin })).http, 200);
    const before = other.count();
    assert.deepEqual(await probe("limited", { to: listedUrl }), { http: 200, batch: 200, stored: null });
    assert.deepEqual(await probe("limited", { to: other.url }), { http: "refused", batch: 0, stored: null });
    assert.deepEqual(await probe("limited", { to: `${listedUrl}/?to=${encodeURIComponent(other.url)}` }), {
      http: "refused",
      batch: 0,
      stored: null,
    }, "a redirect to an unlisted host is refused too");
    assert.equal((await probe("limited", { to: admin })).http, "refused");
    assert.equal(other.count(), before, "nothing reached the unlisted host");
    assert.equal((await probe("loopback", { to: other.url })).http, 200);
    assert.equal((await probe("loopback", { to: admin })).http, "refused");
    await gw.waitForLog(/api_id=limited .*is not in this API's jsvm_limits\.egress_allow/);

    // key functions: on by default (a keyless API's plugin mints a key for another API and reads it)
    assert.equal(
      (await probe("open", { mint: "minted-by-open", peek: "minted-by-open" })).peek.meta_data.by,
      "plugin",
    );
    const peeked = await probe("limited", { peek: "minted-by-open", mint: "minted-by-limited" });
    assert.deepEqual(peeked.peek, { status: "error", message: "Key not found" });
    assert.equal((await gw.admin("/tyk/keys/minted-by-limited")).status, 404);
    assert.equal((await gw.admin("/tyk/keys/minted-by-open")).status, 200);
    await gw.waitForLog(/TykSetKeyData is off for this API .*api_id=limited/);

    // storage: one space for every API by default; an API with storage_per_api has its own
    await probe("open", { set: "from-open" });
    await probe("limited", { set: "from-limited" });
    assert.equal((await probe("open", {})).stored, "from-open");
    assert.equal((await probe("limited", {})).stored, "from-limited");
    assert.equal((await probe("loopback", {})).stored, null);
  } finally {
    await gw.stop();
    await listed.shutdown();
    await other.stop();
  }
});
