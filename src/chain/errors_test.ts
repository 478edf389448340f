import assert from "node:assert/strict";
import { createErrorRenderer, GatewayError, MESSAGES } from "./errors.ts";

Deno.test("renderError() writes Tyk's 4-space JSON body with X-Generator", async () => {
  const res = createErrorRenderer()(new GatewayError(403, MESSAGES.keyNotFound), null);
  assert.equal(res.status, 403);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal(res.headers.get("x-generator"), "tyk.io");
  assert.equal(await res.text(), '{\n    "error": "Access to this API has been disallowed"\n}');
});

Deno.test("renderError() escapes the message for JSON, not HTML", async () => {
  const res = createErrorRenderer()(new GatewayError(400, 'a "quoted" <b>\n'), null);
  assert.equal(await res.text(), '{\n    "error": "a \\"quoted\\" <b>\\n"\n}');
});

Deno.test("renderError() answers XML with the request's base content type", async () => {
  const res = createErrorRenderer()(new GatewayError(401, "A & <b>"), "text/xml; charset=utf-8");
  assert.equal(res.headers.get("content-type"), "text/xml");
  assert.equal(
    await res.text(),
    '<?xml version = "1.0" encoding = "UTF-8"?>\n<error>A &amp; &lt;b&gt;</error>\n',
  );
});

Deno.test("renderError() honours hide_generator_header, close_connections, templates and extra headers", async () => {
  const render = createErrorRenderer({
    hideGeneratorHeader: true,
    closeConnections: true,
    templates: new Map([["error_401.json", '{"code": {{.StatusCode}}, "msg": "{{.Message}}"}']]),
  });
  const res = render(new GatewayError(401, "nope", { headers: { "X-Reason": "js" } }), null);
  assert.equal(res.headers.get("x-generator"), null);
  assert.equal(res.headers.get("connection"), "close");
  assert.equal(res.headers.get("x-reason"), "js");
  assert.equal(await res.text(), '{"code": 401, "msg": "nope"}');
  assert.equal(await render(new GatewayError(500, "x"), null).text(), '{\n    "error": "x"\n}');
});

Deno.test("renderError() writes a plain error as Go's http.Error does: text, newline, nosniff, no template", async () => {
  const render = createErrorRenderer({ templates: new Map([["error.json", "{{.Message}}"]]) });
  const res = render(new GatewayError(413, MESSAGES.requestEntityTooLarge, { plain: true }), null);
  assert.equal(res.status, 413);
  assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(res.headers.get("x-generator"), null);
  assert.equal(await res.text(), "Request Entity Too Large\n");
});
