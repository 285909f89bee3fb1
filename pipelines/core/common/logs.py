"""Log lines in the seed's LogEntry shape (section 7.3), one JSON object per line, with secrets redacted.

    {"timestamp", "level": "DEBUG|INFO|WARN|ERROR", "service", "tenant_id", "lead_id", "action", "result":
     "success|failure", "duration_ms", "metadata": {…}, "error": {"message", "stack"} | null, "message"}

Code passes the fields it knows through `extra` (`log.info("…", extra={"tenant_id": t, "action":
"outbox.publish", "result": "success", "duration_ms": 12.5, "metadata": {…}})`, or `log_event(...)`);
the rest is filled in: `service` is the domain of the logger (`ingest`, `disparo`, `agendamento`, …) or
else the process's (`api`, `cli`, `worker`, `dagster`), `action` the logger name, `result` failure from
ERROR up. uvicorn's access lines become `action: "http.request"` with method, path and status. Every
process configures it the same way (`configure_logging(service=…)`): the API, the CLI, the workers and
Dagster's runs (deploy/dagster*.yaml names JsonFormatter for the handler of its Python logs).

API keys, bearer tokens, feed tokens, signatures and database passwords may reach a line through a URL or
an exception message: the filter scrubs records before any handler formats them, and the formatter scrubs
every string of the entry it writes (stack traces and metadata included)."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

_SECRETS = [
    (re.compile(r"dak_[A-Za-z0-9]+_[A-Za-z0-9_\-]+"), "dak_[redacted]"),
    (re.compile(r"(?i)(bearer\s+)[^\s\"',]+"), r"\1[redacted]"),
    (re.compile(r"(?i)([?&](?:token|secret|api_key|key)=)[^&\s\"']+"), r"\1[redacted]"),
    (re.compile(r"(?i)(sha256=)[0-9a-f]{16,}"), r"\1[redacted]"),
    (re.compile(r"(?i)(postgres(?:ql)?://[^:/@\s]+:)[^@\s]+@"), r"\1[redacted]@"),
]

LEVELS = {"WARNING": "WARN", "CRITICAL": "ERROR", "FATAL": "ERROR"}
FIELDS = ("tenant_id", "lead_id", "action", "result", "duration_ms")
# Logger name prefixes -> the seed's service names (the domain a line is about).
_DOMAINS = (
    ("pipelines.core.ingest", "ingest"),
    ("disparo_agenda.ingest", "ingest"),
    ("pipelines.core.send", "disparo"),
    ("pipelines.core.disparos", "disparo"),
    ("pipelines.core.agenda", "agendamento"),
    ("pipelines.core.observability", "observabilidade"),
    ("pipelines.core.reports", "relatorios"),
    ("disparo_agenda.alerts", "observabilidade"),
)
_ACCESS = "uvicorn.access"


def redact(text: str) -> str:
    for pattern, repl in _SECRETS:
        text = pattern.sub(repl, text)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Scrub args one by one so formatters that rely on them (uvicorn's access log) keep working.
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def _service_of(name: str, default: str) -> str:
    for prefix, service in _DOMAINS:
        if name == prefix or name.startswith(prefix + "."):
            return service
    return default


class JsonFormatter(logging.Formatter):
    """LogEntry lines. `service`: the process's name, used when the logger has no domain."""

    def __init__(self, service: str = "disparo-agenda", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        level = LEVELS.get(record.levelname, record.levelname)
        metadata = dict(getattr(record, "metadata", None) or {})
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": level,
            "service": getattr(record, "service", None) or _service_of(record.name, self.service),
            "tenant_id": None,
            "lead_id": None,
            "action": record.name,
            "result": "failure" if record.levelno >= logging.ERROR else "success",
            "duration_ms": None,
            "metadata": metadata,
            "error": None,
            "message": record.getMessage(),
        }
        if record.name == _ACCESS and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, http_version, status = record.args
            entry["action"] = "http.request"
            entry["result"] = "success" if int(status) < 400 else "failure"
            metadata.update(method=method, path=path, status=int(status), client=client, http=http_version)
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = str(value) if key in ("tenant_id", "lead_id") else value
        dagster_meta = getattr(record, "dagster_meta", None)
        if isinstance(dagster_meta, dict):  # a record of a Dagster run: where it came from
            for key in ("run_id", "job_name", "step_key"):
                if dagster_meta.get(key):
                    metadata.setdefault(key, dagster_meta[key])
            entry["message"] = str(dagster_meta.get("orig_message") or entry["message"])
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, exc, _tb = record.exc_info
            entry["error"] = {
                "message": f"{exc_type.__name__}: {exc}",
                "stack": "".join(traceback.format_exception(*record.exc_info)),
            }
            entry["result"] = "failure"
        elif getattr(record, "error", None):
            entry["error"] = {"message": str(record.error), "stack": None}
        return json.dumps(_scrub(entry), ensure_ascii=False, default=str)


def _scrub(value: Any) -> Any:
    """Every string inside a log entry, redacted (before serializing: never cut a JSON escape)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at emit time (it may be replaced after set-up)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # noqa: ANN001
        pass


def configure_logging(
    level: int = logging.INFO, *, json_format: bool = True, service: str = "disparo-agenda"
) -> None:
    """Root handler in LogEntry format plus redaction on the loggers that print URLs (uvicorn, httpx).
    Idempotent: a second call adjusts the level and the service name."""
    root = logging.getLogger()
    for h in root.handlers:
        if isinstance(h.formatter, JsonFormatter) and any(isinstance(f, RedactSecrets) for f in h.filters):
            h.formatter.service = service
            h.setLevel(level)  # also for loggers given a level of their own (Dagster's managed loggers)
    if not any(isinstance(f, RedactSecrets) for h in root.handlers for f in h.filters):
        handler = _StderrHandler()
        handler.setFormatter(
            JsonFormatter(service) if json_format else logging.Formatter("%(levelname)s %(name)s %(message)s")
        )
        handler.addFilter(RedactSecrets())
        handler.setLevel(level)
        root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error", "httpx", "api_lite"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
        if name.startswith("uvicorn"):  # uvicorn's own handlers (if any) give way to the root's
            logger.handlers.clear()
            logger.propagate = True


def log_event(
    logger: logging.Logger,
    action: str,
    *,
    level: int = logging.INFO,
    result: str = "success",
    tenant_id: Any = None,
    lead_id: Any = None,
    duration_ms: float | None = None,
    message: str | None = None,
    **metadata: Any,
) -> None:
    """One LogEntry with its fields named (metadata: the keyword arguments)."""
    logger.log(
        level,
        message or action,
        extra={"action": action, "result": result, "tenant_id": tenant_id, "lead_id": lead_id,
               "duration_ms": duration_ms, "metadata": metadata},
    )  # fmt: skip


@contextmanager
def timed(logger: logging.Logger, action: str, **fields: Any) -> Iterator[dict[str, Any]]:
    """Log `action` once it ends, with its duration and success or failure (the exception as `error`).
    The yielded dict collects metadata along the way."""
    metadata: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        yield metadata
    except BaseException as exc:
        ms = round((time.perf_counter() - started) * 1000, 1)
        logger.error(
            f"{action} falhou",
            exc_info=(type(exc), exc, exc.__traceback__),
            extra={"action": action, "result": "failure", "duration_ms": ms, "metadata": metadata, **fields},
        )
        raise
    ms = round((time.perf_counter() - started) * 1000, 1)
    log_event(logger, action, duration_ms=ms, **fields, **metadata)
