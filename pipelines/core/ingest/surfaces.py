"""What the ingest *surfaces* (HTTP API, Dagster asset and sensors) share, kept dagster-free:
accepted file types, partition keys, job look-ups by content, the inbox drop-folder scan and the
numbers behind the asset checks. The ingest itself is pipelines.core.ingest; how an orchestrated run
gets its job done once is pipelines.core.ingest.runs."""

from __future__ import annotations

import logging
import os
import re
import shutil
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

from pipelines.core.common.errors import DisparoAgendaError, NotFoundError, ValidationError
from pipelines.core.common.queries import query
from pipelines.core.common.settings import Settings
from pipelines.core.ingest import SUPPORTED_SUFFIXES, job_document

log = logging.getLogger("disparo_agenda.ingest")

INLINE_ENV = "DISPARO_AGENDA_INGEST_INLINE"
PARTITIONS_NAME = "ingest_jobs"
DONE_DIR = "processados"
ERROR_DIR = "erro"
ZIP_MAGIC = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Names editors and downloaders use while a file is still being written (or lock files).
_PARTIAL = re.compile(r"(^~\$|^\.~lock|^\.|\.(part|partial|tmp|crdownload|download|swp)$)", re.IGNORECASE)


class UnsupportedMediaTypeError(DisparoAgendaError):
    status_code = 415
    title = "Tipo de mídia não suportado"


class PayloadTooLargeError(DisparoAgendaError):
    status_code = 413
    title = "Conteúdo grande demais"


def inline_enabled(override: str | None = None) -> bool:
    """Whether the API runs an accepted ingest in-process. Default on: `serve` and the demo have no
    Dagster daemon; set DISPARO_AGENDA_INGEST_INLINE=0 where the Dagster sensor should launch it."""
    value = override if override is not None else os.environ.get(INLINE_ENV)
    if value is None or value.strip() == "":
        return True
    return value.strip().lower() not in ("0", "false", "no", "nao", "não", "off", "dagster")


# --- file names and types -------------------------------------------------------------------------


def check_filename(filename: str | None) -> str:
    """The bare file name, or 415 when its extension is not a spreadsheet we read. A name that tries to
    climb folders (`../`) or carries control characters is refused (422), never silently trimmed; a
    browser's full path (`C:\\Users\\ana\\Leads.xlsx`) gives its last part."""
    raw = (filename or "").replace("\\", "/")
    if ".." in raw.split("/") or any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise ValidationError(
            f"nome de arquivo inválido: {raw!r} (sem '..' nem caracteres de controle)", field="file"
        )
    name = Path(raw).name.strip()
    if not name:
        raise ValidationError("arquivo sem nome; envie o campo 'file' com o nome da planilha", field="file")
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise UnsupportedMediaTypeError(
            f"tipo de arquivo não suportado: {name!r}; envie {', '.join(SUPPORTED_SUFFIXES)}", field="file"
        )
    return name


def sniff(head: bytes, filename: str) -> None:
    """Cheap up-front check that the bytes look like the extension says (full parsing is the job's)."""
    ext = Path(filename).suffix.lower()
    if not head:
        raise ValidationError(f"arquivo vazio: {filename!r}", field="file")
    if ext in (".xlsx", ".xlsm", ".ods") and not head.startswith(ZIP_MAGIC):
        raise ValidationError(f"arquivo corrompido ou não é uma planilha {ext}: {filename!r}", field="file")
    if ext == ".xls" and not (head.startswith(_OLE2) or head.startswith(ZIP_MAGIC)):
        raise ValidationError(f"arquivo corrompido ou não é uma planilha .xls: {filename!r}", field="file")
    if ext == ".csv" and b"\x00" in head[:4096]:
        raise ValidationError(f"arquivo binário enviado como .csv: {filename!r}", field="file")


def sniff_path(path: Path, filename: str | None = None) -> None:
    with path.open("rb") as fh:
        sniff(fh.read(8), filename or path.name)


