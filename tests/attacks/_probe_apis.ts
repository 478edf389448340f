/**
 * One keyless API per attack case, each with a `pre` hook that runs the case's code only when the request has
 * `?run=1`: the same API answers normally without it, so a test can see it recover.
 */
import { keylessApi, withPlugins } from "../support/gateway.ts";

function probePlugin(code: string): string {
  return `var probe = new TykJS.TykMiddleware.NewMiddleware({});
probe.NewProcessRequest(function (request, session, spec) {
  if (request.Params.run) {
    ${code}
  }
  return probe.ReturnData(request, {});
});
`;
}

/** `files` and `apps` for startGateway: API `<name>` at `/<name>/` runs plugin `plugins/<name>.js`. */
export function probeApis(
  cases: Record<string, string>,
  upstreamUrl: string,
): { files: Record<string, string>; apps: Record<string, unknown> } {
  const apps: Record<string, unknown> = {};
  const files: Record<string, string> = {};
  for (const [name, code] of Object.entries(cases)) {
    files[`plugins/${name}.js`] = probePlugin(code);
    apps[`${name}.json`] = withPlugins(keylessApi(name, `/${name}/`, upstreamUrl), {
      pre: [{ name: "probe", path: `plugins/${name}.js` }],
    });
  }
  return { files, apps };
}
