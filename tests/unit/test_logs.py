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