# --- Dagster partition keys -----------------------------------------------------------------------


def _slugify(text: str, max_len: int = 40) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9_-]+", "-", ascii_text.lower()).strip("-_")
    return slug[:max_len].strip("-_") or "arquivo"


def partition_key(slug: str, arquivo_origem: str, job_id: UUID | str) -> str:
    """Readable key `<tenant-slug>/<file-stem>/<job_id>`; the full job id at the end maps it back."""
    return f"{slug}/{_slugify(Path(arquivo_origem).stem)}/{job_id}"


def job_id_from_partition_key(key: str) -> UUID:
    try:
        return UUID(key.rsplit("/", 1)[-1])
    except ValueError:
        raise ValidationError(
            f"partição de ingestão inválida: {key!r} (esperado <tenant>/<arquivo>/<job_id>)"
        ) from None


# --- job look-ups (cross-tenant by design: the orchestrator serves every tenant) --------------------


def job_with_sha(
    conn: psycopg.Connection, tenant_id: UUID | str, sha256: str, *, origem: str | None = None
) -> dict[str, Any] | None:
    """The tenant's latest job of a file with this content (optionally from one origin)."""
    return conn.execute(
        query("ingest", "job_with_sha"), {"tenant": tenant_id, "sha256": sha256.lower(), "origem": origem}
    ).fetchone()


def reject_reasons(
    conn: psycopg.Connection, tenant_id: UUID | str, job_id: UUID | str, limit: int = 25
) -> list[dict[str, Any]]:
    """Rejects grouped by column and reason, most frequent first (the asset's reasons table). The job
    document's `erros` summary is the one grouping of a job's rejects (reasons without line numbers, so
    every duplicate id counts in one row), so this reads it rather than grouping the rows again."""
    erros = job_document(conn, tenant_id, job_id)["erros"] or []
    rows = [
        {
            "coluna": e.get("coluna") or "",
            "motivo": e["motivo"],
            "linhas": int(e["quantidade"]),
            "primeira_linha": min(e["primeiras_linhas"]) if e.get("primeiras_linhas") else None,
        }
        for e in erros
    ]
    rows.sort(key=lambda r: (-r["linhas"], r["coluna"], r["motivo"]))
    return rows[:limit]


def contact_stats(conn: psycopg.Connection, tenant_id: UUID | str, job_id: UUID | str) -> dict[str, int]:
    """Leads last written by this job, and how many have at least one phone (that may get a WhatsApp:
    telefones_whatsapp) or e-mail fit to send to."""
    return conn.execute(query("ingest", "contact_stats"), {"tenant": tenant_id, "id": job_id}).fetchone()


# --- inbox drop folder ----------------------------------------------------------------------------


def is_partial_name(name: str) -> bool:
    return bool(_PARTIAL.search(name))


def move_aside(path: Path, folder: str, *, reason: str | None = None) -> Path:
    """Move a dropped file to <tenant dir>/<folder>/ with a UTC stamp (names never collide); a reason
    goes next to it in `<name>.motivo.txt` so the person who dropped it sees why."""
    target_dir = path.parent / folder
    target_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = target_dir / f"{stamp}_{path.name}"
    shutil.move(str(path), target)
    if reason:
        (target_dir / f"{target.name}.motivo.txt").write_text(reason + "\n", encoding="utf-8")
    return target


def resolve_tenant_file(settings: Settings, slug: str, name: str) -> Path:
    """A file named relative to the tenant's inbox folder, never outside it."""
    base = (settings.inbox_dir / slug).resolve()
    raw = (name or "").strip()
    if not raw or Path(raw).is_absolute() or ".." in Path(raw).parts:
        raise ValidationError(
            f"nome de arquivo inválido: {name!r} (relativo à pasta inbox/{slug}/)", field="arquivo"
        )
    path = (base / raw).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise NotFoundError(f"arquivo {raw!r} não encontrado em inbox/{slug}/")
    return path
