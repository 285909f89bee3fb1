"""`serve` (api_lite alone) and `dev` (the whole local stack: Dagster webserver + daemon + code server,
api_lite, the send `worker` when an MCP endpoint is set and, with --mcp-sim, the MCP simulator wired as
the endpoints).

`dev` starts each child in a session of its own, so a child and everything it starts (Dagster's
webserver, daemon, code server and run workers) form one process group: SIGINT or SIGTERM to `dev`
sends SIGINT to every group (the signal Dagster and uvicorn shut down gracefully on), and whatever is
still running after STOP_GRACE_S is killed — all within STOP_KILL_S. psutil finds the descendants
(also one that left its group) and tells an exited one from a zombie nobody reaps. Kept over a Procfile runner such as
honcho, which stops children with SIGTERM only (Dagster's graceful path is SIGINT) and adds a
multiprocessing layer per child; this is one small class."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import psutil

from pipelines.core.common.db import database_url
from pipelines.core.common.migrate import migrate
from pipelines.core.common.settings import Settings
from pipelines.dagster_warnings import pythonwarnings

ORDER = 10
ROOT = Path(__file__).resolve().parents[2]
STOP_GRACE_S = 4.0  # SIGINT, then this long for a graceful exit
STOP_KILL_S = 6.0  # then SIGKILL; every child is gone by this deadline


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="sobe só a API HTTP (api_lite)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(func=_serve)

    p = sub.add_parser(
        "dev",
        help="sobe tudo: Dagster (UI, daemon, code server) e a API; com --mcp-sim, o simulador MCP; "
        "Ctrl-C (ou SIGTERM) para tudo",
    )
    p.add_argument("--port", type=int, default=3000, help="porta da UI do Dagster")
    p.add_argument("--api-port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument(
        "--mcp-sim",
        action="store_true",
        help="sobe também o simulador MCP (dublê de teste) e aponta MCP_*_ENDPOINT para ele",
    )
    p.add_argument("--mcp-sim-port", type=int, default=8100)
    p.add_argument(
        "--sem-worker",
        action="store_true",
        help="não sobe o `worker` de envio (os envios ficam só com os runs longos do Dagster)",
    )
    p.set_defaults(func=_dev)


def sending_banner(settings: Settings) -> list[str]:
    """Lines telling whether disparos will be sent, one warning per channel without an MCP endpoint."""
    from pipelines.core.disparos.single import channels_without_endpoint, delivery_warning

    missing = channels_without_endpoint(settings)
    if not missing:
        return ["envio: endpoints MCP configurados para whatsapp e email"]
    lines = [f"ATENÇÃO: {delivery_warning(settings, canal)}" for canal in missing]
    lines.append("         (para envios locais: `disparo-agenda dev --mcp-sim`, o simulador MCP)")
    return lines


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api_lite.main import create_app

    migrate()
    print(f"API: http://{args.host}:{args.port}/docs", file=sys.stderr)
    for line in sending_banner(Settings.from_env()):
        print(line, file=sys.stderr)
    sys.stderr.flush()
    # log_config=None: uvicorn keeps the LogEntry handler the CLI installed (its access lines included)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="info", log_config=None)
    return 0


def dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME, default <home>/dagster. The default one's dagster.yaml is the shipped
    deploy/dagster.local.yaml (rewritten, so it follows the product's updates); a DAGSTER_HOME the user
    chose keeps its own file, written only when missing."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    shipped = (ROOT / "deploy" / "dagster.local.yaml").read_text()
    user_chose = bool(os.environ.get("DAGSTER_HOME"))
    if not cfg.exists() or (not user_chose and cfg.read_text() != shipped):
        cfg.write_text(shipped)
    return home


class ProcessStack:
    """Child processes, each the leader of its own process group; stopped all together."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.children: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: Sequence[str]) -> subprocess.Popen:
        proc = subprocess.Popen(list(argv), env=self.env, cwd=ROOT, start_new_session=True)
        self.children.append((name, proc))
        return proc

    def exited(self) -> tuple[str, int] | None:
        """(name, exit code) of a child that stopped on its own, if any."""
        for name, proc in self.children:
            if proc.poll() is not None:
                return name, proc.returncode
        return None

    def _tree(self) -> list[psutil.Process]:
        """Every process started here, children and their descendants, as they are now."""
        found = []
        for _, proc in self.children:
            try:
                top = psutil.Process(proc.pid)
                found += [top, *top.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        return found

    def _signal(self, procs: list[psutil.Process], sig: int) -> None:
        for _, proc in self.children:
            try:
                os.killpg(proc.pid, sig)  # the whole group, including what started since the snapshot
            except (ProcessLookupError, PermissionError):
                pass
        for p in procs:  # and any descendant that left its group
            try:
                p.send_signal(sig)
            except psutil.Error:
                pass

    def _wait_gone(self, procs: list[psutil.Process], until: float) -> list[psutil.Process]:
        alive = procs
        while True:
            for _, proc in self.children:
                proc.poll()  # reap our own children
            alive = [p for p in alive if _running(p)]
            if not alive or time.monotonic() >= until:
                return alive
            time.sleep(0.05)

    def stop(self, grace_s: float = STOP_GRACE_S, kill_s: float = STOP_KILL_S) -> None:
        started = time.monotonic()
        procs = self._tree()
        self._signal(procs, signal.SIGINT)
        alive = self._wait_gone(procs, started + grace_s)
        if alive:
            self._signal(alive, signal.SIGKILL)
            self._wait_gone(alive, started + kill_s)


def _running(proc: psutil.Process) -> bool:
    """Alive and not a zombie (an orphaned zombie's parent may never reap it)."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_http(url: str, timeout_s: float, stop: threading.Event) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stop.is_set():
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        stop.wait(0.3)
    return False


def _dev(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url(settings)  # one server for every child process
    env["DAGSTER_HOME"] = str(dagster_home(settings))
    env["DISPARO_AGENDA_HOME"] = str(settings.home)
    env.setdefault("DISPARO_AGENDA_INGEST_INLINE", "0")  # under dev, the Dagster sensor runs API uploads
    # /metrics is off without a token: dev makes one for this session (shown in the banner)
    env["DISPARO_AGENDA_METRICS_TOKEN"] = env.get("DISPARO_AGENDA_METRICS_TOKEN") or secrets.token_urlsafe(18)
    env["PYTHONWARNINGS"] = pythonwarnings(env.get("PYTHONWARNINGS"))  # no Dagster beta-warning noise
    migrate(env["DATABASE_URL"])
    bin_dir = Path(sys.executable).parent
    cli = str(bin_dir / "disparo-agenda")
    stack = ProcessStack(env)

    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if args.mcp_sim:
            sim_url = f"http://{args.host}:{args.mcp_sim_port}"
            for name in ("MCP_WHATSAPP_ENDPOINT", "MCP_EMAIL_ENDPOINT", "MCP_CALENDAR_ENDPOINT"):
                env[name] = sim_url
            stack.start(
                "simulador MCP", [cli, "mcp-sim", "--host", args.host, "--port", str(args.mcp_sim_port)]
            )
            if not _wait_http(f"{sim_url}/sim/stats", 30, stop) and not stop.is_set():
                print(f"erro: o simulador MCP não respondeu em {sim_url}", file=sys.stderr)
                return 1
        stack.start("Dagster", [str(bin_dir / "dg"), "dev", "-w", str(ROOT / "workspace.yaml"),
                                "-h", args.host, "-p", str(args.port)])  # fmt: skip
        stack.start("API", [cli, "serve", "--host", args.host, "--port", str(args.api_port)])
        from pipelines.core.disparos.single import channels_without_endpoint

        if not args.sem_worker and len(channels_without_endpoint(Settings.from_mapping(env))) < 2:
            # the long-lived send loop (disparos and reminders on time); Dagster's send runs cooperate
            stack.start("worker de envio", [cli, "worker"])
        api = f"http://{args.host}:{args.api_port}"
        if _wait_http(f"{api}/health", 120, stop):
            lines = [
                f"API: {api}/docs",
                f"Dagster UI: http://{args.host}:{args.port} (leva alguns segundos para subir)",
                f"métricas: curl -H 'Authorization: Bearer {env['DISPARO_AGENDA_METRICS_TOKEN']}' {api}/metrics",
            ]
            if args.mcp_sim:
                lines.append(f"simulador MCP (dublê de teste): http://{args.host}:{args.mcp_sim_port}")
            lines += sending_banner(Settings.from_mapping(env))
            lines.append("Ctrl-C para parar tudo")
            print("\n".join(lines), file=sys.stderr, flush=True)
        elif not stop.is_set():
            print(
                f"aviso: a API ainda não respondeu em {api}/health; veja as mensagens acima", file=sys.stderr
            )
        while not stop.wait(0.5):
            ended = stack.exited()
            if ended is not None:
                print(f"erro: {ended[0]} parou (código {ended[1]}); parando o resto", file=sys.stderr)
                return 1
        return 0
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
