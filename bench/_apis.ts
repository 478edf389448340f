/**
 * The APIs the benchmarks put in front of an upstream, beside `_hooked_api.ts`'s hooked one: virtual endpoints
 * (a JSON answer from JS, and one built from a `TykMakeHttpRequest` to the upstream), and a key with a rate
 * limit and a quota that a run never reaches.
 */
import { defaultVersion, keylessApi, type TestGateway } from "../tests/support/gateway.ts";
import { createKey, keySession } from "../tests/support/keys.ts";
import { HOOK_FILES } from "./_hooked_api.ts";

const VIRTUAL_JSON = `function answer(request, session, spec) {
  return TykJsResponse({
    Body: JSON.stringify({ ok: true, path: request.URL }),
    Headers: { "Content-Type": "application/json" },
    Code: 200
  }, {});
}
`;

const VIRTUAL_FETCH = `function relay(request, session, spec) {
  var res = JSON.parse(TykMakeHttpRequest(JSON.stringify({
    Method: "GET", Domain: spec.config_data.upstream, Resource: "/x", Headers: {}
  })));
  return TykJsResponse({ Body: res.Body, Code: res.Code }, {});
}
`;

/** The plugin files of the APIs below and of `hookedApi()`, by path relative to the gateway's folder. */
export const PLUGIN_FILES: Record<string, string> = {
  ...HOOK_FILES,
  "plugins/virtual.js": VIRTUAL_JSON,
  "plugins/relay.js": VIRTUAL_FETCH,
};

/** A keyless API whose `GET /x` is a virtual endpoint: `answer` (JSON) or `relay` (TykMakeHttpRequest). */
export function virtualApi(apiId: string, listenPath: string, target: string, fn: "answer" | "relay") {
  return keylessApi(apiId, listenPath, target, {
    config_data: { upstream: target },
    ...defaultVersion({
      virtual: [{
        path: "/x",
        method: "GET",
        response_function_name: fn,
        function_source_type: "file",
        function_source_uri: fn === "answer" ? "plugins/virtual.js" : "plugins/relay.js",
      }],
    }),
  });
}

/**
 * Creates a key for `apiId` with a rate limit (a billion a second) and a quota (a billion an hour) that no
 * run reaches, so every request pays for both checks; throws unless the API answers it with those limits.
 */
export async function limitedKey(gw: TestGateway, apiId: string, listenPath: string): Promise<string> {
  const key = await createKey(
    gw,
    keySession([apiId], { rate: 1_000_000_000, per: 1, quota_max: 1_000_000_000, quota_renewal_rate: 3600 }),
  );
  const check = await fetch(`${gw.url}${listenPath}`, { headers: { authorization: key } });
  await check.body?.cancel();
  if (check.status !== 200 || check.headers.get("x-ratelimit-limit") !== "1000000000") {
    throw new Error(`the keyed API is not limited as intended: ${check.status}`);
  }
  return key;
}
