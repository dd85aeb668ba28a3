#!/usr/bin/env bash
# The SDF schedule study on one GPU: benchmarks/sdf_sweep.py in parallel processes, one per group
# line (protocol size; seeds; variants), each seed-major, so a time limit leaves every variant of a
# group with the same seeds. Rows go to benchmarks/results/sdf_sweep-<TAG>-g<N>.jsonl and are merged
# into sdf_sweep-<TAG>.jsonl/.md at the end (TAG defaults to study-<device>).
#
#     DEVICE=cuda bash benchmarks/sdf_study.sh          (gpu.sh stage sdfstudy)
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
TAG=${TAG:-study-$("$PY" -c "from benchmarks.suite import device_slug; print(device_slug('$DEVICE'))")}
BASE=${BASE:-"{}"}  # settings under every variant, e.g. a smoke test's
SEEDS=${SEEDS:-"0 1 2 3"}
R=benchmarks/results
# one process per line: "SIZE;SEEDS;NAME=JSON NAME=JSON ..." (STUDY_GROUPS, newline-separated, overrides;
# e.g. STUDY_GROUPS="$(cat benchmarks/sdf_study_long.groups)" TAG=study-long-h100)
DEFAULT_GROUPS="cpu;$SEEDS;base={} long={\"steps\":6000}
cpu;$SEEDS;w60={\"omega0\":60} w60long={\"omega0\":60,\"steps\":6000}
cpu;$SEEDS;warm30={\"warmup\":0.3} early={\"warmup\":0.02,\"twd_length\":0.03,\"cycle_gap\":0.03} norewind={\"lr_rewind\":false} hilr={\"lr\":5e-4,\"lr_final\":5e-5}
cpu;$SEEDS;b20={\"budget\":0.2} b60={\"budget\":0.6} inout={\"criterion\":\"inout\"} twdlong={\"twd_length\":0.1,\"alpha_max\":0.2}
cpu;$SEEDS;cyc4={\"cycles\":4,\"twd_length\":0.04,\"cycle_gap\":0.04} lowlr={\"lr\":1e-4,\"lr_final\":1e-5} w60hilr={\"omega0\":60,\"lr\":5e-4,\"lr_final\":5e-5} eik={\"eikonal_weight\":0.01}"
mapfile -t GROUP_LINES <<< "${STUDY_GROUPS:-$DEFAULT_GROUPS}"
# warm the sample caches once (the groups would race to compute them)
sizes=$(printf '%s\n' "${GROUP_LINES[@]}" | cut -d';' -f1 | sort -u | tr '\n' ' ')
"$PY" -c "
import json, sys
from benchmarks.sdf_sweep import SIZES
from benchmarks.sdf_tradeoff import make_signal
from benchmarks.suite import data_root
for size in sys.argv[1:]:
    make_signal(data_root() / 'meshes' / 'armadillo.off', {**SIZES[size], **json.loads('$BASE')})
print('sample caches ready')" $sizes
pids=()
for g in "${!GROUP_LINES[@]}"; do
  IFS=';' read -r size seeds variants <<< "${GROUP_LINES[$g]}"
  args=()
  for v in $variants; do args+=(--variant "$v"); done
  # shellcheck disable=SC2086
  "$PY" benchmarks/sdf_sweep.py --size "$size" --device "$DEVICE" --seeds $seeds --threads 1 --base "$BASE" "${args[@]}" \
      --out "$R/sdf_sweep-$TAG-g$g.jsonl" > "$R/sdf_sweep-$TAG-g$g.log" 2>&1 &
  pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null; wait' INT TERM
wait
cat "$R"/sdf_sweep-"$TAG"-g*.jsonl > "$R/sdf_sweep-$TAG.jsonl"
"$PY" benchmarks/sdf_sweep.py --table "$R/sdf_sweep-$TAG.jsonl"
