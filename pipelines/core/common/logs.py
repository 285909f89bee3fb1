"""JSON logs with secrets redacted. API keys, bearer tokens, feed tokens and signatures may reach a log
line through a URL or an exception message; the filter scrubs them before any handler formats them."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

_SECRETS = [
    (re.compile(r"dak_[A-Za-z0-9]+_[A-Za-z0-9_\-]+"), "dak_[redacted]"),
    (re.compile(r"(?i)(bearer\s+)[^\s\"',]+"), r"\1[redacted]"),
    (re.compile(r"(?i)([?&](?:token|secret|api_key|key)=)[^&\s\"']+"), r"\1[redacted]"),
    (re.compile(r"(?i)(sha256=)[0-9a-f]{16,}"), r"\1[redacted]"),
    (re.compile(r"(?i)(postgres(?:ql)?://[^:/@\s]+:)[^@\s]+@"), r"\1[redacted]@"),
]


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


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key in ("tenant_id", "action", "result", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["error"] = redact(f"{record.exc_info[0].__name__}: {record.exc_info[1]}")
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: int = logging.INFO, *, json_format: bool = True) -> None:
    """Root handler plus redaction on the loggers that print URLs (uvicorn, httpx)."""
    root = logging.getLogger()
    if not any(isinstance(f, RedactSecrets) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(
            JsonFormatter() if json_format else logging.Formatter("%(levelname)s %(name)s %(message)s")
        )
        handler.addFilter(RedactSecrets())
        root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error", "httpx", "api_lite"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
