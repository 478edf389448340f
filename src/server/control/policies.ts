/**
 * `/tyk/policies`: lists the loaded policies and writes policy files to `policies.policy_path`. As in Tyk, a
 * write changes nothing at runtime until the next reload.
 */
import { Hono } from "hono";
import { parsePolicy, type PolicyMap } from "../../config/policy.ts";
import type { PolicySettings } from "../../config/policy_loader.ts";
import { apiError, json, methodNotSupported, modified, readJson } from "./respond.ts";

/** What the policies routes need. */
export interface PoliciesRouteOptions {
  settings: PolicySettings;
  /** The policies loaded now. */
  current: () => PolicyMap;
}

const SAFE_ID = /^[\w.-]+$/;

/** Builds the `/tyk/policies` routes (mounted under `/tyk/policies`). */
export function policiesRoutes(options: PoliciesRouteOptions): Hono {
  const app = new Hono({ strict: false });
  const { settings } = options;

  /** The answer when this gateway cannot write policy files, or `null` when it can. */
  function refusal(): Response | null {
    if (settings.policy_source && settings.policy_source !== "file") {
      return apiError(500, "Due to enabled service policy source, please use the Dashboard API");
    }
    if (!settings.policy_path) return apiError(500, "Unable to access policy storage.");
    return null;
  }

  async function write(request: Request, pathId: string | null): Promise<Response> {
    const refused = refusal();
    if (refused) return refused;
    const body = await readJson(request);
    if (body === undefined || typeof body !== "object" || body === null || Array.isArray(body)) {
      return apiError(400, "Request malformed");
    }
    let id: string;
    try {
      id = parsePolicy(body).id;
    } catch (err) {
      return apiError(400, `Request malformed: ${(err as Error).message}`);
    }
    if (!id) return apiError(400, "Unable to create policy without id.");
    if (pathId !== null && id !== pathId) {
      return apiError(
        400,
        "Request ID does not match that in policy! For Update operations these must match.",
      );
    }
    if (!SAFE_ID.test(id) || id.includes("..")) {
      return apiError(400, `Invalid policy id ${JSON.stringify(id)}: use letters, digits, ".", "_" and "-"`);
    }
    try {
      await Deno.writeTextFile(`${settings.policy_path}/${id}.json`, JSON.stringify(body, null, 2));
    } catch {
      return apiError(500, "Unable to access policy storage.");
    }
    return modified(id, pathId === null ? "added" : "modified");
  }

  app.get("/", () => json([...options.current().values()]));
  app.post("/", (c) => write(c.req.raw, null));
  app.put("/", () => apiError(400, "Must specify an apiID to update"));
  app.delete("/", () => apiError(400, "Must specify an apiID to delete"));
  app.all("/", methodNotSupported);

  app.get("/:id", (c) => {
    const policy = options.current().get(c.req.param("id"));
    return policy ? json(policy) : apiError(404, "Policy not found");
  });
  app.post("/:id", (c) => write(c.req.raw, null));
  app.put("/:id", (c) => write(c.req.raw, c.req.param("id")));
  app.delete("/:id", async (c) => {
    const refused = refusal();
    if (refused) return refused;
    const id = c.req.param("id");
    if (!SAFE_ID.test(id) || id.includes("..")) return apiError(500, "Delete failed");
    try {
      await Deno.remove(`${settings.policy_path}/${id}.json`);
    } catch {
      return apiError(500, "Delete failed");
    }
    return modified(id, "deleted");
  });
  app.all("/:id", methodNotSupported);
  return app;
}
