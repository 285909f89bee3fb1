"""Pure parts of the send engine: backoff schedule, outcome classification, send windows."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from pipelines.core.send.backoff import backoff_delay
from pipelines.core.send.mcp import classify, parse_retry_after, request_from_disparo
from pipelines.core.send.window import is_open, next_opening


class _Fixed(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_backoff_doubles_from_one_second_and_caps_at_thirty() -> None:
    none = _Fixed(0.0)  # jitter term 0
    assert [backoff_delay(n, rng=none) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_backoff_jitter_only_adds_up_to_twenty_percent_and_stays_under_the_cap() -> None:
    rng = random.Random(7)
    for attempt in range(1, 10):
        nominal = min(30.0, 2 ** (attempt - 1))
        for _ in range(200):
            d = backoff_delay(attempt, rng=rng)
            assert nominal - 1e-9 <= d <= min(30.0, 1.2 * nominal) + 1e-9  # never earlier than the seed
    assert backoff_delay(1, rng=_Fixed(0.0)) == 1.0  # attempt 2: no earlier than 1 s
    assert backoff_delay(2, rng=_Fixed(0.0)) == 2.0  # attempt 3: no earlier than 2 s
    assert backoff_delay(1, rng=_Fixed(0.999)) == pytest.approx(1.2, abs=1e-3)
    assert backoff_delay(6, rng=_Fixed(0.999)) == 30.0


@pytest.mark.parametrize(
    ("status", "body", "headers", "outcome", "retry_after"),
    [
        (200, {"messageId": "m1", "status": "sent"}, {}, "sent", None),
        (200, {"messageId": "m1", "status": "failed", "error": "número inválido"}, {}, "failed", None),
        (429, {"error": "slow down"}, {"Retry-After": "7"}, "retry", 7.0),
        (503, None, {"retry-after": "2"}, "retry", 2.0),  # header names are case-insensitive
        (503, None, {}, "retry", None),
        (500, {"error": "boom"}, {}, "retry", None),
        (400, {"error": "to inválido"}, {}, "failed", None),
        (401, None, {}, "failed", None),
        (200, None, {}, "retry", None),  # not JSON: treat as transient
    ],
)
def test_classify(status, body, headers, outcome, retry_after) -> None:
    res = classify(status, body, headers)
    assert res.outcome == outcome
    assert res.retry_after == retry_after
    assert res.http_status == status
    if outcome != "sent":
        assert res.error


def test_parse_retry_after_http_date_and_garbage() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("nonsense") is None
    assert parse_retry_after(None) is None


def test_request_from_disparo_defaults_to_template_name() -> None:
    assert request_from_disparo("whatsapp", "+5584997084444", "boas_vindas", {}) == {
        "to": "+5584997084444",
        "message": "boas_vindas",
    }
    req = request_from_disparo(
        "email",
        "a@b.com",
        "tpl",
        {"mensagem": "Oi", "assunto": "Olá", "html": "<p>Oi</p>", "template_id": "t1", "variaveis": {"n": 1}},
    )
    assert req == {
        "to": "a@b.com", "subject": "Olá", "body": "Oi", "html": "<p>Oi</p>", "templateId": "t1",
        "variables": {"n": "1"},
    }  # fmt: skip


JANELA = {
    "seg": [["08:00", "20:00"]],
    "ter": [["08:00", "20:00"]],
    "qua": [["08:00", "20:00"]],
    "qui": [["08:00", "20:00"]],
    "sex": [["08:00", "12:00"], ["13:00", "20:00"]],
    "sab": [["08:00", "14:00"]],
}
SP = "America/Sao_Paulo"  # UTC-3, no DST since 2019


@pytest.mark.parametrize(
    ("now_utc", "expected_utc"),
    [
        ("2026-11-23T13:00:00+00:00", "now"),  # Monday 10:00 local: open
        ("2026-11-23T23:30:00+00:00", "2026-11-24T11:00:00+00:00"),  # Monday 20:30 -> Tuesday 08:00
        ("2026-11-27T15:30:00+00:00", "2026-11-27T16:00:00+00:00"),  # Friday lunch 12:30 -> 13:00
        ("2026-11-28T17:00:00+00:00", "2026-11-30T11:00:00+00:00"),  # Saturday 14:00 (end excluded) -> Monday
        ("2026-11-29T15:00:00+00:00", "2026-11-30T11:00:00+00:00"),  # Sunday -> Monday 08:00
        ("2026-11-23T10:59:00+00:00", "2026-11-23T11:00:00+00:00"),  # Monday 07:59 -> 08:00 same day
    ],
)
def test_next_opening(now_utc: str, expected_utc: str) -> None:
    now = datetime.fromisoformat(now_utc)
    expected = now if expected_utc == "now" else datetime.fromisoformat(expected_utc)
    assert next_opening(JANELA, SP, now) == expected
    assert is_open(JANELA, SP, now) == (expected_utc == "now")


def test_window_none_always_open_and_empty_never_opens() -> None:
    now = datetime(2026, 11, 29, 15, tzinfo=UTC)
    assert next_opening(None, SP, now) == now
    assert next_opening({}, SP, now) is None
    assert next_opening({"dom": []}, SP, now) is None
    with pytest.raises(ValueError):
        next_opening(JANELA, SP, datetime(2026, 11, 29, 15))


def test_window_across_dst_uses_local_wall_clock() -> None:
    # New York springs forward on 2026-03-08: Monday 09:00 local is 13:00 UTC (EDT), not 14:00.
    now = datetime(2026, 3, 7, 23, tzinfo=UTC)  # Saturday evening local
    assert next_opening({"seg": [["09:00", "17:00"]]}, "America/New_York", now) == datetime(
        2026, 3, 9, 13, tzinfo=UTC
    )
