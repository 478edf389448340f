/**
 * End to end: compile.sh says what it needs before it builds (internet access, or DENORT_BIN), and a build it
 * cannot do ends with its own explanation first and deno compile's output in a temporary file.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort } from "./support/free_port.ts";
import { withDir } from "./support/temp_dir.ts";

const SCRIPT = new URL("../compile.sh", import.meta.url).pathname;
const DECODER = new TextDecoder();

/** Runs compile.sh with this Deno, building into `dir`, its temporary files in `dir/tmp`. */
async function compile(dir: string, env: Record<string, string> = {}) {
  await Deno.mkdir(join(dir, "tmp"));
  const out = await new Deno.Command("bash", {
    args: [SCRIPT],
    env: { DENO: Deno.execPath(), OUT: join(dir, "dist", "portcullis"), TMPDIR: join(dir, "tmp"), ...env },
    stdin: "null",
  }).output();
  return { code: out.code, stdout: DECODER.decode(out.stdout), stderr: DECODER.decode(out.stderr) };
}

Deno.test("compile.sh with DENORT_BIN naming a missing file stops at once, naming the file and what it needs", async () => {
  await withDir(async (dir) => {
    const missing = join(dir, "no-such-denort");
    const run = await compile(dir, { DENORT_BIN: missing });
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stdout, "");
    assert.match(
      run.stderr,
      new RegExp(
        `^compile\\.sh: DENORT_BIN=${missing} does not exist\\. Point it at a denort executable of Deno ${
          Deno.version.deno.replaceAll(".", "\\.")
        } \\(file denort-${Deno.build.target}\\.zip`,
      ),
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["tmp"], "nothing was built");
  }, "portcullis-compile-");
});

Deno.test("compile.sh offline says first that it needs internet access or DENORT_BIN, then why the build failed", async () => {
  await withDir(async (dir) => {
    // offline for sure: an empty Deno cache (so no denort downloaded before) and every request sent to a
    // proxy nobody listens on; the npm packages the program imports come from the usual cache
    const denoDir = join(dir, "deno-dir");
    await Deno.mkdir(denoDir);
    const info = JSON.parse(DECODER.decode(
      (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdin: "null" }).output()).stdout,
    ));
    await Deno.symlink(info.npmCache, join(denoDir, "npm"));
    const proxy = `http://127.0.0.1:${freePort()}`;
    const run = await compile(dir, {
      DENO_DIR: denoDir,
      HTTPS_PROXY: proxy,
      https_proxy: proxy,
      HTTP_PROXY: proxy,
      http_proxy: proxy,
      NO_PROXY: "",
      no_proxy: "",
    });
    assert.notEqual(run.code, 0);
    assert.match(
      run.stdout,
      /^compile\.sh: building .*portcullis\. This needs internet access: .*\n.*DENORT_BIN/,
    );
    const explanation = "compile.sh: deno compile could not get the Deno runtime (denort";
    assert.ok(run.stderr.startsWith(explanation), run.stderr);
    assert.match(run.stderr, /and run again: {2}DENORT_BIN=\/path\/to\/denort \.\/compile\.sh/);
    assert.doesNotMatch(run.stderr, /backtrace/i);
    const log = /all of it is in (\S+)\):/.exec(run.stderr)?.[1] ?? "";
    assert.ok(log.startsWith(join(dir, "tmp") + "/"), `the log is a temporary file: ${run.stderr}`);
    assert.match(await Deno.readTextFile(log), /Setting up base binary[\s\S]*dl\.deno\.land/);
    assert.match(
      run.stderr,
      /deno compile said [\s\S]*error sending request for url \(https:\/\/dl\.deno\.land/,
    );
  }, "portcullis-compile-");
});
