#!/usr/bin/env bash
# The GPU benchmark run, one command from the repo root on a machine with one H100 (Python 3.12,
# torch + cupy + scipy + pluggy + attrs + imageio + matplotlib preinstalled, nothing reachable):
#
#     bash benchmarks/gpu.sh
#
# Stages, each with its own time limit (and all within DEADLINE, default 540 s); a failing or
# timed-out stage does not stop the next ones:
#   wheels   install .whl/*.whl (packages missing there, e.g. trimesh, embreex) into /tmp/site
#   install  aire from this checkout (entry points for the plugin registry), no network
#   tests    the GPU-relevant fast tests on --device cuda (precision, nn, cupy backend)
#   speed    python -m benchmarks speed --size gpu                          (~3 min)
#   image    python -m benchmarks image --size gpu, 1 image, SIREN rows      (~2 min)
#   prune    python -m benchmarks prune-ablation --size gpu                  (~1.5 min)
#   sdf      python -m benchmarks sdf --size gpu (armadillo, omega_0 60, [256]*4)
#   sdfsweep the short SDF protocol (cpu size at 2000 steps of 8192 points) with schedule variants (SDF_VARIANTS)
#   sdfstudy benchmarks/sdf_study.sh: paired AIRe/scratch SDF runs over seeds, variants in parallel
#   nerf     python -m benchmarks nerf --size gpu (bunny scene, 4 x 256 field, hierarchical sampling)
# Choose stages with STAGES="speed image" bash benchmarks/gpu.sh; pass suite options with
# IMAGE_SET="--set images=2 --set finer_images=1" (the full gpu size of the image suite, ~5 min).
#
# Data: DIV2K PNGs in $AIRE_DATA/div2k (default ../shared/data, else ./.data, which the device
# tool carries when named in `carry`). Results: benchmarks/results/*-gpu-*.{json,md,png}, packed into
# $OUT/results.tgz (plus the markdown tables and the log beside it) when OUT is set.
set -u
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}
STAGES=${STAGES:-"wheels install tests sdfsweep nerf speed image sdf prune"}
IMAGE_SET=${IMAGE_SET:-"--set images=1 --set finer_images=0"}
OUT=${OUT:-}
LOG=${OUT:+$OUT/gpu.log}
LOG=${LOG:-benchmarks/results/gpu.log}
mkdir -p "$(dirname "$LOG")"
exec > >(tee -a "$LOG") 2>&1
if [ -z "${AIRE_DATA:-}" ] && [ ! -d ../shared/data/div2k ] && [ -d .data/div2k ]; then export AIRE_DATA=$PWD/.data; fi
T0=$(date +%s)

DEADLINE=${DEADLINE:-560}  # seconds for the whole script; each stage gets at most what is left

stage() {  # stage NAME LIMIT_SECONDS COMMAND...
    local name=$1 limit=$2; shift 2
    case " $STAGES " in *" $name "*) ;; *) return 0 ;; esac
    local left=$(( DEADLINE - ($(date +%s) - T0) ))
    if [ "$left" -lt 30 ]; then echo "=== $name skipped: ${left} s left of DEADLINE=${DEADLINE}"; return 0; fi
    [ "$limit" -gt "$left" ] && limit=$left
    echo "=== $name (limit ${limit} s, at $(( $(date +%s) - T0 )) s)"
    timeout --kill-after=15 "$limit" "$@"
    local rc=$?
    echo "=== $name rc=$rc ($(( $(date +%s) - T0 )) s elapsed)"
}

install_aire() {
    "$PY" -m pip install -q --no-deps --no-build-isolation --no-index -e . -e backends/aire-cupy \
        -e plugins/aire-inout-criterion \
    || { echo "editable install failed; installing into /tmp/site"; \
         "$PY" -m pip install -q --no-deps --no-build-isolation --no-index --target /tmp/site \
             . backends/aire-cupy plugins/aire-inout-criterion; } \
    || { echo "no build backend; writing entry-point metadata into /tmp/site"; "$PY" - <<'PYEOF'
import pathlib, tomllib
for root in (".", "backends/aire-cupy", "plugins/aire-inout-criterion"):
    project = tomllib.loads(pathlib.Path(root, "pyproject.toml").read_text())["project"]
    info = pathlib.Path("/tmp/site", f"{project['name'].replace('-', '_')}-{project['version']}.dist-info")
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    groups = project.get("entry-points", {}) | ({"console_scripts": project["scripts"]} if "scripts" in project else {})
    (info / "entry_points.txt").write_text("".join(f"[{g}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
                                                   for g, eps in groups.items()))
    print("wrote", info)
PYEOF
    }
    "$PY" -c "import aire, torch; print('aire', aire.__version__, 'torch', torch.__version__, \
torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'); print(sorted(aire.get_registry().components('signal')))"
}
export -f install_aire
export PY

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
if ls .whl/*.whl >/dev/null 2>&1; then
    stage wheels 120 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
fi
export PYTHONPATH="$PYTHONPATH:/tmp/site:$PWD/backends/aire-cupy:$PWD/plugins/aire-inout-criterion"
stage install 120 bash -c install_aire
stage tests 50 "$PY" -m pytest -q -x -m "not slow" -p no:cacheprovider --device cuda \
    tests/train/test_precision.py tests/nn backends/aire-cupy
SDF_VARIANTS=${SDF_VARIANTS:-'{"default": {}, "nodens": {"densify_k": 0}, "late": {"warmup": 0.3, "cycles": 1, "twd_length": 0.1}, "nodens-late": {"densify_k": 0, "warmup": 0.3, "cycles": 1, "twd_length": 0.1}}'}
stage sdfsweep 140 "$PY" -m benchmarks sdf --size cpu --device cuda --set pictures=false --set steps=2000 \
    --set batch_size=8192 --set "variants=$SDF_VARIANTS"
stage sdfstudy ${SDFSTUDY_LIMIT:-420} env DEVICE=cuda bash benchmarks/sdf_study.sh
stage nerf 140 "$PY" -m benchmarks nerf --size gpu --device cuda
stage speed 120 "$PY" -m benchmarks speed --size gpu --device cuda
# shellcheck disable=SC2086
stage image 100 "$PY" -m benchmarks image --size gpu --device cuda $IMAGE_SET
stage sdf 120 "$PY" -m benchmarks sdf --size gpu --device cuda
stage prune 120 "$PY" -m benchmarks prune-ablation --size gpu --device cuda

if [ -n "$OUT" ]; then
    tar czf "$OUT/results.tgz" benchmarks/results/*-gpu-* benchmarks/results/*-h100* benchmarks/results/*-h200* 2>/dev/null || true
    cp benchmarks/results/*-gpu-*.md "$OUT/" 2>/dev/null || true
fi
echo "=== done in $(( $(date +%s) - T0 )) s"
