"""Print pip constraints that pin every dependency to its declared lower bound (`name>=X` -> `name==X`).

Reads [project] dependencies and optional-dependencies of pyproject.toml and the `dependencies` of
plugins/*/pyproject.toml and backends/*/pyproject.toml (their hardware extras, e.g. cupy-cuda12x, need
a GPU machine and are left out). Environment markers are kept, so pip skips what does not apply
(tomli on Python >= 3.11). `make test-min` installs with these constraints and runs the tests: the
floors in pyproject.toml are then versions the tests pass with.

    python tools/min_constraints.py > constraints-min.txt
    python tools/min_constraints.py --check     # the installed versions are the floors (exit 1 if not)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*?)\s*(;.*)?$")


def floors(requirements: list[str]) -> dict[str, tuple[str, str]]:
    """{normalised name: (lower bound, marker)} for every requirement with a `>=` bound."""
    found = {}
    for line in requirements:
        match = REQUIREMENT.match(line)
        if not match:
            raise SystemExit(f"min_constraints: cannot parse requirement {line!r}")
        name, _, specifiers, marker = match.groups()
        bound = re.search(r">=\s*([0-9][^,\s]*)", specifiers or "")
        if bound:
            found[re.sub(r"[-_.]+", "-", name).lower()] = (bound.group(1), (marker or "").strip())
    return found


def release(version: str) -> tuple[int, ...]:
    """2.13 and 2.13.0+cpu -> (2, 13, 0, ...): the release numbers, local label dropped, zero-padded."""
    numbers = [int(part) for part in re.findall(r"\d+", version.split("+")[0].split("rc")[0])]
    return tuple(numbers + [0] * (6 - len(numbers)))


def check(pins: dict[str, tuple[str, str]]) -> int:
    """Print floor and installed version of each pinned package; 1 if one differs (or is missing while
    no environment marker could explain its absence)."""
    from importlib import metadata

    failed = 0
    for name, (version, marker) in sorted(pins.items()):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "-"
        ok = (installed == "-" and bool(marker)) or (installed != "-" and release(installed) == release(version))
        failed += not ok
        print(f"{name:16} floor {version:10} installed {installed:14} {'ok' if ok else 'NOT THE FLOOR'}")
    return 1 if failed else 0


def main() -> int:
    pins: dict[str, tuple[str, str]] = {}
    files = [ROOT / "pyproject.toml", *sorted(ROOT.glob("plugins/*/pyproject.toml")),
             *sorted(ROOT.glob("backends/*/pyproject.toml"))]
    for path in files:
        project = tomllib.loads(path.read_text())["project"]
        requirements = list(project.get("dependencies", []))
        if path.parent == ROOT:
            for group in project.get("optional-dependencies", {}).values():
                requirements += group
        for name, (version, marker) in floors(requirements).items():
            if name in pins and pins[name][0] != version:
                raise SystemExit(f"min_constraints: {name} has two floors ({pins[name][0]}, {version}); make them agree")
            pins[name] = (version, marker)
    if sys.argv[1:] == ["--check"]:
        return check(pins)
    for name, (version, marker) in sorted(pins.items()):
        print(f"{name}=={version}{' ' + marker if marker else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
