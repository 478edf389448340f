#!/usr/bin/env bash
# Builds one self-contained executable, ./dist/portcullis, with `deno compile`.
#
# deno compile embeds the program into a copy of the Deno runtime ("denort"), which it normally downloads
# from the internet. Where that download is not reachable, point DENORT_BIN at a denort binary of the same
# Deno version, e.g. one copied from a machine with internet access:
#   DENORT_BIN=/path/to/denort ./compile.sh
set -euo pipefail
cd "$(dirname "$0")"

DENO=${DENO:-deno}
command -v "$DENO" >/dev/null 2>&1 || DENO="npx -y deno@2.9.6"
OUT=${OUT:-dist/portcullis}
VERSION=$($DENO eval --no-remote 'console.log(Deno.version.deno)')
ASSET="denort-$($DENO eval --no-remote 'console.log(Deno.build.target)').zip"

# What the build needs, said before anything is built
if [ -n "${DENORT_BIN:-}" ]; then
  if [ ! -e "$DENORT_BIN" ]; then
    echo "compile.sh: DENORT_BIN=$DENORT_BIN does not exist. Point it at a denort executable of Deno $VERSION" \
      "(file $ASSET of https://github.com/denoland/deno/releases/tag/v$VERSION), or unset it to download one." >&2
    exit 1
  fi
  if [ ! -f "$DENORT_BIN" ] || [ ! -x "$DENORT_BIN" ]; then
    echo "compile.sh: DENORT_BIN=$DENORT_BIN is not an executable file (a denort of Deno $VERSION is needed)." >&2
    exit 1
  fi
  echo "compile.sh: building $OUT on the Deno runtime DENORT_BIN=$DENORT_BIN (no internet access needed)."
else
  echo "compile.sh: building $OUT. This needs internet access: deno compile downloads the Deno runtime it embeds"
  echo "the program into (denort $VERSION, from https://dl.deno.land). Offline, set DENORT_BIN to a local copy."
fi

# The binary gets the flags `deno task start` runs the gateway with; deno.json's start task is their one
# source. They are the permissions the gateway needs at run time, no more: it listens and proxies (net),
# reads its config, definitions and plugins (read), writes definitions and the embedded store (write), and
# reads TYK_GW_* overrides (env); --no-remote stops plugin code from importing anything from the network,
# a V8 flag lets a plugin regexp with catastrophic backtracking fall back to a linear engine, and another
# returns a stopped sandbox's memory to the system at once (V8 would hand it to another isolate's task runner,
# which Deno never runs, and keep it).
read -r -a RUN_FLAGS <<<"$($DENO eval --no-remote \
  'const t = JSON.parse(Deno.readTextFileSync("deno.json")).tasks.start; console.log(t.replace(/^deno run /, "").replace(/ main\.ts$/, ""))')"
if [ "${#RUN_FLAGS[@]}" -eq 0 ]; then
  echo "compile.sh: cannot read the gateway's flags from the start task in deno.json" >&2
  exit 1
fi
mkdir -p "$(dirname "$OUT")"
LOG=$(mktemp "${TMPDIR:-/tmp}/portcullis-compile.XXXXXX")
# The sandbox worker is included explicitly: it is loaded with new Worker(), not imported.
status=0
NO_COLOR=1 $DENO compile \
  "${RUN_FLAGS[@]}" \
  --include src/jsvm/sandbox/worker.ts \
  --output "$OUT" \
  main.ts >"$LOG" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  if grep -qiE 'dl\.deno\.land|denort|base binary' "$LOG"; then
    cat >&2 <<MSG
compile.sh: deno compile could not get the Deno runtime (denort $VERSION) it embeds the program into: it
downloads it from https://dl.deno.land, which this machine cannot reach. To build offline, set DENORT_BIN to a
denort executable of Deno $VERSION (file $ASSET of https://github.com/denoland/deno/releases/tag/v$VERSION)
and run again:  DENORT_BIN=/path/to/denort ./compile.sh
MSG
  else
    echo "compile.sh: deno compile failed." >&2
  fi
  # its error, without the stack backtrace that follows it; the whole output stays in the log
  echo "deno compile said (all of it is in $LOG):" >&2
  sed -e '/^Stack backtrace:/,$d' -e '/^[[:space:]]*$/d' "$LOG" | tail -n 12 | sed 's/^/  /' >&2
  exit "$status"
fi
rm -f "$LOG"
echo "Built $OUT. Run it with: $OUT --conf tyk.conf"
