import assert from "node:assert/strict";
import { canonicalHeaderKey, detectContentType, fromHeaderValue, toHeaderValue } from "./http.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("canonicalHeaderKey() canonicalises like Go and leaves invalid names alone", () => {
  assert.equal(canonicalHeaderKey("x-api-key"), "X-Api-Key");
  assert.equal(canonicalHeaderKey("X-API-KEY"), "X-Api-Key");
  assert.equal(canonicalHeaderKey("WWW-Authenticate"), "Www-Authenticate");
  assert.equal(canonicalHeaderKey("content_type"), "Content_type");
  assert.equal(canonicalHeaderKey("x-1a"), "X-1a");
  assert.equal(canonicalHeaderKey("bad name"), "bad name");
  assert.equal(canonicalHeaderKey("x-é"), "x-é");
});

Deno.test("detectContentType() sniffs what Go's server would send for common bodies", () => {
  assert.equal(detectContentType(bytes('{"a":1}')), "text/plain; charset=utf-8");
  assert.equal(detectContentType(bytes("Foobarbaz")), "text/plain; charset=utf-8");
  assert.equal(detectContentType(bytes("  <html><body>x")), "text/html; charset=utf-8");
  assert.equal(detectContentType(bytes("<!doctype html>")), "text/html; charset=utf-8");
  assert.equal(detectContentType(bytes("<p>hi</p>")), "text/html; charset=utf-8");
  assert.equal(detectContentType(bytes("<pre>")), "text/plain; charset=utf-8");
  assert.equal(detectContentType(bytes('<?xml version="1.0"?><a/>')), "text/xml; charset=utf-8");
  assert.equal(detectContentType(bytes("%PDF-1.4")), "application/pdf");
  assert.equal(
    detectContentType(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0])),
    "image/png",
  );
  assert.equal(detectContentType(new Uint8Array([0x1f, 0x8b, 0x08, 0])), "application/x-gzip");
  assert.equal(detectContentType(new Uint8Array([0x61, 0x00, 0x62])), "application/octet-stream");
});

Deno.test("fromHeaderValue() and toHeaderValue() carry UTF-8 bytes through Latin-1 header strings", () => {
  assert.equal(toHeaderValue("café"), "caf\u00c3\u00a9");
  assert.equal(fromHeaderValue("caf\u00c3\u00a9"), "café");
  assert.equal(fromHeaderValue("plain"), "plain");
  assert.equal(fromHeaderValue("\u00ff"), "\ufffd");
});
