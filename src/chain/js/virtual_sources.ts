/**
 * Collects an API's virtual endpoints (`version_data.versions.<v>.extended_paths.virtual`) and the JS
 * sources their functions come from, read from disk (or decoded from the definition) on each call so a
 * reload serves edited code.
 */
import { resolve } from "node:path";
import type { ApiDefinition } from "../../config/api_definition.ts";
import type { Logger } from "../../log.ts";
import { decodeBase64 } from "../../jsvm/go/base64.ts";
import type { LoadIssue, PluginSource } from "../../jsvm/host/sandbox_pool.ts";

/** One virtual endpoint, as the chain matches and calls it. */
export interface VirtualEndpoint {
  /** The version whose `extended_paths` holds it. */
  version: string;
  /** `path`, a Tyk endpoint pattern. */
  path: string;
  /** `method`, matched exactly. */
  method: string;
  /** `response_function_name`: the global function to call. */
  name: string;
  /** `use_session`: the function gets the key's session and its `SessionMeta` is written back. */
  useSession: boolean;
  /** `proxy_on_error`: a failure sends the request upstream instead of answering 500. */
  proxyOnError: boolean;
  /** Where the function's code came from (a file, or `__virtual__/…` for a blob), for log lines. */
  source: string;
  /** The definition field, e.g. `version_data.versions.Default.extended_paths.virtual[0]`. */
  field: string;
}

/** What {@link collectVirtualEndpoints} found. */
export interface CollectedVirtualEndpoints {
  endpoints: VirtualEndpoint[];
  /** Sources to evaluate (global, never wrapped), each file once; failed ones are left out. */
  sources: PluginSource[];
  /** Sources that could not be read or decoded; their endpoints answer 500 (or proxy), as in Tyk. */
  issues: LoadIssue[];
}

/** Where virtual endpoint sources are found. */
export interface CollectVirtualOptions {
  /** Relative `function_source_uri` files resolve against this folder. */
  baseDir: string;
  /** `disable_virtual_path_blobs`: blob sources are refused (file sources still load). */
  disableBlobs: boolean;
  log: Logger;
}

const DECODER = new TextDecoder();

/**
 * Collects the enabled virtual endpoints of every version. Tyk matches them only in
 * versions with `use_extended_paths`; one without it is left out with a warning, as is an entry whose
 * `method` is empty (Tyk never matches it).
 * @example
 * const { endpoints, sources, issues } = await collectVirtualEndpoints(def, { baseDir, disableBlobs, log });
 */
export async function collectVirtualEndpoints(
  def: ApiDefinition,
  options: CollectVirtualOptions,
): Promise<CollectedVirtualEndpoints> {
  const endpoints: VirtualEndpoint[] = [];
  const sources = new Map<string, PluginSource>();
  const failed = new Set<string>();
  const issues: LoadIssue[] = [];
  const warn = (message: string) => options.log.warn(message, { api_id: def.api_id });

  for (const [version, info] of Object.entries(def.version_data.versions)) {
    const entries = info.extended_paths.virtual ?? [];
    if (entries.length === 0) continue;
    if (!info.use_extended_paths) {
      warn(
        `API "${def.api_id}": version "${version}" has virtual endpoints but use_extended_paths is false; they are ignored, as in Tyk`,
      );
      continue;
    }
    for (const [index, entry] of entries.entries()) {
      if (entry.disabled) continue;
      const field = `version_data.versions.${version}.extended_paths.virtual[${index}]`;
      if (entry.method === "") {
        warn(`API "${def.api_id}": ${field}.method is empty, so it never matches; it is ignored`);
        continue;
      }
      const source = entry.function_source_type === "file"
        ? resolve(options.baseDir, entry.function_source_uri)
        : `__virtual__/${def.api_id}/${version}/${index}/${entry.response_function_name}`;
      endpoints.push({
        version,
        path: entry.path,
        method: entry.method,
        name: entry.response_function_name,
        useSession: entry.use_session,
        proxyOnError: entry.proxy_on_error,
        source,
        field,
      });
      const known = sources.get(source);
      if (known) {
        if (!known.names.includes(entry.response_function_name)) {
          known.names.push(entry.response_function_name);
        }
        continue;
      }
      if (failed.has(source)) continue;
      const code = await readSource(entry, field, source, options, issues);
      if (code === null) failed.add(source);
      else {sources.set(source, {
          file: source,
          code,
          names: [entry.response_function_name],
          kind: "virtual",
        });}
    }
  }
  return { endpoints, sources: [...sources.values()], issues };
}

type VirtualEntry = ApiDefinition["version_data"]["versions"][string]["extended_paths"]["virtual"][number];

async function readSource(
  entry: VirtualEntry,
  field: string,
  source: string,
  options: CollectVirtualOptions,
  issues: LoadIssue[],
): Promise<string | null> {
  const fail = (message: string) => {
    issues.push({ file: source, message: `Cannot load ${field}: ${message}` });
    return null;
  };
  switch (entry.function_source_type) {
    case "blob": {
      if (options.disableBlobs) {
        return fail("blobs are not allowed on this node (disable_virtual_path_blobs)");
      }
      const bytes = decodeBase64(entry.function_source_uri);
      return bytes === null ? fail("function_source_uri is not valid base64") : DECODER.decode(bytes);
    }
    case "file":
      try {
        return await Deno.readTextFile(source);
      } catch (err) {
        const reason = err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message;
        return fail(`cannot read function_source_uri ${entry.function_source_uri}: ${reason}`);
      }
    default:
      return fail(
        `function_source_type must be "file" or "blob", got ${JSON.stringify(entry.function_source_type)}`,
      );
  }
}
