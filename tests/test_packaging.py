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


def test_license_citation_and_urls_agree_with_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]  # PEP 639
    assert any(r.replace(" ", "").startswith("setuptools>=77")
               for r in pyproject["build-system"]["requires"])
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["license"] == "MIT"
    assert cff["version"] == project["version"] and cff["title"].startswith("twophase")
    assert {r["url"] for r in cff["references"]} == {"https://arxiv.org/abs/2405.10262",
                                                     "https://arxiv.org/abs/2407.19198"}
    assert all(url.startswith("https://") for url in project["urls"].values())
    intro = (ROOT / "book" / "intro.md").read_text()
    bibtex = intro.split("```bibtex\n", 1)[1].split("```", 1)[0]
    assert f"version {project['version']}" in bibtex and "MIT license" in bibtex


def test_the_readme_installation_section_constraints_txt_points_to():
    readme = (ROOT / "README.md").read_text()
    assert 'see README "Installation"' in (ROOT / "constraints.txt").read_text()
    section = readme.split("\n## Installation\n", 1)[1].split("\n## ", 1)[0]
    for needed in ("--index-url https://download.pytorch.org/whl/cpu", "pip install .",
                   'pip install ".[book]"',
                   "NUMBA_CACHE_DIR", "~/.cache/huggingface", "environment.yml", "CITATION.cff"):
        assert needed in section, needed


def test_make_kernel_registers_the_venv_kernel_for_the_users_own_jupyter():
    make = (ROOT / "Makefile").read_text()
    kernel = make.split("\nkernel:", 1)[1].split("\n\n", 1)[0]
    assert "ipykernel install --user --name twophase " in kernel.replace("\\\n\t\t", "")
    assert make.split("\nlab:", 1)[1].split("\n", 1)[0].strip() == "kernel"
