#!/usr/bin/env bash
# Install aire as a user would and use it from outside the checkout: build the wheel, install it BY ITS
# NAME (aire-inr, with extras) into a fresh virtualenv, then run the CLI and the quick starts of README.md and
# docs/ (at small sizes) from a temporary working folder. One line per step; the first failing step prints its
# output and exits non-zero; every temporary folder is removed on exit. About 3-6 minutes on 2 busy cores.
#
#   tools/check_wheel.sh        # PYTHON=python3.11, AIRE_CHECK_EXTRAS=exr,tensorboard, AIRE_CHECK_TORCH=... to change
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
# the light extras (each installs in seconds here); ray is left out: hundreds of MB for one executor
EXTRAS="${AIRE_CHECK_EXTRAS:-exr,tensorboard,baselines}"
# torch first and pinned, as `make setup` does: a bare torch requirement would pull a multi-GB CUDA build
# (here torch==2.13.0 resolves to the CPU wheel on local disk; elsewhere pass a CPU index's requirement)
TORCH="${AIRE_CHECK_TORCH:-torch==2.13.0}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/aire-check-wheel.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
unset PYTHONPATH VIRTUAL_ENV  # nothing of the checkout or of another environment leaks in
SECONDS_START=$SECONDS

step() {  # step NAME COMMAND...: run it quietly in a subshell under `set -e`, one line when it passes, its
          # output and exit 1 when not (not inside `if`: bash ignores set -e in a condition's functions)
    local name="$1" started=$SECONDS rc
    shift
    set +e
    (set -e; "$@") >"$TMP/step.log" 2>&1
    rc=$?
    set -e
    if [[ $rc -ne 0 ]]; then
        tail -n 40 "$TMP/step.log" >&2
        printf 'check-wheel: FAIL  %s (exit %s; output above)\n' "$name" "$rc" >&2
        exit 1
    fi
    printf 'check-wheel: ok    %-60s %3ss\n' "$name" "$((SECONDS - started))"
}

