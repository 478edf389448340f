import assert from "node:assert/strict";
import { executeTemplate, parseTemplate, TemplateError } from "./go_template.ts";

const run = (source: string, data: unknown) => executeTemplate(parseTemplate(source), data);

Deno.test("executeTemplate() prints fields HTML-escaped, as html/template does in text", () => {
  const data = { Type: "AuthFailure", Meta: { Key: `a+b<"'&>`, Count: 3, Ok: true } };
  assert.equal(
    run("{{.Type}}:{{ .Meta.Key }}:{{.Meta.Count}}:{{.Meta.Ok}}", data),
    "AuthFailure:a&#43;b&lt;&#34;&#39;&amp;&gt;:3:true",
  );
});

Deno.test("executeTemplate() takes the first branch whose condition holds, nested ifs included", () => {
  const source =
    `{{ if eq .Type "HostDown"}}down{{ else if eq .Type "A" "B"}}{{if .Meta.X}}x{{else}}no-x{{end}}!{{ else}}other{{ end }}.`;
  assert.equal(run(source, { Type: "HostDown", Meta: {} }), "down.");
  assert.equal(run(source, { Type: "B", Meta: { X: "1" } }), "x!.");
  assert.equal(run(source, { Type: "A", Meta: { X: "" } }), "no-x!.");
  assert.equal(run(source, { Type: "Z", Meta: {} }), "other.");
});

Deno.test("executeTemplate() trims around {{- and -}}", () => {
  assert.equal(run("a  {{- .X -}}  \n b", { X: 1 }), "a1b");
});

Deno.test("parseTemplate() and executeTemplate() report what they cannot do", () => {
  assert.throws(() => parseTemplate("{{if .A}}x"), TemplateError);
  assert.throws(() => parseTemplate("{{end}}"), TemplateError);
  assert.throws(() => parseTemplate('{{printf "%s" .A}}'), /unsupported argument/);
  assert.throws(() => run("{{.Meta.Path}}", { Meta: { Key: "k" } }), /can't evaluate field Path/);
});
