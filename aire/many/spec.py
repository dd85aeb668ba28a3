"""A collection of fits: inputs (folder, glob, files or a TOML file) times a grid of settings, as Jobs.

A Job is one ordinary `aire fit SIGNAL INPUT` with a dict of `aire fit` options and `--set` signal
settings. Its id is a readable slug (input stem + the grid settings) plus a short hash of the whole
job, so ids are unique and stay the same across reruns of the same spec.
"""

from __future__ import annotations

import difflib
import glob
import hashlib
import itertools
import json
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import attrs

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from aire.errors import InputError

#: `aire fit` options a collection decides itself (per-job output folder, no progress bar per job)
RESERVED = frozenset({"signal", "path", "out", "overwrite", "resume", "config", "checkpoint_every", "quiet", "help"})
SETTINGS_KEY = "set"
GLOB_CHARS = frozenset("*?[")
TOML_KEYS = frozenset({"signal", "inputs", "defaults", "grid"})


@attrs.frozen
class Job:
    """One fit: a signal plugin, an input path, `aire fit` options and signal settings."""

    signal: str
    input: str
    options: Mapping[str, Any] = attrs.field(converter=lambda d: dict(sorted(d.items())))
    settings: Mapping[str, Any] = attrs.field(converter=lambda d: dict(sorted(d.items())))
    varied: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Canonical JSON of everything that decides the fit's result."""
        return json.dumps({"signal": self.signal, "input": self.input, "options": self.options,
                           "set": self.settings}, sort_keys=True)

    @property
    def id(self) -> str:
        """Readable, unique and stable: `<input stem>_<grid key=value...>_<8 hex of the key's hash>`."""
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:8]
        parts = [Path(self.input).stem or Path(self.input).name]
        for name in self.varied:
            value = self.settings[name[len(SETTINGS_KEY) + 1:]] if name.startswith(SETTINGS_KEY + ".") else self.options[name]
            parts.append(f"{name}={_short(value)}")
        return _slug("_".join(parts))[:100] + "_" + digest

    def overrides(self) -> dict[str, Any]:
        """The job as nested fit-spec overrides (aire.spec): its options, signal, input and settings,
        with no progress bar (a collection shows its own)."""
        from aire.options import overrides_from_options
        from aire.spec import merge

        nested = overrides_from_options(self.options, where="job option")
        return merge(nested, {"signal": self.signal, "path": self.input,
                              "signal_settings": {**nested.get("signal_settings", {}), **self.settings},
                              "train": {"progress": False}})

    def spec(self) -> Any:
        """The resolved aire.spec.FitSpec of this job (presets applied); InputError naming the job."""
        from aire.config import ConfigError
        from aire.spec import resolve

        try:
            return resolve(self.overrides())
        except ConfigError as exc:
            raise InputError(f"job {self.id}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "signal": self.signal, "input": self.input, "options": dict(self.options),
                "set": dict(self.settings), "varied": list(self.varied)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Job":
        return cls(data["signal"], data["input"], data["options"], data["set"], tuple(data.get("varied", ())))


def load_jobs(specs: Sequence[str | Path], *, signal: str | None = None, defaults: Mapping[str, Any] | None = None,
              settings: Mapping[str, Any] | None = None, validate: bool = True,
              out: str | Path | None = None) -> list[Job]:
    """Jobs from a TOML spec, or from input folders/globs/files (one job each).

    `out` is the collection folder: folders and globs never yield it or anything in it (nor any other
    output aire wrote, see `expand_inputs`), and an `out` that is an input folder or holds an
    input is refused.

    `signal`, `defaults` (fit options) and `settings` (signal settings) come from the command line and
    win over the TOML's; a key that the TOML's grid varies cannot also be given there. With `validate`,
    every job's specification is built and checked (aire.run.check_spec: device, settings by name and
    type) before this returns, so a bad grid value fails at once rather than in every job.
    """
    specs = [str(s) for s in specs]
    if not specs:
        raise InputError("fit-many needs at least one SPEC (a folder, glob, files, or a .toml file)")
    tomls = [s for s in specs if s.endswith(".toml")]
    if tomls and len(specs) > 1:
        raise InputError(f"a TOML spec must be the only SPEC, got {len(specs)}: {' '.join(specs)}")
    if tomls:
        table = _read_toml(Path(tomls[0]))
        base = Path(tomls[0]).resolve().parent
        unknown = sorted(set(table) - TOML_KEYS)
        if unknown:
            raise InputError(f"{tomls[0]}: unknown key {unknown[0]!r} (known: {', '.join(sorted(TOML_KEYS))})")
        inputs = table.get("inputs")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) for i in inputs):
            raise InputError(f"{tomls[0]}: 'inputs' must be a non-empty list of paths or globs")
        file_signal = table.get("signal")
        if file_signal is not None and not isinstance(file_signal, str):
            raise InputError(f"{tomls[0]}: 'signal' must be a string, got {file_signal!r}")
        toml_defaults, grid = _table(table, "defaults", tomls[0]), _table(table, "grid", tomls[0])
    else:
        inputs, base, file_signal, toml_defaults, grid = specs, Path.cwd(), None, {}, {}

    options, signal_settings = _split(toml_defaults, "defaults")
    grid_options, grid_settings = _split(grid, "grid")
    options.update(_normalise(defaults or {}, "option"))
    signal_settings.update(_normalise(settings or {}, "--set"))
    for name, values in [*grid_options.items(), *((f"{SETTINGS_KEY}.{k}", v) for k, v in grid_settings.items())]:
        if not isinstance(values, list) or not values:
            raise InputError(f"grid key {name!r} must be a non-empty list of values, got {values!r}")
        plain = name.removeprefix(SETTINGS_KEY + ".")
        if (plain in (defaults or {}) and not name.startswith(SETTINGS_KEY)) or (
                name.startswith(SETTINGS_KEY) and plain in (settings or {})):
            raise InputError(f"grid key {name!r} is also given on the command line; drop one of them")
    _check_options(options, "defaults")
    for name, values in grid_options.items():
        for value in values:
            _check_options({name: value}, "grid")

    if out is not None:
        _check_out(Path(out).resolve(), inputs, base)
    paths = expand_inputs(inputs, base, out=out)
    signal_name = signal or file_signal or "image"
    axes = [(name, values) for name, values in grid_options.items()] + \
           [(f"{SETTINGS_KEY}.{name}", values) for name, values in grid_settings.items()]
    varied = tuple(name for name, _ in axes)
    jobs = []
    for path in paths:
        for combo in itertools.product(*(values for _, values in axes)):
            job_options, job_settings = dict(options), dict(signal_settings)
            for (name, _), value in zip(axes, combo):
                if name.startswith(SETTINGS_KEY + "."):
                    job_settings[name[len(SETTINGS_KEY) + 1:]] = value
                else:
                    job_options[name] = value
            jobs.append(Job(signal_name, str(path), job_options, job_settings, varied))
    ids = [j.id for j in jobs]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"job {dup} appears twice; a grid key lists the same value more than once")
    if validate:
        validate_jobs(jobs)
    return jobs


