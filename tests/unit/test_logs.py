import logging

from pipelines.core.common.logs import JsonFormatter, RedactSecrets, redact


def test_redacts_keys_tokens_and_passwords() -> None:
    line = (
        "GET /agendamentos.ics?token=abcdef123456&x=1 Authorization: Bearer dak_0a1b2c3d4e5f_SECRETpart-xyz "
        "X-MCP-Signature: sha256=0123456789abcdef0123456789abcdef postgresql://app:hunter2@db:5432/x"
    )
    out = redact(line)
    for secret in ("abcdef123456", "SECRETpart", "0123456789abcdef0123", "hunter2"):
        assert secret not in out
    assert "x=1" in out and "db:5432" in out


def test_filter_scrubs_formatted_record(caplog) -> None:
    logger = logging.getLogger("test.redact")
    logger.addFilter(RedactSecrets())
    with caplog.at_level(logging.INFO, logger="test.redact"):
        logger.info("chave %s usada", "dak_0a1b2c3d4e5f_topsecretvalue")
    assert "topsecretvalue" not in caplog.text
    assert "dak_[redacted]" in caplog.text
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token=%s", ("?token=abc123",), None)
    assert "abc123" not in JsonFormatter().format(record)


def _line(record: logging.LogRecord, service: str = "api") -> dict:
    import json

    return json.loads(JsonFormatter(service).format(record))


def test_log_entry_shape_levels_and_fields() -> None:
    from pipelines.core.common.logs import FIELDS

    record = logging.LogRecord(
        "pipelines.core.send.engine", logging.WARNING, __file__, 1, "lote %s", ("7",), None
    )
    record.tenant_id, record.lead_id, record.action, record.duration_ms = "t-1", "l-2", "envio.lote", 12.5
    record.metadata = {"enviados": 3}
    entry = _line(record)
    assert set(entry) == {"timestamp", "level", "service", "metadata", "error", "message", *FIELDS}
    assert entry["level"] == "WARN" and entry["service"] == "disparo" and entry["result"] == "success"
    assert (entry["tenant_id"], entry["lead_id"], entry["action"]) == ("t-1", "l-2", "envio.lote")
    assert (
        entry["duration_ms"] == 12.5 and entry["metadata"] == {"enviados": 3} and entry["message"] == "lote 7"
    )
    assert entry["timestamp"].endswith("+00:00") and entry["error"] is None
    plain = _line(
        logging.LogRecord("api_lite", logging.CRITICAL, __file__, 1, "x", None, None), service="api"
    )
    assert plain["level"] == "ERROR" and plain["service"] == "api" and plain["result"] == "failure"
    assert plain["action"] == "api_lite" and plain["tenant_id"] is None


def test_errors_carry_message_and_stack_without_secrets() -> None:
    try:
        raise RuntimeError("falhou com Bearer dak_0a1b2c3d4e5f_SEGREDOtotal")
    except RuntimeError:
        import sys

        record = logging.LogRecord("cli", logging.ERROR, __file__, 1, "erro", None, sys.exc_info())
    entry = _line(record, service="cli")
    assert entry["error"]["message"].startswith("RuntimeError: falhou")
    assert "Traceback" in entry["error"]["stack"] and "test_logs.py" in entry["error"]["stack"]
    assert "SEGREDOtotal" not in str(entry) and entry["result"] == "failure"


def test_uvicorn_access_line_is_a_log_entry() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/agendamentos.ics?token=abc123secret", "1.1", 404), None,
    )  # fmt: skip
    RedactSecrets().filter(record)
    entry = _line(record)
    assert entry["action"] == "http.request" and entry["result"] == "failure" and entry["service"] == "api"
    assert entry["metadata"]["method"] == "GET" and entry["metadata"]["status"] == 404
    assert "abc123secret" not in str(entry)


def test_timed_logs_duration_and_failure(caplog) -> None:
    import pytest

    from pipelines.core.common.logs import timed

    logger = logging.getLogger("pipelines.core.observability.teste")
    with caplog.at_level(logging.INFO, logger=logger.name):
        with timed(logger, "limpeza", tenant_id="t") as meta:
            meta["arquivos"] = 2
        with pytest.raises(ValueError), timed(logger, "limpeza"):
            raise ValueError("quebrou")
    ok, bad = (_line(r) for r in caplog.records)
    assert ok["action"] == "limpeza" and ok["duration_ms"] >= 0 and ok["metadata"] == {"arquivos": 2}
    assert ok["tenant_id"] == "t" and ok["service"] == "observabilidade"
    assert bad["result"] == "failure" and bad["error"]["message"] == "ValueError: quebrou"
