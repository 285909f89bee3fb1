"""A built wheel carries every migration and named query, and an install of it migrates from its own files
(not from a source tree next to it, which a wheel install does not have)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipelines", "assets", "sensors", "api_lite", "sql")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built from a copy of the tree (the build writes into its source directory)."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    out = work / "out"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return next(out.glob("*.whl"))


def test_wheel_carries_every_sql_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {p.relative_to(ROOT).as_posix() for p in (ROOT / "sql").rglob("*.sql")}
    assert {"sql/0001_init.sql", "sql/queries/campanhas.sql"} <= expected
    assert expected - names == set()


def test_installed_wheel_migrates_from_its_own_files(
    wheel: Path, tmp_path: Path, empty_database_url: str
) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "-q", "--target", str(site), str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    script = (
        "import json, sys, pipelines, sql\n"
        "from pipelines.core.common.migrate import migrate\n"
        "print(json.dumps({'paths': [pipelines.__file__, sql.__file__], 'applied': migrate(sys.argv[1])}))\n"
    )
    # The installed copy comes first on the path; the project's own (editable) install stays behind it.
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run(
        [sys.executable, "-c", script, empty_database_url],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert all(Path(p).is_relative_to(site) for p in out["paths"]), out["paths"]
    expected = sorted(p.name for p in (ROOT / "sql").glob("[0-9][0-9][0-9][0-9]_*.sql"))
    assert out["applied"] == expected
