/**
 * The `app_path` loader: every `*.json` directly in the folder is one API, as in Tyk. A broken file is
 * reported and skipped; it never stops the others.
 */
import { join } from "node:path";
import {
  type ApiDefinition,
  ApiDefinitionError,
  parseApiDefinition,
  type ReferenceSources,
} from "./api_definition.ts";
import { isPlainObject } from "./_fields.ts";
import { parseJsonText } from "./_json_text.ts";
import { isOasDocument, oasToClassic } from "./oas.ts";

/** One API loaded from `app_path`. */
export interface LoadedApi {
  /** The file it came from (absolute when `appPath` is). */
  file: string;
  /** The validated classic definition. */
  def: ApiDefinition;
  /** The Tyk OAS document: the file itself for a lone OAS file, else the `<name>-oas.json` companion. */
  oas?: unknown;
}

/** A file that could not be loaded, and why. */
export interface LoadError {
  file: string;
  message: string;
}

/** What `loadApiDefinitions()` found. */
export interface LoadedApis {
  apis: LoadedApi[];
  errors: LoadError[];
}

const COMPANION = /^(.*)-(oas|mcp)\.json$/;

function readFailure(err: unknown, what = "file"): string {
  if (err instanceof Deno.errors.NotFound) return `${what} not found`;
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  return (err as Error).message;
}

async function listJsonFiles(appPath: string): Promise<string[]> {
  const names: string[] = [];
  for await (const item of Deno.readDir(appPath)) {
    if ((item.isFile || item.isSymlink) && item.name.endsWith(".json")) names.push(item.name);
  }
  return names.sort();
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    throw new ApiDefinitionError(`Cannot load API from ${file}: cannot read the file (${readFailure(err)})`);
  }
  try {
    return parseJsonText(text);
  } catch (err) {
    throw new ApiDefinitionError(`Cannot load API from ${file}: not valid JSON (${(err as Error).message})`);
  }
}

/**
 * Loads every API definition in `appPath` (not recursive, by file name). `<name>-oas.json` and
 * `<name>-mcp.json` OpenAPI companions of a `<name>.json` are not APIs of their own; a lone Tyk OAS file is
 * converted (Tyk skips it). A second file with an `api_id` already loaded is an error naming both.
 * @param appPath the folder (`app_path`)
 * @param options where `env://` and `secrets://` references are looked up
 */
export async function loadApiDefinitions(
  appPath: string,
  options: ReferenceSources = {},
): Promise<LoadedApis> {
  const apis: LoadedApi[] = [];
  const errors: LoadError[] = [];
  let names: string[];
  try {
    names = await listJsonFiles(appPath);
  } catch (err) {
    errors.push({ file: appPath, message: `Cannot read app_path ${appPath}: ${readFailure(err, "folder")}` });
    return { apis, errors };
  }
  const present = new Set(names);
  const companions = new Map<string, unknown>();
  const decoded = new Map<string, unknown>();
  for (const name of names) {
    const file = join(appPath, name);
    try {
      const json = await readJson(file);
      const twin = COMPANION.exec(name);
      const isOpenApi = isPlainObject(json) && ("openapi" in json || "swagger" in json);
      if (twin && present.has(`${twin[1]}.json`) && isOpenApi) {
        if (twin[2] === "oas") companions.set(`${twin[1]}.json`, json);
        continue;
      }
      decoded.set(name, json);
    } catch (err) {
      errors.push({ file, message: (err as Error).message });
    }
  }
  const owners = new Map<string, string>();
  for (const [name, json] of decoded) {
    const file = join(appPath, name);
    try {
      const lone = isOasDocument(json);
      const def = parseApiDefinition(lone ? oasToClassic(json, file) : json, file, options);
      const owner = owners.get(def.api_id);
      if (owner !== undefined) {
        throw new ApiDefinitionError(
          `Cannot load API from ${file}: api_id "${def.api_id}" is already used by ${owner}`,
        );
      }
      owners.set(def.api_id, file);
      const oas = lone ? json : companions.get(name);
      apis.push(oas === undefined ? { file, def } : { file, def, oas });
    } catch (err) {
      if (!(err instanceof ApiDefinitionError)) throw err;
      errors.push({ file, message: err.message });
    }
  }
  errors.sort((a, b) => a.file < b.file ? -1 : a.file > b.file ? 1 : 0);
  return { apis, errors };
}
