"""Lead ingest over HTTP: accept a spreadsheet (upload or a named stored file) as an `ingest_jobs` row,
answer 202 at once, and let the job run either in this process (a background thread; the default, so
the API works without Dagster) or through the Dagster sensor for API jobs
(DISPARO_AGENDA_INGEST_INLINE=0, or `?execucao=dagster` per request)."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from api_lite.contract import Offset, limit, text
from api_lite.deps import ConnDep, TenantDep
from api_lite.limits import MULTIPART_OVERHEAD
from pipelines.core import ingest as ingest_core
from pipelines.core.common.convert import parse_uuid
from pipelines.core.common.errors import ConflictError, NotFoundError, ValidationError
from pipelines.core.common.filestore import store_file
from pipelines.core.common.settings import Settings
from pipelines.core.ingest import runs
from pipelines.core.ingest.surfaces import (
    DONE_DIR,
    ERROR_DIR,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    check_filename,
    inline_enabled,
    job_with_sha,
    move_aside,
    resolve_tenant_file,
    sniff,
    sniff_path,
)
from pipelines.core.tenancy.tenants import Tenant

log = logging.getLogger("api_lite.ingest")
router = APIRouter(prefix="/ingest/leads", tags=["ingest"])

_JSON_MAX = 64 * 1024
_MAX_REJECTS_PAGE = 1000
NomeArquivo = text(500)
Aba = text(100)


class StoredFileRef(BaseModel):
    """A file already on the server: `arquivo` (relative to inbox/<tenant>/), the seed's
    `{"bucket", "key"}` (the local store has one bucket per tenant, so `key` is that same relative
    name and `bucket` is informative), or `arquivo_sha256` of a file this tenant ingested before."""

    model_config = ConfigDict(extra="forbid")
    arquivo: NomeArquivo | None = None
    bucket: NomeArquivo | None = None
    key: NomeArquivo | None = None
    arquivo_sha256: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")] | None = None
    aba: Aba | None = None


# --- upload ---------------------------------------------------------------------------------------


async def _limited(request: Request, cap: int, message: str) -> AsyncIterator[bytes]:
    """The request body, refused with 413 as soon as it passes `cap` (chunked uploads included)."""
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > cap:
            raise PayloadTooLargeError(message)
        yield chunk


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g}"


def _declared_length(request: Request) -> int | None:
    try:
        return int(request.headers["content-length"])
    except (KeyError, ValueError):
        return None


async def _receive_upload(request: Request, settings: Settings) -> tuple[Path, str, dict[str, str]]:
    """Stream the multipart body to a temp file: (temp path, file name, other form fields)."""
    limit = settings.max_upload_bytes
    too_large = f"arquivo maior que o limite de {_mb(limit)} MB"
    declared = _declared_length(request)
    if declared is not None and declared > limit + MULTIPART_OVERHEAD:
        raise PayloadTooLargeError(too_large)
    parser = MultiPartParser(
        request.headers, _limited(request, limit + MULTIPART_OVERHEAD, too_large), max_files=1, max_fields=10
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise ValidationError(f"multipart inválido: {exc.message}") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationError("envie a planilha no campo multipart 'file'", field="file")
        name = check_filename(upload.filename)
        if upload.size is not None and upload.size > limit:
            raise PayloadTooLargeError(
                f"arquivo {name!r} tem {_mb(upload.size)} MB; o limite é {_mb(limit)} MB", field="file"
            )
        await upload.seek(0)
        sniff(await upload.read(8), name)
        await upload.seek(0)
        tmp_dir = settings.home / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix="upload-", suffix=Path(name).suffix.lower(), dir=tmp_dir)
        with open(fd, "wb") as out:
            await run_in_threadpool(shutil.copyfileobj, upload.file, out, 1024 * 1024)
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        return Path(tmp_name), name, fields
    finally:
        await form.close()


async def _read_ref(request: Request) -> StoredFileRef:
    too_large = "corpo JSON grande demais; para enviar a planilha use multipart (campo 'file')"
    declared = _declared_length(request)
    if declared is not None and declared > _JSON_MAX:
        raise PayloadTooLargeError(too_large)
    body = b"".join([c async for c in _limited(request, _JSON_MAX, too_large)])
    try:
        return StoredFileRef.model_validate_json(body or b"{}")
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or None
        raise ValidationError(
            f"JSON inválido: {where + ': ' if where else ''}{first.get('msg')}", field=where
        ) from None


def _resolve_ref(
    conn: Any, settings: Settings, tenant: Tenant, ref: StoredFileRef
) -> tuple[Path, str, str, bool]:
    """(path, file name, aba, came from the inbox) of a named stored file of this tenant."""
    if ref.arquivo_sha256:
        job = job_with_sha(conn, tenant.id, ref.arquivo_sha256.strip())
        if job is None or not job["arquivo_path"] or not Path(job["arquivo_path"]).is_file():
            raise NotFoundError(
                f"nenhum arquivo com sha256 {ref.arquivo_sha256} foi ingerido por este tenant"
            )
        return Path(job["arquivo_path"]), job["arquivo_origem"], ref.aba or job["aba"], False
    name = ref.arquivo or ref.key
    if not name:
        raise ValidationError(
            "informe 'arquivo' (nome em inbox/<tenant>/), {'bucket', 'key'} ou 'arquivo_sha256'; "
            "ou envie a planilha como multipart no campo 'file'",
            field="arquivo",
        )
    path = resolve_tenant_file(settings, tenant.slug, name)
    check_filename(path.name)
    sniff_path(path)
    return path, path.name, ref.aba or "Leads", True


def _executor(app: FastAPI) -> ThreadPoolExecutor:
    """One small pool per app for inline ingests; shut down (waiting for running ones) with the app."""
    pool = getattr(app.state, "ingest_executor", None)
    if pool is None:
        pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ingest")
        app.state.ingest_executor = pool
        app.state.shutdown_hooks.append(lambda: pool.shutdown(wait=True, cancel_futures=True))
    return pool


def _run_inline(url: str, job_id: UUID) -> None:
    try:
        # only_pending: if the Dagster sensor's run took the job first, it is not ingested a second time.
        doc = ingest_core.run_job(url, job_id, only_pending=True)
        log.info("ingestão %s terminou: %s", job_id, doc.get("status"))
    except ConflictError:
        log.info("ingestão %s já assumida por outro executor", job_id)
    except Exception as exc:  # the job row carries the reason; a thread has nobody to raise to
        log.error("ingestão %s falhou: %s", job_id, type(exc).__name__)


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "aba": {"type": "string", "default": "Leads"},
                    },
                }
            },
            "application/json": {"schema": StoredFileRef.model_json_schema()},
        },
    }
}


@router.post(
    "/xlsx",
    status_code=202,
    summary="Recebe uma planilha de leads e cria um job de ingestão",
    openapi_extra=_UPLOAD_BODY,
)
async def post_xlsx(
    request: Request,
    tenant: TenantDep,
    conn: ConnDep,
    aba: Aba | None = Query(None, description="aba da planilha (padrão Leads)"),
    execucao: Literal["inline", "dagster"] | None = Query(
        None,
        description="inline: roda neste processo; dagster: fica pendente para o sensor do Dagster. "
        "Padrão: DISPARO_AGENDA_INGEST_INLINE (ligado quando ausente)",
    ),
) -> JSONResponse:
    """Multipart (`file`) or JSON naming a stored file -> 202 `{"job_id", "status": "accepted"}`."""
    settings = Settings.from_env()
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    tmp: Path | None = None
    from_inbox = False
    if ctype == "multipart/form-data":
        tmp, name, fields = await _receive_upload(request, settings)
        src, sheet = tmp, aba or fields.get("aba") or "Leads"
    elif ctype in ("application/json", ""):
        ref = await _read_ref(request)
        src, name, sheet, from_inbox = await run_in_threadpool(_resolve_ref, conn, settings, tenant, ref)
        sheet = aba or sheet
    else:
        raise UnsupportedMediaTypeError(
            f"Content-Type {ctype!r} não suportado; use multipart/form-data (campo 'file') ou application/json"
        )
    try:
        stored, sha = await run_in_threadpool(store_file, settings, src, name)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)

    def _create() -> UUID:
        return ingest_core.create_job(
            conn, tenant.id, name, str(stored), aba=sheet, origem="api", arquivo_sha256=sha
        )

    job_id = await run_in_threadpool(_create)
    if from_inbox and src.parent.name not in (DONE_DIR, ERROR_DIR):
        # The drop-folder sensor must not take the same file again.
        await run_in_threadpool(move_aside, src, DONE_DIR)
    inline = inline_enabled(None if execucao is None else ("1" if execucao == "inline" else "0"))
    if inline:
        _executor(request.app).submit(_run_inline, request.app.state.pool.conninfo, job_id)
    body = {
        "job_id": str(job_id),
        "status": "accepted",
        "execucao": "inline" if inline else "dagster",
        "arquivo_sha256": sha,
    }
    return JSONResponse(body, status_code=202, headers={"Location": f"/ingest/leads/jobs/{job_id}"})


# --- job status and rejects -----------------------------------------------------------------------


@router.get("/jobs", summary="Jobs de ingestão do tenant, mais novos primeiro (CLI, API, inbox ou Dagster)")
def list_jobs(
    tenant: TenantDep,
    conn: ConnDep,
    status: Literal["pendente", "processando", "concluido", "erro"] | None = Query(None),
    limit: int = limit(50, 500),
    offset: Offset = 0,
) -> dict[str, Any]:
    items, total = ingest_core.list_jobs(conn, tenant.id, status=status, limit=limit, offset=offset)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.post(
    "/jobs/{job_id}/retry",
    status_code=202,
    summary="Roda de novo um job em erro, esquecido em pendente ou cujo processo morreu",
)
def retry_job(
    job_id: UUID,
    request: Request,
    tenant: TenantDep,
    conn: ConnDep,
    execucao: Literal["inline", "dagster"] | None = Query(None),
) -> JSONResponse:
    """202 `{"job_id", "status": "accepted", "execucao"}`; 409 when it finished well or is still running."""
    job = runs.retry_job(conn, tenant.id, parse_uuid(job_id, "job de ingestão"))
    inline = inline_enabled(None if execucao is None else ("1" if execucao == "inline" else "0"))
    if inline:
        _executor(request.app).submit(_run_inline, request.app.state.pool.conninfo, job["job_id"])
    body = {"job_id": str(job["job_id"]), "status": "accepted", "execucao": "inline" if inline else "dagster"}
    return JSONResponse(body, status_code=202, headers={"Location": f"/ingest/leads/jobs/{job['job_id']}"})


@router.get("/jobs/{job_id}", summary="Status e estatísticas de um job de ingestão")
def get_job(job_id: UUID, tenant: TenantDep, conn: ConnDep) -> dict[str, Any]:
    return ingest_core.job_document(conn, tenant.id, parse_uuid(job_id, "job de ingestão"))


def _csv_bytes(content: str | bytes | Iterable[str | bytes]) -> bytes:
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        return content.encode("utf-8")
    return b"".join(c.encode("utf-8") if isinstance(c, str) else c for c in content)


@router.get(
    "/jobs/{job_id}/rejeicoes",
    summary="Linhas rejeitadas de um job (JSON paginado, ou CSV com ?formato=csv / Accept: text/csv)",
    responses={200: {"content": {"text/csv": {}}}},
)
def get_rejects(
    job_id: UUID,
    request: Request,
    tenant: TenantDep,
    conn: ConnDep,
    limit: int = limit(100, _MAX_REJECTS_PAGE),
    offset: Offset = 0,
    formato: Literal["json", "csv"] | None = Query(None),
) -> Any:
    jid = parse_uuid(job_id, "job de ingestão")
    wants_csv = formato == "csv" or (formato is None and "text/csv" in request.headers.get("accept", ""))
    if wants_csv:
        content = _csv_bytes(ingest_core.rejects_csv(conn, tenant.id, jid))
        return Response(
            content,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="rejeicoes-{jid}.csv"'},
        )
    rows, total = ingest_core.list_rejects(conn, tenant.id, jid, limit=limit, offset=offset)
    return {"job_id": str(jid), "items": rows, "total": total, "limit": limit, "offset": offset}