def validate_jobs(jobs: Sequence[Job]) -> None:
    """Build and check every job's specification (aire.run.check_spec) before the first one runs;
    InputError naming the job. Settings shared by many inputs are checked once."""
    from aire.run import check_spec

    checked: set[str] = set()
    for job in jobs:
        spec = job.spec()
        key = json.dumps({k: v for k, v in spec.to_dict().items() if k != "path"}, sort_keys=True, default=str)
        if key in checked:
            continue
        checked.add(key)
        try:
            check_spec(spec)
        except InputError as exc:
            raise InputError(f"job {job.id}: {exc}") from None


#: marker kinds of folders whose files are aire's results, never inputs (a make-scene scene is an input)
OUTPUT_KINDS = frozenset({"run", "collection", "checkpoint"})


def expand_inputs(inputs: Iterable[str], base: Path, out: str | Path | None = None) -> list[Path]:
    """Inputs from paths, folders and globs, relative to `base`, absolute, without duplicates, in the
    order given (sorted within a folder or glob). A folder stands for its non-hidden entries, files
    and sub-folders alike (a folder of images, or a folder of NeRF scene folders).

    Folders and globs never yield aire's own outputs: `out` (the collection being written) and what
    is in it, and any run, checkpoint or collection folder aire wrote (aire.atomic marker, or an older
    aire's files) and what is in it, so a rerun never fits its own summary.png. A file named on its
    own is taken as given."""
    own = _OwnOutputs(out)
    found: list[Path] = []
    for item in inputs:
        pattern = Path(item).expanduser()
        pattern = pattern if pattern.is_absolute() else base / pattern
        if GLOB_CHARS & set(item):
            matched = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True) if not Path(p).name.startswith("."))
            matches = [p for p in matched if not own(p)]
            if not matches:
                raise InputError(f"input glob {item!r} matches nothing" +
                                 (" but aire's own outputs" if matched else ""))
            found.extend(matches)
        elif pattern.is_dir():
            entries = sorted(p for p in pattern.iterdir() if not p.name.startswith("."))
            matches = [p for p in entries if not own(p)]
            if not matches:
                raise InputError(f"input folder {item} is empty" + (" but for aire's own outputs" if entries else ""))
            found.extend(matches)
        elif pattern.exists():
            found.append(pattern)
        else:
            raise InputError(f"input not found: {item}")
    unique = dict.fromkeys(p.resolve() for p in found)
    return list(unique)


