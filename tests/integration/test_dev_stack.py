"""`disparo-agenda dev --mcp-sim` really runs the stack (Dagster webserver, daemon and code server, the
API, the send worker, the MCP simulator wired as the endpoints), and SIGTERM to it leaves no process behind within 10 s."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP_S = 240  # a cold Dagster start on a busy 2-core machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _role(proc: psutil.Process) -> str | None:
    try:
        cmd = " ".join(proc.cmdline())
    except psutil.Error:
        return None
    for role, marker in (
        ("webserver", "dagster_webserver"),
        ("daemon", "dagster._daemon"),
        ("code server", "dagster api grpc"),
        ("api", "disparo-agenda serve"),
        ("simulador", "disparo-agenda mcp-sim"),
        ("worker", "disparo-agenda worker"),
    ):
        if marker in cmd:
            return role
    return None


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.timeout(STARTUP_S + 60)
def test_dev_runs_every_piece_and_sigterm_stops_them_all(database_url: str, tmp_path: Path) -> None:
    ui, api, sim = _free_port(), _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_")}
    env |= {
        "DATABASE_URL": database_url,
        "DISPARO_AGENDA_HOME": str(tmp_path),
        "DAGSTER_HOME": str(tmp_path / "dg"),
    }
    log = (tmp_path / "dev.log").open("w+")
    dev = subprocess.Popen(
        [str(Path(sys.executable).parent / "disparo-agenda"), "dev", "--port", str(ui), "--api-port", str(api),
         "--mcp-sim", "--mcp-sim-port", str(sim)],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    tree = psutil.Process(dev.pid)
    seen: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + STARTUP_S
        roles: dict[str, psutil.Process] = {}
        while time.monotonic() < deadline and dev.poll() is None:
            seen = tree.children(recursive=True)
            roles = {r: p for p in seen if (r := _role(p))}
            if (
                len(roles) == 6
                and _answers(f"http://127.0.0.1:{api}/health")
                and _answers(f"http://127.0.0.1:{ui}/server_info")
            ):
                break
            time.sleep(1)
        log.seek(0)
        output = log.read()
        assert set(roles) == {"webserver", "daemon", "code server", "api", "simulador", "worker"}, output[
            -3000:
        ]
        # The simulator is the endpoint of every process that sends.
        sim_url = f"http://127.0.0.1:{sim}"
        for role in ("daemon", "api", "code server", "worker"):
            assert roles[role].environ().get("MCP_WHATSAPP_ENDPOINT") == sim_url
        assert "envio: endpoints MCP configurados" in output and "ATENÇÃO" not in output
        # No Dagster beta-warning noise: the code server's import is quiet (assets/__init__.py) and the
        # runs' step processes, which build the instance before importing the code, inherit the filter.
        assert "BetaWarning" not in output, output[-3000:]
        assert "Handling yaml-defined logging" in roles["daemon"].environ().get("PYTHONWARNINGS", "")

        children = [p for p in tree.children(recursive=True) if _running(p)]
        os.kill(dev.pid, signal.SIGTERM)
        stopped = time.monotonic()
        while time.monotonic() - stopped < 10 and (dev.poll() is None or any(map(_running, children))):
            time.sleep(0.1)
        left = [(p.pid, _role(p)) for p in children if _running(p)]
        assert dev.poll() is not None and not left, f"ainda rodando 10 s após SIGTERM: {left}"
    finally:
        for p in [tree, *seen]:  # never leave a stack behind, whatever failed
            if _running(p):
                p.kill()
        dev.wait(5)
        log.close()
