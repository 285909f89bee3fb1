"""MCP simulator: a test double of the WhatsApp/Email MCP servers (tests, demo, benchmarks only)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import httpx

from pipelines.mcp_sim.config import SimConfig, config_to_argv

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pipelines.mcp_sim.app import SimHandle

__all__ = ["SimConfig", "SimProcess", "create_app", "run_in_process", "run_in_thread"]


def create_app(config: SimConfig | None = None) -> FastAPI:
    """The simulator's FastAPI app (imported lazily so `pipelines.mcp_sim.config` stays light)."""
    from pipelines.mcp_sim.app import create_app as _create

    return _create(config)


def run_in_thread(config: SimConfig | None = None, port: int = 0, host: str = "127.0.0.1") -> SimHandle:
    """uvicorn in a daemon thread on a free port (tests): `.url`, `.state`, `.stop()`."""
    from pipelines.mcp_sim.app import run_in_thread as _run

    return _run(config, port=port, host=host)


class SimProcess:
    """A simulator in its own process (benchmarks: honest numbers, no GIL shared with the worker)."""

    def __init__(self, proc: subprocess.Popen, url: str) -> None:
        self.proc = proc
        self.url = url

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def run_in_process(config: SimConfig | None = None, port: int = 0, host: str = "127.0.0.1") -> SimProcess:
    """Start `python -m pipelines.mcp_sim` and wait until it answers."""
    config = config or SimConfig()
    port = port or _free_port(host)
    cmd = [
        sys.executable,
        "-m",
        "pipelines.mcp_sim",
        "--host",
        host,
        "--port",
        str(port),
        *config_to_argv(config),
    ]
    proc = subprocess.Popen(cmd, env=os.environ.copy())
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"o simulador MCP saiu com código {proc.returncode}")
        try:
            if httpx.get(url + "/sim/stats", timeout=0.5).status_code == 200:
                return SimProcess(proc, url)
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("o simulador MCP não iniciou a tempo")
