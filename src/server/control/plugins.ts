/**
 * `POST /tyk/plugins/test`: runs a plugin source once in a sandbox made for the call (see
 * `plugin_runner/run_plugin.ts`) and answers what it did; a malformed test is a 400 `{"error": …}`.
 */
import { Hono } from "hono";
import { parsePluginTestInput } from "../../config/plugin_test_input.ts";
import { runPluginTest } from "../../plugin_runner/run_plugin.ts";
import { json, methodNotSupported } from "./respond.ts";

/** What the plugin routes need. */
export interface PluginsRouteOptions {
  /** `jsvm_timeout` in ms. */
  timeoutMs: number;
}

/** Builds the `/tyk/plugins` routes (mounted under `/tyk/plugins`). */
export function pluginsRoutes(options: PluginsRouteOptions): Hono {
  const app = new Hono({ strict: false });
  app.post("/test", async (c) => {
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch (err) {
      return json({ error: `invalid request body: ${(err as Error).message}` }, 400);
    }
    const input = parsePluginTestInput(body);
    if ("error" in input) return json({ error: input.error }, 400);
    return json(await runPluginTest(input, { timeoutMs: options.timeoutMs }));
  });
  app.all("/test", methodNotSupported);
  return app;
}
