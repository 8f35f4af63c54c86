"""The conda environment and pyproject list the same packages with the same ranges."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].strip().lower()


def test_environment_yml_in_step_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in ("book", "dev"):
        wanted += project["optional-dependencies"][extra]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = [r for r in pip_section if not r.startswith("-")]
    assert sorted(map(_name, listed)) == sorted(map(_name, wanted))
    # same version ranges, not only the same names
    assert {r.replace(" ", "") for r in listed} == {r.replace(" ", "") for r in wanted}


def test_constraints_pin_the_torch_pair():
    pins = {
        _name(line): line.strip()
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert "==" in pins["torch"] and "==" in pins["torchvision"]


def test_make_lab_starts_jupyterlab_in_notebooks_with_the_book_kernel():
    from twophase.book.execute import KERNEL_NAME

    make = (ROOT / "Makefile").read_text()
    lab = make.split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert "cd notebooks" in lab and "/bin/jupyter lab" in lab
    assert f"ipykernel install --sys-prefix --name {KERNEL_NAME} " in make
    assert '--display-name "Python 3 (twophase)"' in make
