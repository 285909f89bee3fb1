"""The inbox drop folder (inbox/<tenant-slug>/): which dropped files are completely written, and taking
them — stored in the content-addressed store, an `inbox` job each, moved to processados/.

A file is complete when its size and mtime stay unchanged for STABLE_S and, for the zip-based formats
(.xlsx, .xlsm, .ods), when its zip directory — the last thing a writer puts in — is there. One look
watches the folder for up to `watch_s` (the Dagster sensor passes WATCH_S): the daemon evaluates
sensors at most every 5 s, so a tick that only looked once would leave a finished file waiting for the
next tick, and a file needing two looks for two. Every file left alone gets a reason the sensor shows."""

from __future__ import annotations

import logging
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

from pipelines.core.common.errors import DisparoAgendaError, NotFoundError
from pipelines.core.common.filestore import store_file
from pipelines.core.common.settings import Settings
from pipelines.core.ingest.jobs import create_job
from pipelines.core.ingest.surfaces import (
    DONE_DIR,
    ERROR_DIR,
    ZIP_MAGIC,
    check_filename,
    is_partial_name,
    job_with_sha,
    move_aside,
    partition_key,
    sniff_path,
)
from pipelines.core.tenancy.tenants import Tenant, get_tenant_by_slug

log = logging.getLogger("disparo_agenda.ingest")

STABLE_S = 1.0  # unchanged (size, mtime) for this long, and no write for this long: the writer is done
WATCH_S = 3.0  # how long one look (one sensor tick) keeps watching the folder
POLL_S = 0.2
EMPTY_GRACE_S = 60.0  # a copy may create the file well before its first byte arrives
_ZIP_SUFFIXES = (".xlsx", ".xlsm", ".ods")


@dataclass
class InboxAccepted:
    slug: str
    job_id: UUID
    sha256: str
    arquivo: str
    partition_key: str
    moved_to: Path


@dataclass
class InboxScan:
    accepted: list[InboxAccepted] = field(default_factory=list)
    # "<slug>/<name>" -> [size, mtime_ns, first seen with these values (epoch s)], for the next look
    observed: dict[str, list[float]] = field(default_factory=dict)
    newest: dict[str, Any] | None = None  # newest mtime/name taken so far
    skipped: list[str] = field(default_factory=list)  # files or folders left alone for good, and why
    waiting: dict[str, str] = field(default_factory=dict)  # "<slug>/<name>" -> why it is not taken yet

    def summary(self) -> str:
        """One line for the sensor's tick: what was taken or why nothing was."""
        if self.accepted:
            return f"{len(self.accepted)} arquivo(s) aceito(s): " + ", ".join(
                f"{a.slug}/{a.arquivo}" for a in self.accepted
            )
        parts = self.skipped + [f"{rel}: {why}" for rel, why in sorted(self.waiting.items())]
        return "; ".join(parts) if parts else "inbox vazia"


def tenant_inbox(settings: Settings, slug: str) -> Path:
    """Create (if needed) and return the tenant's drop folder inbox/<slug>/."""
    path = settings.inbox_dir / slug
    path.mkdir(parents=True, exist_ok=True)
    return path


def zip_complete(path: Path) -> bool:
    """Whether a zip-based spreadsheet ends with its zip directory (written last: a copy still under
    way, or cut short, has none)."""
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _not_ready(path: Path, st: Any, seen: list[float], now: float, stable_s: float) -> str | None:
    """Why the file is not known to be complete yet (None: it is — or it is no spreadsheet at all, which
    taking it reports)."""
    if now - seen[2] < stable_s or now - st.st_mtime < stable_s:
        return "aguardando o arquivo terminar de ser escrito"
    if st.st_size == 0 and now - st.st_mtime < EMPTY_GRACE_S:
        return "vazio; aguardando o conteúdo"
    if path.suffix.lower() in _ZIP_SUFFIXES and _starts_as_zip(path) and not zip_complete(path):
        return (
            f"incompleto: a planilha {path.suffix.lower()} não tem o final do arquivo zip "
            "(cópia em andamento ou interrompida); aguardando"
        )
    return None


def _starts_as_zip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == ZIP_MAGIC


