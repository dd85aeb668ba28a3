"""Cost of the SDF sign rules (the numbers behind `sign_method=auto`, aire.geometry.distance).

For one mesh in the normalised frame: seconds for 100k sampler points (80 % near the surface, as the
SDF signal draws them) and 100k uniform points (as the IoU grid), for the pseudonormal sign, the
winding-number sign (exact unsigned distance + fast winding number) and the winding number alone
(occupancy), plus the orientation repair. CPU seconds of this process (all its threads), best of
`--repeat` runs: on a machine shared with other jobs, wall time measures the neighbours.

    IGL_NUM_THREADS=1 python -m benchmarks.sdf_sign --mesh ../shared/data/meshes/armadillo.off
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.suite import data_root  # noqa: E402


def best_of(repeat: int, fn) -> float:
    """Least CPU time (process_time: every thread of this process) of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    import trimesh

    from aire.geometry import distance
    from aire.geometry.mesh_io import Frame, load_mesh
    from aire.geometry.orientation import orient_solid
    from aire.geometry.sampling import SampleSpec, draw_points

    p = argparse.ArgumentParser(prog="python -m benchmarks.sdf_sign", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mesh", type=Path, default=data_root() / "meshes" / "armadillo.off")
    p.add_argument("--points", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    original = load_mesh(args.mesh)
    frame = Frame.fit(np.asarray(original.vertices))
    mesh = trimesh.Trimesh(frame.to_normalised(original.vertices), np.asarray(original.faces), process=False)
    sampler = draw_points(mesh, SampleSpec(count=args.points))
    uniform = np.random.default_rng(1).uniform(-1.0, 1.0, size=(args.points, 3))
    print(f"{args.mesh.name}: {len(mesh.faces)} faces; {args.points} points; best of {args.repeat}; "
          f"IGL_NUM_THREADS={os.environ.get('IGL_NUM_THREADS', 'unset (all cores)')}, {os.cpu_count()} cores")
    print(f"CPU seconds   {'':20} {'sampler':>8} {'uniform':>8}")
    rows = {
        "pseudonormal sign": lambda q: distance.signed_distance(mesh, q, "pseudonormal"),
        "winding sign (auto)": lambda q: distance.signed_distance(mesh, q, "winding"),
        "unsigned distance alone": lambda q: distance.unsigned_distance(mesh, q),
        "winding number alone (occupancy)": lambda q: distance.winding_number(mesh, q),
    }
    for name, fn in rows.items():
        a = best_of(args.repeat, lambda: fn(sampler))
        b = best_of(args.repeat, lambda: fn(uniform))
        print(f"{name:34} {a:7.3f}s {b:7.3f}s", flush=True)
    print(f"{'orientation repair (once per mesh)':34} {best_of(args.repeat, lambda: orient_solid(mesh)):7.3f}s")
    agree = np.mean(np.sign(distance.signed_distance(mesh, sampler, "pseudonormal"))
                    == np.sign(distance.signed_distance(mesh, sampler, "winding")))
    print(f"sign agreement pseudonormal vs winding on the sampler points: {agree:.6f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
