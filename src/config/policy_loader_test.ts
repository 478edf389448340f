import assert from "node:assert/strict";
import { join } from "node:path";
import { loadPolicies } from "./policy_loader.ts";

const root = await Deno.makeTempDir({ prefix: "portcullis-policies-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));

const settings = (
  extra: Partial<{ policy_source: string; policy_path: string; policy_record_name: string }>,
) => ({
  policy_source: "file",
  policy_path: "",
  policy_record_name: "",
  ...extra,
});

Deno.test("loadPolicies() reads one policy per file; a broken file is named and the others load", async () => {
  const dir = join(root, "dir");
  await Deno.mkdir(dir);
  await Deno.writeTextFile(join(dir, "a.json"), JSON.stringify({ id: "a", rate: 5, per: 1 }));
  await Deno.writeTextFile(join(dir, "b.json"), JSON.stringify({ _id: "b-mongo", quota_max: 3 }));
  await Deno.writeTextFile(join(dir, "broken.json"), '{\n  "id": ');
  await Deno.writeTextFile(join(dir, "typed.json"), JSON.stringify({ id: "t", rate: "fast" }));
  await Deno.writeTextFile(join(dir, "noid.json"), JSON.stringify({ rate: 1 }));
  await Deno.writeTextFile(join(dir, "notes.txt"), "ignored");
  const { policies, errors } = await loadPolicies(settings({ policy_path: dir }));
  assert.deepEqual([...policies.keys()].sort(), ["a", "b-mongo"]);
  assert.equal(policies.get("a")!.rate, 5);
  assert.deepEqual(errors.map((e) => e.message), [
    `Cannot load policy from ${
      join(dir, "broken.json")
    }: not valid JSON (Unexpected end of JSON input at line 2 column 9)`,
    `Cannot load policy from ${join(dir, "noid.json")}: id is empty`,
    `Cannot load policy from ${join(dir, "typed.json")}: rate: expected number, received string`,
  ]);
});

Deno.test("loadPolicies() reads policy_record_name as an object of policies by id", async () => {
  const file = join(root, "policies.json");
  await Deno.writeTextFile(file, JSON.stringify({ gold: { rate: 10, per: 1 }, bad: { rate: [] } }));
  const { policies, errors } = await loadPolicies(settings({ policy_record_name: file }));
  assert.deepEqual([...policies.keys()], ["gold"]);
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /policy "bad"\): rate: expected number/);
});

Deno.test("loadPolicies() reports a missing folder and a source it does not support", async () => {
  const missing = await loadPolicies(settings({ policy_path: join(root, "nope") }));
  assert.equal(missing.policies.size, 0);
  assert.match(missing.errors[0].message, /^Cannot read policies.policy_path .*nope/);
  const service = await loadPolicies(settings({ policy_source: "service" }));
  assert.match(service.errors[0].message, /policy_source "service": only "file" is supported/);
  assert.deepEqual(await loadPolicies(settings({})), { policies: new Map(), errors: [] });
});
