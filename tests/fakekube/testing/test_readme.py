"""The README's pytest-plugin example, run as a user would: in its own directory with plain ``pytest``.

``test_readme_example_passes`` uses this project's venv (the plugin comes from the installed entry
point, not from any conftest). ``test_readme_example_in_a_fresh_venv`` (set ``FAKEKUBE_NEWUSER=1``;
it installs the package and its dependencies from PyPI, about a minute) repeats it in a new
virtual environment with only ``pip install <repo> pytest kubernetes``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "fakekube" / "README.md"


def readme_example() -> tuple[str, str]:
    """(file name, code) of the block after ``<!-- example: NAME -->`` in the README."""
    m = re.search(r"<!-- example: (\S+) -->\n```python\n(.*?)```", README.read_text(), re.S)
    assert m, "the README has no example block"
    return m.group(1), m.group(2)


def run_example(python: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    name, code = readme_example()
    (tmp_path / name).write_text(code)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "KUBE"))}
    env["HOME"] = str(tmp_path)  # no ~/.kube/config to fall back on
    return subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", name],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_readme_example_passes(tmp_path: Path) -> None:
    r = run_example(Path(sys.executable), tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 passed" in r.stdout


@pytest.mark.skipif(
    os.environ.get("FAKEKUBE_NEWUSER") != "1", reason="set FAKEKUBE_NEWUSER=1 (installs from PyPI)"
)
def test_readme_example_in_a_fresh_venv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        # as the README says: the package with its fakekube extra (CEL for the CRDs' rules)
        [str(venv / "bin" / "pip"), "install", "-q", f"{ROOT}[fakekube]", "pytest", "kubernetes"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert pip.returncode == 0, pip.stderr
    work = tmp_path / "work"
    work.mkdir()
    r = run_example(venv / "bin" / "python", work)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 passed" in r.stdout
