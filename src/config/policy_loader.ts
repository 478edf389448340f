/**
 * Loads policies the way Tyk's file source does: every `*.json` in `policies.policy_path` holds one policy,
 * or, when that is empty, `policies.policy_record_name` holds an object of policies by id. A file that does
 * not parse is reported with its name and skipped; the other policies load.
 */
import { join } from "node:path";
import { isPlainObject } from "./_fields.ts";
import { parseJsonText } from "./_json_text.ts";
import { parsePolicy, type Policy } from "./policy.ts";

/** The `policies` block of tyk.conf. */
export interface PolicySettings {
  policy_source: string;
  policy_path: string;
  policy_record_name: string;
}

/** What {@link loadPolicies} found: policies by id, and the files (or entries) that failed. */
export interface LoadedPolicies {
  policies: Map<string, Policy>;
  errors: { file: string; message: string }[];
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    throw new Error(`cannot read the file (${(err as Error).message})`);
  }
  try {
    return parseJsonText(text);
  } catch (err) {
    throw new Error(`not valid JSON (${(err as Error).message})`);
  }
}

function add(found: LoadedPolicies, file: string, json: unknown, fallbackId?: string): void {
  try {
    const policy = parsePolicy(json);
    if (!policy.id) policy.id = fallbackId ?? "";
    if (!policy.id) throw new Error("id is empty");
    found.policies.set(policy.id, policy);
  } catch (err) {
    found.errors.push({ file, message: `Cannot load policy from ${file}: ${(err as Error).message}` });
  }
}

/**
 * Loads the policies tyk.conf points at; none when it points at none.
 * @throws never: every problem is in `errors`
 */
export async function loadPolicies(settings: PolicySettings): Promise<LoadedPolicies> {
  const found: LoadedPolicies = { policies: new Map(), errors: [] };
  const source = settings.policy_source || "file";
  if (source !== "file") {
    const message = `Cannot load policies from policy_source "${source}": only "file" is supported`;
    found.errors.push({ file: "tyk.conf", message });
    return found;
  }
  if (settings.policy_path) {
    let names: string[] = [];
    try {
      for await (const item of Deno.readDir(settings.policy_path)) {
        if ((item.isFile || item.isSymlink) && item.name.endsWith(".json")) names.push(item.name);
      }
    } catch (err) {
      const message = `Cannot read policies.policy_path ${settings.policy_path}: ${(err as Error).message}`;
      found.errors.push({ file: settings.policy_path, message });
      return found;
    }
    names = names.sort();
    for (const name of names) {
      const file = join(settings.policy_path, name);
      try {
        add(found, file, await readJson(file));
      } catch (err) {
        found.errors.push({ file, message: `Cannot load policy from ${file}: ${(err as Error).message}` });
      }
    }
    return found;
  }
  if (settings.policy_record_name) {
    const file = settings.policy_record_name;
    let json: unknown;
    try {
      json = await readJson(file);
    } catch (err) {
      found.errors.push({ file, message: `Cannot load policies from ${file}: ${(err as Error).message}` });
      return found;
    }
    if (!isPlainObject(json)) {
      found.errors.push({
        file,
        message: `Cannot load policies from ${file}: expected an object of policies by id`,
      });
      return found;
    }
    for (const [id, policy] of Object.entries(json)) add(found, `${file} (policy "${id}")`, policy, id);
  }
  return found;
}
