"""Every device string this machine cannot use is one line, the same in every command."""

from __future__ import annotations

import pytest
import torch

from aire.cli import main
from aire.devices import resolve_device
from aire.errors import InputError

UNUSABLE = ["tpu", "cuda:x", "gpu0", "", "meta", "mps", "xla", "cpu:3", "cuda:99"]
if not torch.cuda.is_available():
    UNUSABLE += ["cuda", "cuda:0"]


@pytest.mark.parametrize("name", UNUSABLE)
def test_unusable_devices_are_refused_in_one_line(name):
    with pytest.raises(InputError) as info:
        resolve_device(name)
    assert "\n" not in str(info.value) and "--device" in str(info.value)


def test_cpu_resolves():
    assert resolve_device("cpu") == torch.device("cpu") == resolve_device(" cpu ") == resolve_device("cpu:0")


@pytest.mark.parametrize("name", ["meta", "mps", "nonsense"] + ([] if torch.cuda.is_available() else ["cuda"]))
def test_every_command_refuses_the_same_way(name, tmp_path, image_path, capsys):
    commands = [
        ["fit", "image", str(image_path), "--out", str(tmp_path / "o"), "--steps", "2", "--quiet", "--device", name],
        ["export-mesh", str(tmp_path / "run"), "--out", str(tmp_path / "m.ply"), "--device", name],
        ["fit-many", str(image_path), "--out", str(tmp_path / "many"), "--device", name, "--quiet"],
    ]
    for argv in commands:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("aire: error:") and name in err[0], (argv, err)
        assert not (tmp_path / "o").exists() and not (tmp_path / "many").exists()
