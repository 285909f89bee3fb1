"""Peak memory under hostile input: the API process and the ingest CLI stay flat (api_lite/limits.py,
pipelines/core/ingest/limits.py). Not timed: the figure is the peak RSS (VmHWM) of the process, asserted.

Run: `.venv/bin/python -m bench.bench_limits [--upload-mb 300] [--no-write]`. A scratch database (as the
other benchmarks) and `disparo-agenda serve` in a subprocess; each case runs against a fresh server so its
peak is its own:

- an unauthenticated 1 GiB chunked POST to /webhooks/mcp/status and to /templates (refused before the body);
- an authenticated 512 MiB chunked POST to /templates (cut at the JSON body limit, 1 MB);
- a `--upload-mb` multipart upload to /ingest/leads/xlsx (limit raised above it; accepted and streamed to
  disk; the job is left for Dagster so only the upload is measured);
- `disparo-agenda ingest` of a 1 MB .xlsx whose sheet inflates to 3 GiB (refused at 1 GiB, streamed).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

import httpx
import psycopg

from bench.report import machine, server_url, write_section
from pipelines.core.common.db import with_dbname
from pipelines.core.common.migrate import migrate
from pipelines.core.tenancy.tenants import create_tenant

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
CEILING_MB = 400  # asserted peak RSS of the API / CLI process in every case


_CLI_WITH_PEAK = """
import resource, sys
from pipelines.cli import main
code = main(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM ausente")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "serve", "--port", str(self.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code < 500:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("a API não subiu")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def _chunks(total: int, piece: bytes):
    sent = 0
    while sent < total:
        yield piece
        sent += len(piece)


def _post(port: int, path: str, total: int, headers: dict[str, str]) -> int:
    try:
        r = httpx.post(
            f"http://127.0.0.1:{port}{path}",
            content=_chunks(total, b"x" * MB),
            headers={"Content-Type": "application/json", **headers},
            timeout=120,
        )
        return r.status_code
    except httpx.HTTPError:
        return -1  # the server answered and closed while the client was still sending


def _upload(port: int, total: int, headers: dict[str, str]) -> int:
    boundary = "benchboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="grande.csv"\r\n'
        "Content-Type: text/csv\r\n\r\nid;nome;telefone\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    line = b"1;Empresa;11999990000\n" * 40000

    def body():
        yield head
        sent = 0
        while sent < total:
            yield line
            sent += len(line)
        yield tail

    r = httpx.post(
        f"http://127.0.0.1:{port}/ingest/leads/xlsx?execucao=dagster",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **headers},
        timeout=600,
    )
    return r.status_code


def _bomb(path: Path, inflated_mb: int) -> Path:
    sheet_head = (
        b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main"><sheetData>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(sheet_head)
            block = b" " * (4 * MB)
            for _ in range(inflated_mb // 4):
                fh.write(block)
            fh.write(b"</sheetData></worksheet>")
    return path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--upload-mb", type=int, default=300)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    server = server_url()
    name = f"bench_limits_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = with_dbname(server, name)
    rows: list[tuple[str, str, float]] = []
    try:
        migrate(url)
        with psycopg.connect(url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
            _, key = create_tenant(conn, "bench")
        auth = {"Authorization": f"Bearer {key}"}
        home = Path(tempfile.mkdtemp(prefix="bench-limits-"))
        env = {**os.environ, "DATABASE_URL": url, "DISPARO_AGENDA_HOME": str(home)}
        env["DISPARO_AGENDA_MAX_UPLOAD_MB"] = str(args.upload_mb + 100)

        cases = [
            (
                "POST /webhooks/mcp/status, 1 GiB chunked, sem assinatura",
                "/webhooks/mcp/status",
                1024 * MB,
                {},
            ),
            ("POST /templates, 1 GiB chunked, sem chave", "/templates", 1024 * MB, {}),
            ("POST /templates, 512 MiB chunked, com chave", "/templates", 512 * MB, auth),
        ]
        for label, path, total, headers in cases:
            srv = Server(env)
            try:
                idle = _vm_hwm_mb(srv.proc.pid)
                status = _post(srv.port, path, total, headers)
                peak = _vm_hwm_mb(srv.proc.pid)
            finally:
                srv.stop()
            rows.append((label, f"{status} (ocioso {idle:.0f} MB)", peak))
            print(label, status, f"{idle:.0f} -> {peak:.0f} MB", flush=True)

        srv = Server(env)
        try:
            idle = _vm_hwm_mb(srv.proc.pid)
            status = _upload(srv.port, args.upload_mb * MB, auth)
            peak = _vm_hwm_mb(srv.proc.pid)
        finally:
            srv.stop()
        label = f"upload multipart de {args.upload_mb} MB (aceito)"
        rows.append((label, f"{status} (ocioso {idle:.0f} MB)", peak))
        print(label, status, f"{idle:.0f} -> {peak:.0f} MB", flush=True)

        bomb = _bomb(home / "bomba.xlsx", 3 * 1024)
        # The CLI in its own process, reporting its own peak (ru_maxrss of RUSAGE_SELF) on its last line.
        proc = subprocess.run(
            [sys.executable, "-c", _CLI_WITH_PEAK, "ingest", str(bomb), "--tenant", "bench"],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        lines = proc.stderr.strip().splitlines()
        peak = int(lines[-1]) / 1024
        last = lines[-2] if len(lines) > 1 else ""
        label = f"CLI ingest de um .xlsx de {bomb.stat().st_size / MB:.1f} MB que infla para 3 GiB"
        rows.append((label, f"saída {proc.returncode}: {last[:90]}…", peak))
        print(label, proc.returncode, last, f"{peak:.0f} MB", flush=True)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    load = os.getloadavg()
    table = "\n".join(f"| {label} | {status} | {peak:.0f} MB |" for label, status, peak in rows)
    md = f"""## Limites: memória sob entrada hostil (`bench/bench_limits.py`)

Pico de memória (VmHWM / ru_maxrss) do processo da API (`disparo-agenda serve`, um servidor novo por caso)
e da CLI. O limite afirmado é {CEILING_MB} MB em todos os casos; antes dos limites, o mesmo POST de 1 GiB
levava a API a 2,2 GB e a planilha de 3 GiB passava de 6 GB.

| caso | resposta | pico de RSS |
|---|---|---|
{table}

Máquina: {machine()}; load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (outros processos rodando
ao mesmo tempo; a medida é de memória, não de tempo).
Comando: `.venv/bin/python -m bench.bench_limits --upload-mb {args.upload_mb}`.
"""
    if not args.no_write:
        write_section("limits", md)
    print(md)
    too_big = [(label, peak) for label, _, peak in rows if peak > CEILING_MB]
    if too_big:
        print(f"acima de {CEILING_MB} MB: {too_big}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
