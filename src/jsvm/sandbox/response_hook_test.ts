import assert from "node:assert/strict";
import { GoJsonError } from "../go/json.ts";
import type { HookRequest, HookResponse } from "../protocol.ts";
import { responseHookEdits, responseObject, responseRequestObject } from "./response_hook.ts";

const RESPONSE: HookResponse = {
  status: 200,
  headers: ["content-type", "text/plain", "set-cookie", "a=1", "set-cookie", "b=2"],
  body: "hello",
};

const REQUEST: HookRequest = {
  method: "GET",
  requestURI: "/api/x?a=1",
  url: "/x?a=1",
  scheme: "http",
  host: "gw",
  query: "a=1",
  headers: ["accept", "*/*"],
  body: "",
  ignoreCanonical: false,
};

Deno.test("responseObject() gives status, body text, canonical header arrays and empty edit lists", () => {
  assert.deepEqual(responseObject(RESPONSE), {
    StatusCode: 200,
    Body: "hello",
    Headers: { "Content-Type": ["text/plain"], "Set-Cookie": ["a=1", "b=2"] },
    SetHeaders: {},
    DeleteHeaders: [],
  });
});

Deno.test("responseRequestObject() is a request hook's request object with Body null", () => {
  const request = responseRequestObject(REQUEST);
  assert.equal(request.Body, null);
  assert.equal(request.URL, "/x?a=1");
  assert.deepEqual(request.Headers, { Accept: ["*/*"], Host: ["gw"] });
  assert.deepEqual(request.Params, { a: ["1"] });
});

Deno.test("responseHookEdits() decodes like Go and reports an unchanged body as null", () => {
  assert.deepEqual(
    responseHookEdits(
      '{"response":{"statuscode":201,"Body":"hello","SetHeaders":{"x-new":"é"},"DeleteHeaders":["X-Old"]},"SessionMeta":{}}',
      RESPONSE,
      false,
    ),
    { status: 201, body: null, deleteHeaders: ["X-Old"], setHeaders: [["X-New", "\u00c3\u00a9"]] },
  );
  assert.deepEqual(
    responseHookEdits('{"Response":{"SetHeaders":{"x-new":"1"}}}', RESPONSE, true),
    { status: 0, body: "", deleteHeaders: [], setHeaders: [["x-new", "1"]] },
    "a result without Body empties the body, as in Tyk",
  );
});

Deno.test("responseHookEdits() refuses what Go's decoder refuses, SessionMeta included", () => {
  for (
    const text of [
      "undefined",
      '{"Response":{"StatusCode":"201"}}',
      '{"Response":{"SetHeaders":{"X-N":1}}}',
      '{"Response":{"Headers":{"X-N":"not a list"}}}',
      '{"Response":{},"SessionMeta":{"n":1}}',
    ]
  ) {
    assert.throws(() => responseHookEdits(text, RESPONSE, false), GoJsonError, text);
  }
});
