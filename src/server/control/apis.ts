/**
 * `/tyk/apis`: lists the loaded APIs and writes definition files to app_path.
 * Writes change nothing at runtime until a reload, as in Tyk.
 */
import { Hono } from "hono";
import type { ApiHandle } from "../../chain/compile_api.ts";
import { type ApiDefinition, ApiDefinitionError, parseApiDefinition } from "../../config/api_definition.ts";
import type { ApiSet } from "../api_set.ts";
import { apiError, json, methodNotSupported, modified, readJson } from "./respond.ts";

/** What the apis routes need. */
export interface ApisRouteOptions {
  appPath: string;
  current: () => ApiSet;
}

/** The definition as loaded, with the listen path it is served on (a duplicate is moved, as in Tyk). */
function asServed(api: ApiHandle): ApiDefinition {
  if (api.listenPath === api.def.proxy.listen_path) return api.def;
  return { ...api.def, proxy: { ...api.def.proxy, listen_path: api.listenPath } };
}

function validate(body: unknown): string | null {
  try {
    parseApiDefinition(body, "request body");
    return null;
  } catch (err) {
    if (err instanceof ApiDefinitionError) {
      return err.message.replace(/^Cannot load API from request body: /, "");
    }
    throw err;
  }
}

/** Builds the `/tyk/apis` routes (mounted under `/tyk/apis`). */
export function apisRoutes(options: ApisRouteOptions): Hono {
  const app = new Hono({ strict: false });
  const fileOf = (apiId: string) => `${options.appPath}/${apiId}.json`;

  async function write(
    body: Record<string, unknown>,
    action: "added" | "modified",
    file: string,
  ): Promise<Response> {
    const reason = validate(body);
    if (reason) return apiError(400, `Validation of API Definition failed. Reason: ${reason}.`);
    try {
      await Deno.mkdir(options.appPath, { recursive: true });
      await Deno.writeTextFile(file, JSON.stringify(body, null, 2));
    } catch {
      return apiError(500, "file object creation failed, write error");
    }
    return modified(String(body.api_id), action);
  }

  async function create(request: Request): Promise<Response> {
    const body = await readJson(request);
    if (!body || typeof body !== "object" || Array.isArray(body)) return apiError(400, "Request malformed");
    const def = body as Record<string, unknown>;
    if (!def.api_id) def.api_id = crypto.randomUUID().replaceAll("-", "");
    if (typeof def.api_id !== "string" || !/^[\w.-]+$/.test(def.api_id) || def.api_id.includes("..")) {
      return apiError(400, "Invalid API ID");
    }
    return write(def, "added", fileOf(def.api_id));
  }

  app.get("/", () => json(options.current().router.apis.map(asServed)));
  app.post("/", (c) => create(c.req.raw));
  app.all("/", methodNotSupported);

  app.get("/:id", (c) => {
    const api = options.current().byId.get(c.req.param("id"));
    return api ? json(asServed(api)) : apiError(404, "API not found");
  });
  app.post("/:id", (c) => create(c.req.raw));
  app.put("/:id", async (c) => {
    const id = c.req.param("id");
    const api = options.current().byId.get(id);
    if (!api) return apiError(404, "API not found");
    const body = await readJson(c.req.raw);
    if (!body || typeof body !== "object" || Array.isArray(body)) return apiError(400, "Request malformed");
    const def = body as Record<string, unknown>;
    if (def.api_id !== id) {
      return apiError(
        400,
        "Request APIID does not match that in Definition! For Update operations these must match.",
      );
    }
    // The definition stays in the file it was loaded from, so no second file claims the same api_id
    return write(def, "modified", api.file);
  });
  app.delete("/:id", async (c) => {
    const api = options.current().byId.get(c.req.param("id"));
    if (!api) return apiError(404, "API not found");
    try {
      await Deno.remove(api.file);
    } catch {
      return apiError(500, "Delete failed");
    }
    return modified(api.apiId, "deleted");
  });
  app.all("/:id", methodNotSupported);
  // Portcullis only: what an operator needs to know about a loaded API beyond its definition
  app.get("/:id/status", (c) => {
    const api = options.current().byId.get(c.req.param("id"));
    if (!api) return apiError(404, "API not found");
    return json({ api_id: api.apiId, listen_path: api.listenPath, plugin_errors: api.pluginErrors });
  });
  app.all("/:id/status", methodNotSupported);
  return app;
}
