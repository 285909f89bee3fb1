"""The embedded default: several processes share one pgserver-run PostgreSQL under DISPARO_AGENDA_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

_CHILD = """
import json, sys
from pipelines.core.common.db import connect, database_url
url = database_url()
with connect(url, autocommit=True) as c:
    c.execute("SELECT pg_advisory_lock(42)")
    c.execute("CREATE TABLE IF NOT EXISTS visitas (pid int)")
    c.execute("INSERT INTO visitas VALUES (%s)", (int(sys.argv[1]),))
    n = c.execute("SELECT count(*) AS n FROM visitas").fetchone()["n"]
    pid = c.execute("SELECT setting FROM pg_settings WHERE name = 'data_directory'").fetchone()["setting"]
print(json.dumps({"url": url, "datadir": pid, "n": n}))
"""


@pytest.fixture
def embedded_home(tmp_path: Path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "XDG_RUNTIME_DIR")}
    env["DISPARO_AGENDA_HOME"] = str(home)
    yield home, env
    subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "db", "stop"], env=env, capture_output=True, timeout=60
    )


def test_two_processes_share_one_embedded_server(embedded_home) -> None:
    home, env = embedded_home
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(i)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (1, 2)
    ]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outs.append(json.loads(out.strip().splitlines()[-1]))
    assert outs[0]["url"] == outs[1]["url"]
    assert {o["datadir"] for o in outs} == {str(home / "pg")}
    assert max(o["n"] for o in outs) == 2  # both wrote to the same database

    # a third, later process (CLI) joins the running server
    r = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "nenhuma migração pendente" in r.stdout


def test_cli_errors_are_one_line_without_traceback(embedded_home) -> None:
    _, env = embedded_home
    env = dict(env, DATABASE_URL="postgresql://nobody@127.0.0.1:1/nada?connect_timeout=2")
    r = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "tenant", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("erro:") and len(r.stderr.strip().splitlines()) == 1