class _OwnOutputs:
    """path -> whether it is, or is inside, `out` or an output folder aire wrote (cached per folder)."""

    def __init__(self, out: str | Path | None) -> None:
        self.out = None if out is None else Path(out).resolve()
        self.kinds: dict[Path, bool] = {}

    def __call__(self, path: Path) -> bool:
        path = path.resolve()
        if self.out is not None and (path == self.out or self.out in path.parents):
            return True
        return any(self._is_output(folder) for folder in (path, *path.parents))

    def _is_output(self, folder: Path) -> bool:
        if folder not in self.kinds:
            from aire.atomic import is_aire_folder, is_collection, marker_kind

            kind = marker_kind(folder)
            if kind is not None:
                self.kinds[folder] = kind in OUTPUT_KINDS
            else:  # an older aire's unmarked run (metrics.json and model.json), checkpoint or collection
                legacy_run = (folder / "checkpoint.pt").is_file() or (
                    (folder / "metrics.json").is_file() and (folder / "model.json").is_file())
                self.kinds[folder] = (legacy_run and is_aire_folder(folder)) or is_collection(folder)
        return self.kinds[folder]


def _check_out(out: Path, inputs: Iterable[str], base: Path) -> None:
    """Refuse a collection folder that is an input, or holds one (for a glob: its fixed leading folder)."""
    for item in inputs:
        parts = Path(item).expanduser().parts
        fixed = Path(*parts[:next((i for i, p in enumerate(parts) if GLOB_CHARS & set(p)), len(parts))] or ["."])
        where = (fixed if fixed.is_absolute() else base / fixed).resolve()
        if where == out or out in where.parents:
            raise InputError(f"--out {out} {'is' if where == out else 'holds'} the input {item}; choose another --out "
                             "(a new folder, inside an input folder if you like: fit-many never takes its own "
                             "files as inputs)")


def _check_options(options: Mapping[str, Any], where: str) -> None:
    """Unknown keys (with a did-you-mean) and values of the wrong type fail here, naming the key,
    before any job runs; ranges are checked when each job's specification is built."""
    from aire.options import generated_options

    by_key = {o.key: o for o in generated_options() if o.key not in RESERVED}
    for name, value in options.items():
        if name not in by_key:
            close = difflib.get_close_matches(name, list(by_key), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"{where}: {name!r} is not an `aire fit` option{hint}")
        by_key[name].check(value, f"[{where}]")


def _split(table: Mapping[str, Any], where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A defaults/grid table as (fit options, signal settings from its `set` sub-table)."""
    options = {k: v for k, v in table.items() if k != SETTINGS_KEY}
    settings = table.get(SETTINGS_KEY, {})
    if not isinstance(settings, dict):
        raise InputError(f"[{where}.{SETTINGS_KEY}] must be a table of signal settings, got {settings!r}")
    options = _normalise(options, where)
    for name in options:
        if name in RESERVED:
            raise InputError(f"[{where}] key {name!r} is decided by fit-many and cannot be set")
    return options, _normalise(settings, f"{where}.{SETTINGS_KEY}")


def _normalise(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    return {str(k).strip().replace("-", "_"): v for k, v in table.items()}


def _table(table: Mapping[str, Any], key: str, source: str) -> dict[str, Any]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise InputError(f"{source}: [{key}] must be a table, got {value!r}")
    return value


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"spec file not found: {path}")
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read spec {path}: {str(exc).splitlines()[0]}") from None


def _short(value: Any) -> str:
    if isinstance(value, list):
        return "x".join(_short(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=+-]+", "-", text).strip("-") or "job"