VENV="$TMP/venv"
PY="$VENV/bin/python"
WORK="$TMP/work"   # the working folder of every command below: outside the checkout
mkdir -p "$TMP/src" "$TMP/dist" "$WORK"
case "$(cd "$WORK" && pwd -P)/" in "$(cd "$ROOT" && pwd -P)"/*)
    echo "check-wheel: the temporary folder $TMP lies inside the checkout; set TMPDIR elsewhere" >&2; exit 1;;
esac

copy_sources() {  # the files git knows (tracked or new, not ignored; not deleted): no .venv, build/, egg-info
    cd "$ROOT"
    git ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' f; do [[ -e "$f" ]] && printf '%s\0' "$f"; done \
        | tar --null -T - -cf - | tar -xf - -C "$TMP/src"
}
step "copy the sources (git ls-files) to a temporary folder" copy_sources
step "create a fresh virtualenv ($("$PYTHON" --version 2>&1))" "$PYTHON" -m venv "$VENV"
step "build the wheel (pip wheel --no-deps, isolated build)" \
    "$PY" -m pip wheel --quiet --no-deps --wheel-dir "$TMP/dist" "$TMP/src"

check_wheel_contents() {
    "$PY" - "$TMP/dist" <<'EOF'
import sys, zipfile
from pathlib import Path

wheels = sorted(Path(sys.argv[1]).glob("*.whl"))
assert len(wheels) == 1, f"expected one wheel, got {[w.name for w in wheels]}"
wheel = wheels[0]
assert wheel.name.startswith("aire_inr-"), f"the wheel is not aire-inr's: {wheel.name}"
names = zipfile.ZipFile(wheel).namelist()
meta = [n for n in names if n.endswith(".dist-info/METADATA")]
text = zipfile.ZipFile(wheel).read(meta[0]).decode()
assert "\nName: aire-inr\n" in text, "METADATA does not name aire-inr"
assert "aire/py.typed" in names, "aire/py.typed is missing (PEP 561)"
licences = [n for n in names if ".dist-info/" in n and Path(n).name.startswith("LICENSE")]
assert licences, "no LICENSE in the wheel's dist-info"
tops = sorted({n.split("/")[0] for n in names})
stray = [t for t in tops if t != "aire" and not t.endswith(".dist-info")]
assert not stray, f"the wheel holds more than the aire package: {stray}"
leaked = [n for n in names if "/tests/" in n or "/benchmarks/" in n or n.startswith(("tests/", "benchmarks/"))]
assert not leaked, f"tests or benchmarks in the wheel: {leaked[:5]}"
print(wheel.name, len(names), "files,", ", ".join(licences))
EOF
}
step "wheel holds aire/, py.typed, LICENSE; no tests, no benchmarks" check_wheel_contents
WHEEL="$(ls "$TMP"/dist/aire_inr-*.whl)"
VERSION="$(basename "$WHEEL" | cut -d- -f2)"

step "pip install $TORCH (first)" "$PY" -m pip install --quiet --no-compile "$TORCH"
# by name and version, the wheel's folder offered as a source beside the index
step "pip install 'aire-inr[$EXTRAS]==$VERSION' (by name)" \
    "$PY" -m pip install --quiet --no-compile --find-links "$TMP/dist" "aire-inr[$EXTRAS]==$VERSION"

installed_is_this_wheel() {  # the package imported from the venv is byte for byte the wheel's
    cd "$WORK"
    "$PY" - "$WHEEL" "$VENV" <<'EOF'
import sys, zipfile
from pathlib import Path

import aire

wheel, venv = zipfile.ZipFile(sys.argv[1]), Path(sys.argv[2]).resolve()
package = Path(aire.__file__).resolve().parent
assert venv in package.parents, f"aire imported from {package}, not from the fresh virtualenv"
files = [n for n in wheel.namelist() if n.startswith("aire/") and not n.endswith("/")]
differ = [n for n in files if (package.parent / n).read_bytes() != wheel.read(n)]
assert not differ, f"installed files differ from the wheel: {differ[:5]}"
print(package, len(files), "files as in the wheel")
EOF
}
step "import aire: from the virtualenv, identical to the wheel" installed_is_this_wheel

cd "$WORK"
AIRE="$VENV/bin/aire"
check_version() {
    local out
    out="$("$AIRE" --version)"
    echo "$out"
    [[ "$out" == *"aire $VERSION"* ]] || { echo "expected 'aire $VERSION' in: $out"; return 1; }
}
step "aire --version" check_version

check_plugins() {  # every built-in the wheel declares loads; a failure anywhere is named
    "$AIRE" plugins --json >"$TMP/plugins.json"
    "$PY" - "$TMP/plugins.json" "$WHEEL" <<'EOF'
import configparser, json, sys, zipfile

plugins = json.load(open(sys.argv[1]))["plugins"]
wheel = zipfile.ZipFile(sys.argv[2])
points = configparser.ConfigParser(delimiters="=")
points.read_string(wheel.read(next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))).decode())
declared = set(points["aire"])
ours = {p["name"]: p for p in plugins if p["distribution"] == "aire-inr"}
assert set(ours) == declared, f"built-ins listed {sorted(ours)} != declared {sorted(declared)}"
bad = [f"{name}: {p['status']} {p['error']}" for name, p in ours.items() if p["status"] != "loaded"]
assert not bad, "built-in plugins not loaded: " + "; ".join(bad)
print(len(ours), "built-in plugins loaded")
EOF
}
step "aire plugins (every built-in loaded)" check_plugins

make_image() {  # a small generated photo (no data files needed)
    "$PY" -c "
import imageio.v3 as iio, numpy as np
from aire.signals.image import synthetic_image
iio.imwrite('photo.png', (synthetic_image(48) * 255).round().astype(np.uint8))"
}
step "generate photo.png (48x48)" make_image

check_fit() {
    "$AIRE" fit image photo.png --out run --hidden 16 16 16 --steps 200 --eval-every 100 --batch-size 1024 \
        --target-params 0.8 --quiet
    "$PY" -c "
import json, math
m = json.load(open('run/metrics.json'))
assert isinstance(m['psnr'], float) and math.isfinite(m['psnr']) and m['psnr'] > 10, m['psnr']
print('psnr', m['psnr'], 'params', m['params_initial'], '->', m['params_final'])"
}
step "aire fit image photo.png (200 steps): metrics.json, psnr a number" check_fit

check_lpips_refusal() {  # asked for LPIPS without AlexNet's weights: one line naming the file, exit 2, no run
    local rc=0
    TORCH_HOME="$TMP/torch-empty" "$AIRE" fit image photo.png --out lpips-run --set lpips=true --steps 10 --quiet \
        2>lpips.err || rc=$?
    cat lpips.err
    [[ $rc -eq 2 && $(wc -l <lpips.err) -eq 1 && ! -e lpips-run ]] && grep -q "alexnet-owt-7be5be79.pth is missing" lpips.err
}
step "aire fit --set lpips=true without AlexNet's file: one-line refusal" check_lpips_refusal

check_render() {  # the fitted run rendered at twice its resolution: a 96x96 picture
    "$AIRE" render run --scale 2 --out render.png --quiet
    "$PY" -c "
import imageio.v3 as iio
shape = iio.imread('render.png').shape
assert shape[:2] == (96, 96), shape
print('render.png', shape)"
}
step "aire render run --scale 2: a 96x96 picture" check_render

check_eval() {  # the run scored on its own input reproduces the PSNR its metrics.json recorded
    "$AIRE" eval run --on photo.png --json eval.json --quiet
    "$PY" -c "
import json
recorded, measured = json.load(open('run/metrics.json'))['psnr'], json.load(open('eval.json'))['metrics']['psnr']
assert abs(recorded - measured) < 1e-3, (recorded, measured)
print('psnr recorded', recorded, 'eval', measured)"
}
step "aire eval run --on photo.png: the recorded PSNR again" check_eval

check_report() {  # every fit writes a self-contained report.html
    "$PY" -c "
text = open('run/report.html', encoding='utf-8').read()
assert text.count('<img') >= 2 and 'data:image/png;base64,' in text and 'http://' not in text and 'https://' not in text
print('report.html', len(text), 'characters')"
}
step "run/report.html: self-contained, with its pictures" check_report


check_sdf() {  # the SDF quick start, small: a generated sphere mesh, fitted, its mesh exported
    "$PY" -c "import trimesh; trimesh.creation.icosphere(subdivisions=3, radius=0.8).export('sphere.ply')"
    "$AIRE" fit sdf sphere.ply --out sdf-run --hidden 16 16 --steps 40 --batch-size 512 --eval-every 40 \
        --set samples=4000 --set validation_samples=2000 --set eval_resolution=20 --set mesh_resolution=24 \
        --set chamfer_samples=2000 --quiet
    "$AIRE" export-mesh sdf-run --resolution 24 --out sphere-fit.obj
    "$PY" -c "
import json, math
m = json.load(open('sdf-run/metrics.json'))
assert math.isfinite(m['chamfer_l1']) and 0 <= m['iou'] <= 1, m
import trimesh
assert len(trimesh.load('sphere-fit.obj').faces) > 0
print('chamfer_l1', m['chamfer_l1'], 'iou', m['iou'])"
}
step "SDF quick start (small): aire fit sdf, aire export-mesh" check_sdf

check_nerf() {  # the NeRF quick start, small: make-scene of the sphere, then a short fit
    "$AIRE" make-scene sphere.ply --out scene --views 8 --size 24 --test-views 2
    "$AIRE" fit nerf scene --out nerf-run --hidden 16 16 --steps 30 --batch-size 128 --eval-every 30 \
        --set samples=8 --set turntable_frames=2 --set eval_size=12 --quiet
    "$PY" -c "
import json, math
m = json.load(open('nerf-run/metrics.json'))
assert math.isfinite(m['psnr_test']), m
print('psnr_test', m['psnr_test'])"
}
step "NeRF quick start (small): aire make-scene, aire fit nerf" check_nerf

check_quick_start() {  # the README's Python quick start, shortened
    "$PY" - <<'EOF'
import math

import aire
from aire.signals.image import ImageSignal

signal = ImageSignal("photo.png", size=32)
net = aire.build_network(signal, widths=[16, 16, 16], omega0=30.0)
result = aire.fit(signal, net, steps=100, schedule=aire.ScheduleConfig(target_params=0.8, densify_k=0),
                  criterion="column-l1", policy="topk-doubling", progress=False)
assert math.isfinite(result.metrics["psnr"]), result.metrics["psnr"]
aire.save_run(result, signal, "runs/photo")
loaded = aire.load("runs/photo")
assert loaded.widths() == result.network.widths(), (loaded.widths(), result.network.widths())
print("psnr", result.metrics["psnr"], "widths", result.network.widths())
EOF
}
step "Python quick start: aire.fit, aire.save_run, aire.load" check_quick_start

check_verify() {  # the image quick start's last command: Theorems 1-2 checked on the fitted run
    "$AIRE" verify run >verify.txt
    tail -n 1 verify.txt
    grep -Eq '^[0-9]+ passed, 0 failed$' verify.txt
}
step "aire verify run: every check passes" check_verify

check_python_page() {  # the Python API page: a fit from a specification, the canonical weights, the bound
    "$PY" - <<'EOF'
import math

import aire
from aire.run import run_spec
from aire.spec import resolve
from aire.theory import pruning_bound

spec = resolve({"signal": "image", "path": "photo.png", "network": {"widths": [16, 16]},
                "train": {"steps": 60, "batch_size": 1024, "eval_every": 30, "progress": False},
                "schedule": {"target_params": 1.0}})
out, result = run_spec(spec, "runs/spec")
assert math.isfinite(result.metrics["psnr"]) and (out / "config.json").is_file(), result.metrics
net = aire.load(out)
pairs = net.canonical()
assert len(pairs) == len(net.widths()) and all(w.dtype.name == "float64" for w, _ in pairs), [w.dtype for w, _ in pairs]
assert callable(pruning_bound)
print("run_spec psnr", result.metrics["psnr"], "canonical shapes", [w.shape for w, _ in pairs])
EOF
}
step "Python API page: run_spec(resolve(...)), canonical(), pruning_bound" check_python_page

echo "check-wheel: all steps passed in $((SECONDS - SECONDS_START)) s (aire-inr $VERSION, extras $EXTRAS)"
