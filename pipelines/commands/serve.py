"""`serve` (api_lite alone) and `dev` (Dagster webserver + daemon + api_lite)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipelines.core.common.db import database_url
from pipelines.core.common.migrate import migrate
from pipelines.core.common.settings import Settings

ORDER = 10
ROOT = Path(__file__).resolve().parents[2]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="sobe só a API HTTP (api_lite)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(func=_serve)

    p = sub.add_parser("dev", help="sobe tudo: Dagster (UI + daemon) e a API; Ctrl-C para tudo")
    p.add_argument("--port", type=int, default=3000, help="porta da UI do Dagster")
    p.add_argument("--api-port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(func=_dev)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api_lite.main import create_app

    migrate()
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="info")
    return 0


def dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME, default ./.data/dagster, with a dagster.yaml that queues runs and caps them per channel."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text((ROOT / "deploy" / "dagster.local.yaml").read_text())
    return home


def _dev(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url(settings)  # one server for every child process
    env["DAGSTER_HOME"] = str(dagster_home(settings))
    env.setdefault("DISPARO_AGENDA_HOME", str(settings.home))
    env.setdefault("DISPARO_AGENDA_INGEST_INLINE", "0")  # under dev, the Dagster sensor runs API uploads
    migrate(env["DATABASE_URL"])
    bin_dir = Path(sys.executable).parent
    procs = [
        subprocess.Popen(
            [
                str(bin_dir / "dagster"),
                "dev",
                "-w",
                str(ROOT / "workspace.yaml"),
                "-h",
                args.host,
                "-p",
                str(args.port),
            ],
            env=env,
            cwd=ROOT,
        ),
        subprocess.Popen(
            [str(bin_dir / "disparo-agenda"), "serve", "--port", str(args.api_port), "--host", args.host],
            env=env,
            cwd=ROOT,
        ),
    ]
    print(
        f"Dagster UI: http://{args.host}:{args.port}   API: http://{args.host}:{args.api_port}/docs   (Ctrl-C para parar)"
    )
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    return 0
