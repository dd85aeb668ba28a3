"""`aire fit-many` on the command line: a bad spec is one line, exit 2, and nothing on disk."""

from __future__ import annotations

import pytest

from aire.cli import main


@pytest.mark.parametrize("argv, message", [
    (["{images}/nothing*.png"], "matches nothing"),
    (["{spec}", "--steps", "5"], "grid key 'steps'"),
    (["{images}", "--executor", "local", "--threads-per-worker", "0"], "--threads-per-worker"),
    (["{images}", "--set", "oops"], "KEY=VALUE"),
    (["{images}", "--workers", "0"], "--workers"),
    (["{spec}", "{images}"], "only SPEC"),
])
def test_bad_collections_fail_in_one_line_before_writing(collection, tmp_path, capsys, argv, message):
    spec = collection["spec"]
    bad = tmp_path / "bad.toml"
    bad.write_text(f'inputs = ["{spec.parent}/images/*.png"]\n[grid]\nsteps = [10, 20]\n')
    words = [w.format(images=spec.parent / "images", spec=bad) for w in argv]
    out = tmp_path / "runs"
    code = main(["fit-many", *words, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("aire: error: ")
    assert message in err[0]
    assert not out.exists()
