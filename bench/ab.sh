#!/usr/bin/env bash
# A/B of OrleansTasks between two commits, as the issues ask: both built in Release, run alternately in one session
# (the order flips every round, so neither side always runs on a warmer machine), R rounds each, then a table of
# medians. Only OrleansTasks runs; each run starts its own redis-server (see bench/Program.cs).
#
#   bench/ab.sh [-r ROUNDS] [-w WORKLOADS] [--own-harness] [BEFORE [AFTER]] [-- BENCH-OPTIONS...]
#
#   -r ROUNDS        runs per side (3)
#   -w WORKLOADS     bench workloads (enqueue,http,drain)
#   --own-harness    measure each commit with its own bench code; by default the BEFORE tree gets AFTER's
#                    bench/{Workloads,RedisAccounting,Systems,BenchJobs}.cs, so both sides are measured by the
#                    same workload code (and BEFORE reports round trips per job too)
#   BEFORE, AFTER    commits (f3174a7, HEAD)
#   BENCH-OPTIONS    passed to every run, e.g. -- --n 5000
#
# Example (the issue 9 A/B): bench/ab.sh -r 3 f3174a7 HEAD
# Set KEEP=1 to keep the temporary trees and the raw JSON lines.
set -euo pipefail

rounds=3
workloads=enqueue,http,drain
overlay=1
refs=()
bench_args=()
while (($#)); do
  case "$1" in
    -r) rounds="$2"; shift 2 ;;
    -w) workloads="$2"; shift 2 ;;
    --own-harness) overlay=0; shift ;;
    --) shift; bench_args=("$@"); break ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) refs+=("$1"); shift ;;
  esac
done
before="${refs[0]:-f3174a7}"
after="${refs[1]:-HEAD}"

repo="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
work="$(mktemp -d /tmp/orleanstasks-ab-XXXXXX)"
if [[ "${KEEP:-0}" != 1 ]]; then trap 'rm -rf "$work"' EXIT; fi

for side in before after; do
  ref="$before"; [[ $side == after ]] && ref="$after"
  mkdir -p "$work/$side"
  git -C "$repo" archive "$ref" | tar -x -C "$work/$side"
  echo "[ab] $side = $(git -C "$repo" rev-parse --short "$ref") $(git -C "$repo" log -1 --format=%s "$ref" | cut -c1-80)" >&2
done
if ((overlay)); then
  for f in Workloads.cs RedisAccounting.cs Systems.cs BenchJobs.cs; do
    if [[ -f "$work/after/bench/$f" ]]; then cp "$work/after/bench/$f" "$work/before/bench/$f"; fi
  done
  echo "[ab] before is measured with after's workload code (bench/{Workloads,RedisAccounting,Systems,BenchJobs}.cs)" >&2
  # Lines of the bench host marked "ab:needs NAME" call what later issues added (API security, live events): a
  # BEFORE without NAME runs its host without them.
  grep -o 'ab:needs [A-Za-z]*' "$work/before/bench/Systems.cs" | awk '{print $2}' | sort -u | while read -r name; do
    if ! grep -rqs --include='*.cs' "$name" "$work/before/Api" "$work/before/Grains" "$work/before/Grains.Interfaces"; then
      sed -i "/ab:needs $name\$/d" "$work/before/bench/Systems.cs"
      echo "[ab] before has no $name: its bench host runs without it" >&2
    fi
  done
fi
for side in before after; do
  echo "[ab] building $side ..." >&2
  if ! dotnet build "$work/$side/bench/Bench.csproj" -c Release >"$work/$side.build.log" 2>&1; then
    grep -E "error" "$work/$side.build.log" | sort -u >&2 || true
    echo "[ab] build of $side failed (log: $work/$side.build.log; KEEP=1 keeps it)" >&2
    exit 1
  fi
done

results="$work/results.jsonl"
: >"$results"
for ((round = 1; round <= rounds; round++)); do
  order=(before after); ((round % 2 == 0)) && order=(after before)
  for side in "${order[@]}"; do
    echo "[ab] round $round/$rounds: $side" >&2
    dotnet "$work/$side/bench/bin/Release/net10.0/OrleansTasks.Bench.dll" --systems OrleansTasks --workloads "$workloads" --rounds 1 \
      ${bench_args[@]+"${bench_args[@]}"} 2>"$work/$side.$round.stderr" | grep '^{' | sed "s/^{/{\"side\":\"$side\",\"run\":$round,/" >>"$results"
  done
done

python3 - "$results" "$before" "$after" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
before, after = sys.argv[2], sys.argv[3]
skip = {"side", "run", "workload", "system", "round", "n"}
print(f"| workload | figure | before ({before}) runs | after ({after}) runs | median before | median after | after ÷ before |")
print("|---|---|---|---|---:|---:|---:|")
seen = []
for r in rows:
    for k in r:
        if k not in skip and (r["workload"], k) not in seen:
            seen.append((r["workload"], k))
for workload, figure in seen:
    vals = {s: [r[figure] for r in rows if r["side"] == s and r["workload"] == workload and figure in r] for s in ("before", "after")}
    if not vals["before"] or not vals["after"]:
        continue
    b, a = statistics.median(vals["before"]), statistics.median(vals["after"])
    ratio = f"{a / b:.2f}" if b else "-"
    fmt = lambda xs: ", ".join(f"{x:g}" for x in xs)
    print(f"| {workload} | {figure} | {fmt(vals['before'])} | {fmt(vals['after'])} | {b:g} | {a:g} | {ratio} |")
EOF
