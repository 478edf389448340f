/**
 * The parts of a Tyk OAS document the converter reads (`apidef/oas/schema/x-tyk-api-gateway.json`), with
 * Go zero values. Members we do not convert are dropped.
 */
import { z } from "zod";
import { anyMap, bool, entry, list, num, obj, recordOf, str, strList } from "./_fields.ts";

const enabled = () => obj({ enabled: bool() });

const pluginShape = {
  enabled: bool(),
  functionName: str(),
  path: str(),
  code: str(),
  rawBodyOnly: bool(),
  requireSession: bool(),
};
const pluginList = () => list(entry(pluginShape));
/** The deprecated singular form: `prePlugin: {plugins: […]}`. */
const legacyPlugins = () => obj({ plugins: pluginList() });

const authSource = () => obj({ enabled: bool(), name: str() });
const headerList = () => list(entry({ name: str(), value: str() }));
const headerTransform = () => obj({ enabled: bool(), add: headerList(), remove: strList() });

const xTykSchema = z.object({
  info: obj({
    id: str(),
    orgId: str(),
    name: str(),
    expiration: str(),
    state: obj({ active: bool(), internal: bool() }),
    versioning: obj({
      enabled: bool(),
      name: str(),
      default: str(),
      location: str(),
      key: str(),
      versions: list(entry({ name: str(), id: str() })),
      stripVersioningData: bool(),
      urlVersioningPattern: str(),
      fallbackToDefault: bool(),
    }),
  }),
  upstream: obj({
    url: str(),
    rateLimit: obj({ enabled: bool(), rate: num(), per: str() }),
    preserveHostHeader: enabled(),
    preserveTrailingSlash: enabled(),
  }),
  server: obj({
    listenPath: obj({ value: str(), strip: bool() }),
    customDomain: obj({ enabled: bool(), name: str() }),
    authentication: obj({
      enabled: bool(),
      stripAuthorizationData: bool(),
      baseIdentityProvider: str(),
      securitySchemes: recordOf(
        entry({ enabled: bool(), header: authSource(), query: authSource(), cookie: authSource() }),
      ),
      custom: obj({
        enabled: bool(),
        config: obj({
          enabled: bool(),
          functionName: str(),
          path: str(),
          rawBodyOnly: bool(),
          requireSession: bool(),
        }),
      }),
    }),
    eventHandlers: list(entry({
      enabled: bool(),
      trigger: str(),
      type: str(),
      id: str(),
      name: str(),
      url: str(),
      method: str(),
      cooldownPeriod: str(),
      bodyTemplate: str(),
      headers: headerList(),
      logPrefix: str(),
      functionName: str(),
      path: str(),
    })),
    ipAccessControl: obj({ enabled: bool(), allow: strList(), block: strList() }),
  }),
  middleware: obj({
    global: obj({
      pluginConfig: obj({
        driver: str(),
        // no default: a missing `data` means config_data is disabled
        data: entry({ enabled: bool(), value: anyMap() }).optional(),
      }),
      prePlugins: pluginList(),
      prePlugin: legacyPlugins(),
      postAuthenticationPlugins: pluginList(),
      postAuthenticationPlugin: legacyPlugins(),
      postPlugins: pluginList(),
      postPlugin: legacyPlugins(),
      responsePlugins: pluginList(),
      responsePlugin: legacyPlugins(),
      contextVariables: enabled(),
      transformRequestHeaders: headerTransform(),
      transformResponseHeaders: headerTransform(),
      skipRateLimit: bool(),
      skipQuota: bool(),
      skipQuotaReset: bool(),
    }),
    operations: recordOf(entry({
      allow: entry({ enabled: bool(), ignoreCase: bool() }).optional(),
      block: entry({ enabled: bool(), ignoreCase: bool() }).optional(),
      ignoreAuthentication: entry({ enabled: bool(), ignoreCase: bool() }).optional(),
      virtualEndpoint: entry({
        enabled: bool(),
        functionName: str(),
        /** Deprecated spelling of `functionName`. */
        name: str(),
        path: str(),
        body: str(),
        proxyOnError: bool(),
        requireSession: bool(),
      }).optional(),
    })),
  }),
});

/** OpenAPI's HTTP methods, in the order operations are converted. */
export const OAS_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

const operationRef = () => entry({ operationId: str() }).optional();

/** A Tyk OAS document: the OpenAPI parts the converter needs plus `x-tyk-api-gateway`. */
export const oasDocumentSchema = z.object({
  paths: recordOf(entry({
    get: operationRef(),
    put: operationRef(),
    post: operationRef(),
    delete: operationRef(),
    options: operationRef(),
    head: operationRef(),
    patch: operationRef(),
    trace: operationRef(),
  })),
  components: obj({
    securitySchemes: recordOf(entry({ type: str(), in: str(), name: str(), scheme: str() })),
  }),
  security: list(recordOf(strList())),
  "x-tyk-api-gateway": xTykSchema,
});

/** The parsed document. */
export type OasDocument = z.infer<typeof oasDocumentSchema>;
/** The parsed `x-tyk-api-gateway` extension. */
export type XTyk = OasDocument["x-tyk-api-gateway"];
/** One plugin entry of `middleware.global`. */
export type OasPlugin = XTyk["middleware"]["global"]["prePlugins"][number];
