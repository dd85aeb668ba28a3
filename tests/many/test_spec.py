"""Collection specs: folders, globs and TOML grids become jobs with unique, stable ids; bad specs name the key."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from aire.errors import InputError
from aire.many.spec import Job, load_jobs

from tests.many.conftest import write_images


def test_folder_and_glob_give_one_job_per_input(tmp_path):
    paths = write_images(tmp_path / "imgs", 3)
    (tmp_path / "imgs" / ".hidden.png").write_bytes(b"x")
    by_folder = load_jobs([tmp_path / "imgs"])
    by_glob = load_jobs([str(tmp_path / "imgs" / "*.png")])
    by_files = load_jobs([str(p) for p in paths])
    assert [j.input for j in by_folder] == [str(p.resolve()) for p in paths]
    assert [j.id for j in by_folder] == [j.id for j in by_glob] == [j.id for j in by_files]
    assert all(j.signal == "image" for j in by_folder)


def test_toml_grid_is_the_cartesian_product_with_readable_unique_stable_ids(tmp_path):
    write_images(tmp_path / "imgs", 2)
    spec = tmp_path / "grid.toml"
    spec.write_text('inputs = ["imgs/*.png", "imgs/img0.png"]\n'  # overlapping inputs count once
                    '[defaults]\nsteps = 50\nhidden = [8, 8]\n[defaults.set]\nsize = 12\n'
                    '[grid]\ntarget_params = [0.6, 0.4]\nnetwork = ["siren", "finer"]\nseed = [0, 1]\n')
    jobs = load_jobs([spec])
    assert len(jobs) == 2 * 2 * 2 * 2
    assert len({j.id for j in jobs}) == len(jobs)
    assert [j.id for j in load_jobs([spec])] == [j.id for j in jobs]  # stable across loads (reruns)
    first = jobs[0]
    assert first.options == {"steps": 50, "hidden": [8, 8], "target_params": 0.6, "network": "siren", "seed": 0}
    assert first.settings == {"size": 12}
    assert first.id.startswith("img0_target_params=0.6_network=siren_seed=0_")
    assert {(j.options["target_params"], j.options["network"], j.options["seed"]) for j in jobs[:8]} == {
        (t, n, s) for t in (0.6, 0.4) for n in ("siren", "finer") for s in (0, 1)}


def test_job_is_a_fit_specification():
    job = Job("image", "/data/a.png", {"hidden": [8, 8], "steps": 10, "lr_rewind": False, "compensate": True},
              {"size": 12})
    spec = job.spec()
    # the image default preset's max_size (the CPU cap) joins the job's own settings; size wins over it
    assert (spec.signal, spec.path, spec.signal_settings) == ("image", "/data/a.png", {"max_size": 256, "size": 12})
    assert spec.network.widths == (8, 8) and spec.train.steps == 10 and spec.train.progress is False
    assert spec.schedule.lr_rewind is False and spec.schedule.compensate is True
    assert spec.network.omega0 == 30.0, "the image signal's default preset fills what the job leaves out"


def test_command_line_overrides_win_and_change_the_id(tmp_path):
    write_images(tmp_path / "imgs", 1)
    plain = load_jobs([tmp_path / "imgs"])[0]
    over = load_jobs([tmp_path / "imgs"], signal="image", defaults={"steps": 7}, settings={"size": 8})[0]
    assert over.options == {"steps": 7} and over.settings == {"size": 8}
    assert over.id != plain.id


@pytest.mark.parametrize("text, key", [
    ('inputs = ["imgs/*.png"]\n[defaults]\nstepz = 5\n', "stepz"),
    ('inputs = ["imgs/*.png"]\n[defaults]\nsteps = "many"\n', "steps must be int"),
    ('inputs = ["imgs/*.png"]\n[defaults]\nsteps = 1.5\n', "steps must be int"),
    ('inputs = ["imgs/*.png"]\n[defaults]\nsteps = -3\n', "steps must be a positive number"),
    ('inputs = ["imgs/*.png"]\n[grid]\nlr = [1e-3, -1.0]\n', "lr must be a positive number"),
    ('inputs = ["imgs/*.png"]\n[defaults.set]\nsize = 1.5\n', "size must be int"),
    ('inputs = ["imgs/*.png"]\n[defaults.set]\nsizee = 8\n', "valid settings: lpips (bool), max_size (int or null), orientation (one of 'apply', 'ignore'), size (int or null)"),
    ('inputs = ["imgs/*.png"]\n[defaults]\ndevice = "mps"\n', "mps"),
    ('inputs = ["imgs/*.png"]\n[defaults]\nout = "x"\n', "out"),
    ('inputs = ["imgs/*.png"]\n[grid]\nseed = 3\n', "seed"),
    ('inputs = ["imgs/*.png"]\n[grid]\nseed = []\n', "seed"),
    ('inputs = ["imgs/*.png"]\n[grid]\nseed = [1, 1]\n', "twice"),
    ('inputs = ["imgs/*.png"]\n[grid]\nhidden = [4, 4]\n[defaults]\ncompensate = 3\n', "compensate"),
    ('inputs = ["imgs/*.png"]\nbudget = 3\n', "budget"),
    ('inputs = ["nothing/*.png"]\n', "nothing/*.png"),
    ('inputs = ["missing.png"]\n', "missing.png"),
    ('inputs = []\n', "inputs"),
    ('inputs = ["imgs/*.png"\n', "cannot read spec"),
])
def test_bad_specs_fail_before_any_job_naming_the_key(tmp_path, text, key):
    write_images(tmp_path / "imgs", 1)
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    with pytest.raises(InputError) as info:
        load_jobs([spec])
    assert key in str(info.value)
    assert "\n" not in str(info.value)


def test_grid_key_given_on_the_command_line_too_is_refused(tmp_path):
    write_images(tmp_path / "imgs", 1)
    spec = tmp_path / "g.toml"
    spec.write_text('inputs = ["imgs"]\n[grid]\nseed = [0, 1]\n')
    with pytest.raises(InputError, match="seed"):
        load_jobs([spec], defaults={"seed": 3})
    with pytest.raises(InputError, match="only SPEC"):
        load_jobs([spec, tmp_path / "imgs"])


@given(st.dictionaries(st.sampled_from(["seed", "steps", "eval_every", "densify_k"]),
                       st.lists(st.integers(1, 50), min_size=1, max_size=3, unique=True), max_size=3))
def test_grid_cardinality_and_id_uniqueness(tmp_path_factory, grid):
    folder = tmp_path_factory.mktemp("g")
    write_images(folder / "imgs", 2, size=4)
    lines = "\n".join(f"{k} = {v}" for k, v in grid.items())
    (folder / "s.toml").write_text(f'inputs = ["imgs"]\n[grid]\n{lines}\n')
    jobs = load_jobs([folder / "s.toml"])
    assert len(jobs) == 2 * math.prod(len(v) for v in grid.values())
    assert len({j.id for j in jobs}) == len(jobs)
    assert all(Path(j.id).name == j.id and len(j.id) <= 109 for j in jobs)


def test_switch_options_take_booleans(tmp_path):
    write_images(tmp_path / "imgs", 1)
    with pytest.raises(InputError, match="compensate must be bool"):
        load_jobs([tmp_path / "imgs"], defaults={"compensate": "yes"})
    job = load_jobs([tmp_path / "imgs"], defaults={"lr_rewind": True, "compensate": False})[0]
    assert job.spec().schedule.lr_rewind is True and job.spec().schedule.compensate is False


def _collection_inside(images: Path) -> Path:
    """images/runs: a collection aire wrote (marker, summary, a job folder, an error record), as a
    first `aire fit-many images --out images/runs` leaves it."""
    from aire.atomic import write_marker

    runs = images / "runs"
    (runs / "img0_1234abcd").mkdir(parents=True)
    write_marker(runs, "collection")
    write_marker(runs / "img0_1234abcd", "run")
    for name in ("summary.png", "summary.json", "jobs.json", "img1_1234abcd.error.json"):
        (runs / name).write_text("{}")
    (runs / "img0_1234abcd" / "reconstruction.png").write_bytes((images / "img0.png").read_bytes())
    return runs


def test_a_collection_never_takes_its_own_files_as_inputs(tmp_path):
    """Reruns with --out inside the input folder: the collection, its summary, job folders and error
    records are aire's own and never become jobs, by folder, glob or recursive glob; an aire run
    folder among the inputs neither; a scene folder that make-scene wrote is an input."""
    from aire.atomic import write_marker

    images = write_images(tmp_path / "images", 2)
    runs = _collection_inside(tmp_path / "images")
    old_run = tmp_path / "images" / "old_run"
    old_run.mkdir()
    for name in ("metrics.json", "model.json", "reconstruction.png"):  # an older aire's run, unmarked
        (old_run / name).write_text("{}")
    scene = tmp_path / "images" / "scene"
    scene.mkdir()
    write_marker(scene, "scene")
    pictures = [str(p.resolve()) for p in images]
    for spec, want in (([tmp_path / "images"], [*pictures, str(scene.resolve())]),
                       ([str(tmp_path / "images" / "*")], [*pictures, str(scene.resolve())]),
                       ([str(tmp_path / "images" / "**" / "*.png")], pictures)):
        assert sorted(j.input for j in load_jobs(spec, out=runs, validate=False)) == sorted(want), spec
    # without naming --out the marked collection is still recognised as aire's own
    assert not any("runs" in j.input for j in load_jobs([tmp_path / "images"], validate=False))
    with pytest.raises(InputError, match="matches nothing but aire's own outputs"):
        load_jobs([str(runs / "*.png")], out=tmp_path / "other", validate=False)


def test_a_collection_folder_that_is_or_holds_an_input_is_refused(tmp_path, monkeypatch):
    write_images(tmp_path / "images", 1)
    for out, word in ((tmp_path / "images", "is the input"), (tmp_path, "holds the input")):
        with pytest.raises(InputError, match=word):
            load_jobs([tmp_path / "images"], out=out)
        with pytest.raises(InputError, match=word):
            load_jobs([str(tmp_path / "images" / "*.png")], out=out)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="holds the input"):
        load_jobs(["images"], out=".")
    assert len(load_jobs(["images"], out="images/runs")) == 1


def test_fit_many_refuses_a_folder_of_yours_as_its_collection(tmp_path, capsys):
    from aire.cli import main

    images = write_images(tmp_path / "images", 1)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("mine")
    assert main(["fit-many", str(images[0]), "--out", str(mine), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds files fit-many did not write" in err[0]
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.tex"]


def test_a_jobs_budget_gets_the_cubic_ramp_and_its_cycle_options_are_refused_naming_the_job():
    assert Job("image", "/data/a.png", {"target_params": 0.5}, {}).spec().schedule.kind == "aire-cubic"
    named = Job("image", "/data/a.png", {"target_params": 0.5, "schedule": "aire", "cycles": 3}, {}).spec()
    assert named.schedule.kind == "aire" and named.schedule.cycles == 3
    job = Job("image", "/data/a.png", {"target_params": 0.5, "cycles": 3}, {})
    with pytest.raises(InputError, match=rf"job {job.id}: .*--cycles.*--schedule aire"):
        job.spec()
