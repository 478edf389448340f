/** The hooked API the benchmarks measure: keyless, with an otto `pre` and `post` hook that each set a header. */
import { keylessApi } from "../tests/support/gateway.ts";

/** A middleware `name` whose request hook sets `X-<name>: 1`. */
function hook(name: string): string {
  return `var ${name} = new TykJS.TykMiddleware.NewMiddleware({});
${name}.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-${name}"] = "1";
  return ${name}.ReturnData(request, {});
});
`;
}

/** The plugin files of `hookedApi()`, relative to the gateway's folder: path → source. */
export const HOOK_FILES: Record<string, string> = {
  "plugins/preHook.js": hook("preHook"),
  "plugins/postHook.js": hook("postHook"),
};

/** A keyless API on `listenPath` with the `pre` and `post` hooks of `HOOK_FILES` (needs `enable_jsvm`). */
export function hookedApi(apiId: string, listenPath: string, targetUrl: string): Record<string, unknown> {
  return {
    ...keylessApi(apiId, listenPath, targetUrl),
    custom_middleware: {
      driver: "otto",
      pre: [{ name: "preHook", path: "plugins/preHook.js" }],
      post: [{ name: "postHook", path: "plugins/postHook.js" }],
    },
  };
}