class _Scanner:
    def __init__(self, conn: psycopg.Connection, settings: Settings, scan: InboxScan, say: Callable) -> None:
        self.conn, self.settings, self.scan, self.say = conn, settings, scan, say
        self.tenants: dict[str, Tenant | None] = {}

    def tenant(self, slug: str) -> Tenant | None:
        if slug not in self.tenants:
            try:
                self.tenants[slug] = get_tenant_by_slug(self.conn, slug)
            except NotFoundError:
                self.tenants[slug] = None
        return self.tenants[slug]

    def listing(self) -> dict[str, Path]:
        """Candidate files of known tenants ("<slug>/<name>" -> path); unknown tenants' folders noted."""
        root = self.settings.inbox_dir
        found: dict[str, Path] = {}
        if not root.is_dir():
            return found
        for tenant_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                files = sorted(p for p in tenant_dir.iterdir() if p.is_file() and not is_partial_name(p.name))
            except FileNotFoundError:
                continue
            if not files:
                continue
            if self.tenant(tenant_dir.name) is None:
                reason = (
                    f"inbox/{tenant_dir.name}/: pasta ignorada, o tenant {tenant_dir.name!r} não existe "
                    f"({len(files)} arquivo(s); crie com `disparo-agenda tenant create {tenant_dir.name}`)"
                )
                if reason not in self.scan.skipped:
                    self.scan.skipped.append(reason)
                    self.say(reason)
                continue
            for path in files:
                found[f"{tenant_dir.name}/{path.name}"] = path
        return found

    def skip(self, message: str) -> None:
        self.scan.skipped.append(message)
        self.say(message)

    def take(self, rel: str, path: Path, st: Any) -> bool:
        """Store, create the job and move the file aside, or explain why not. False when the file changed
        while it was read (it stays, to be looked at again)."""
        slug = rel.split("/", 1)[0]
        tenant = self.tenant(slug)
        assert tenant is not None
        root = self.settings.inbox_dir
        try:
            check_filename(path.name)
            sniff_path(path)
        except DisparoAgendaError as exc:
            moved = move_aside(path, ERROR_DIR, reason=exc.message)
            self.skip(f"inbox/{rel}: {exc.message} (movido para {moved.relative_to(root)})")
            return True
        stored, sha = store_file(self.settings, path, path.name)
        after = path.stat()
        if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
            return False
        dup = job_with_sha(self.conn, tenant.id, sha)
        if dup is not None:
            moved = move_aside(path, DONE_DIR)
            self.skip(
                f"inbox/{rel}: conteúdo já ingerido pelo job {dup['job_id']} (sha256 {sha[:12]}…); "
                f"movido para {moved.relative_to(root)} sem novo job"
            )
            return True
        job_id = create_job(self.conn, tenant.id, path.name, str(stored), origem="inbox", arquivo_sha256=sha)
        moved = move_aside(path, DONE_DIR)
        self.scan.accepted.append(
            InboxAccepted(slug, job_id, sha, path.name, partition_key(slug, path.name, job_id), moved)
        )
        newest = self.scan.newest
        if newest is None or (st.st_mtime_ns, rel) > (newest["mtime_ns"], newest["nome"]):
            self.scan.newest = {"mtime_ns": st.st_mtime_ns, "nome": rel}
        return True


def scan_inbox(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    observed: dict[str, list[float]] | None = None,
    newest: dict[str, Any] | None = None,
    max_files: int = 10,
    watch_s: float = 0.0,
    stable_s: float = STABLE_S,
    poll_s: float = POLL_S,
    log_fn: Callable[[str], None] | None = None,
) -> InboxScan:
    """Look at inbox/<slug>/ until a file is taken or `watch_s` passes (at least once). `observed` is the
    previous look's `InboxScan.observed` (a file unchanged since then counts as stable for that long).

    A file of a tenant that does not exist is left in place; a file that is not a spreadsheet goes to
    erro/ with the reason next to it; content this tenant already dropped goes to processados/ without
    a new job; a file that vanishes (moved or deleted) before it is taken is reported."""
    scan = InboxScan(newest=newest)
    previous = {rel: (list(v) + [0.0])[:3] for rel, v in (observed or {}).items()}  # [size, mtime] = long ago
    seen = dict(previous)
    scanner = _Scanner(conn, settings, scan, log_fn or log.info)
    deadline = time.monotonic() + watch_s
    while True:
        now = time.time()
        files = scanner.listing()
        scan.waiting.clear()
        for rel, path in files.items():
            if len(scan.accepted) >= max_files:
                break
            try:
                st = path.stat()
                values = [st.st_size, st.st_mtime_ns]
                if seen.get(rel, [None, None])[:2] != values:
                    seen[rel] = [*values, now]
                reason = _not_ready(path, st, seen[rel], now, stable_s)
            except FileNotFoundError:
                continue  # reported below as gone
            if reason is not None:
                scan.waiting[rel] = reason
                continue
            try:
                taken = scanner.take(rel, path, st)
            except FileNotFoundError:
                continue  # moved or deleted while it was being taken: reported below as gone
            if taken:
                seen.pop(rel, None)
            else:
                seen.pop(rel, None)  # changed while read: a fresh observation next time round
                scan.waiting[rel] = "mudou enquanto era lido; aguardando o arquivo terminar de ser escrito"
        for rel in [r for r in seen if r not in files or not files[r].exists()]:
            if not any(a.slug + "/" + a.arquivo == rel for a in scan.accepted):
                scanner.skip(f"inbox/{rel}: saiu da pasta antes de ser ingerido (movido ou apagado)")
            seen.pop(rel)
        if scan.accepted or time.monotonic() + poll_s > deadline:
            break
        time.sleep(poll_s)
    scan.observed = {rel: v for rel, v in seen.items() if rel in scan.waiting}
    return scan
