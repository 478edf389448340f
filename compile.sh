#!/usr/bin/env bash
# Builds one self-contained executable, ./dist/portcullis, with `deno compile`.
#
# deno compile embeds the program into a copy of the Deno runtime ("denort"), which it normally downloads
# from the internet. Where that download is not reachable, point DENORT_BIN at a denort binary of the same
# Deno version (2.9.6), e.g. one copied from a machine with internet access:
#   DENORT_BIN=/path/to/denort ./compile.sh
set -euo pipefail
cd "$(dirname "$0")"

DENO=${DENO:-deno}
command -v "$DENO" >/dev/null 2>&1 || DENO="npx -y deno@2.9.6"
OUT=${OUT:-dist/portcullis}
mkdir -p "$(dirname "$OUT")"

if [ -n "${DENORT_BIN:-}" ] && [ ! -x "$DENORT_BIN" ]; then
  echo "compile.sh: DENORT_BIN=$DENORT_BIN is not an executable file" >&2
  exit 1
fi

# The binary gets the flags `deno task start` runs the gateway with; deno.json's start task is their one
# source. They are the permissions the gateway needs at run time, no more: it listens and proxies (net),
# reads its config, definitions and plugins (read), writes definitions and the embedded store (write), and
# reads TYK_GW_* overrides (env); --no-remote stops plugin code from importing anything from the network,
# and a V8 flag lets a plugin regexp with catastrophic backtracking fall back to a linear engine.
read -r -a RUN_FLAGS <<<"$($DENO eval --no-remote \
  'const t = JSON.parse(Deno.readTextFileSync("deno.json")).tasks.start; console.log(t.replace(/^deno run /, "").replace(/ main\.ts$/, ""))')"
if [ "${#RUN_FLAGS[@]}" -eq 0 ]; then
  echo "compile.sh: cannot read the gateway's flags from the start task in deno.json" >&2
  exit 1
fi
# The sandbox worker is included explicitly: it is loaded with new Worker(), not imported.
set +e
$DENO compile \
  "${RUN_FLAGS[@]}" \
  --include src/jsvm/sandbox/worker.ts \
  --output "$OUT" \
  main.ts 2>&1 | tee /tmp/portcullis-compile.log
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  if grep -qiE 'denort|download|dns|connect|network|error sending request' /tmp/portcullis-compile.log; then
    cat >&2 <<MSG

compile.sh: deno compile could not get the Deno runtime (denort) it embeds the program into.
It downloads it from the internet, which this machine cannot reach. To build offline, set DENORT_BIN to a
denort executable of Deno 2.9.6 (from https://github.com/denoland/deno/releases, file
denort-x86_64-unknown-linux-gnu.zip) and run again:  DENORT_BIN=/path/to/denort ./compile.sh
MSG
  fi
  exit "$status"
fi
echo "Built $OUT. Run it with: $OUT --conf tyk.conf"
