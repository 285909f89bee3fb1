"""Behaviour of the MCP simulator (a test double): latency and the share of each failure class."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, fields
from typing import Any

from pipelines.core.common.errors import ValidationError

_RATES = ("rate_5xx", "rate_429", "rate_timeout", "rate_4xx", "rate_failed")


@dataclass
class SimConfig:
    latency_ms: float = 0.0  # added to every answer
    latency_jitter_ms: float = 0.0  # uniform extra 0..jitter
    rate_5xx: float = 0.0  # HTTP 503 (retryable)
    rate_429: float = 0.0  # HTTP 429 with Retry-After (retryable)
    retry_after_s: float = 1.0
    rate_timeout: float = 0.0  # hold the request for timeout_s (the client times out first)
    timeout_s: float = 30.0
    rate_4xx: float = 0.0  # HTTP 400 (permanent)
    rate_failed: float = 0.0  # HTTP 200 with status "failed" (permanent)
    token: str | None = None  # when set, requests need "Authorization: Bearer <token>"
    seed: int | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for name in _RATES:
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ValidationError(f"{name} deve estar entre 0 e 1", field=name)
        if sum(float(getattr(self, n)) for n in _RATES) > 1.0 + 1e-9:
            raise ValidationError("a soma das taxas de erro passa de 1")
        for name in ("latency_ms", "latency_jitter_ms", "retry_after_s", "timeout_s"):
            if float(getattr(self, name)) < 0:
                raise ValidationError(f"{name} deve ser >= 0", field=name)

    def updated(self, changes: dict[str, Any]) -> SimConfig:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValidationError(f"campo desconhecido: {', '.join(sorted(unknown))}")
        return SimConfig(**{**asdict(self), **changes})

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["token"] = "***" if self.token else None  # never echo the token
        return data


def add_sim_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8100)
    p.add_argument("--latency-ms", type=float, default=0.0, help="latência de cada resposta (ms)")
    p.add_argument("--latency-jitter-ms", type=float, default=0.0)
    p.add_argument("--error-rate", type=float, default=0.0, dest="rate_5xx", help="fração de respostas 503")
    p.add_argument("--rate-429", type=float, default=0.0, help="fração de respostas 429 (com Retry-After)")
    p.add_argument(
        "--retry-after", type=float, default=1.0, dest="retry_after_s", help="Retry-After do 429 (s)"
    )
    p.add_argument("--rate-timeout", type=float, default=0.0, help="fração de pedidos que ficam sem resposta")
    p.add_argument("--timeout-s", type=float, default=30.0, help="quanto um pedido 'timeout' fica parado")
    p.add_argument("--rate-4xx", type=float, default=0.0, help="fração de respostas 400 (permanente)")
    p.add_argument("--rate-failed", type=float, default=0.0, help='fração de respostas status "failed"')
    p.add_argument(
        "--token", default=None, help="exige 'Authorization: Bearer TOKEN' (padrão: aceita qualquer)"
    )
    p.add_argument("--seed", type=int, default=None)


def config_from_args(args: argparse.Namespace) -> SimConfig:
    return SimConfig(
        latency_ms=args.latency_ms,
        latency_jitter_ms=args.latency_jitter_ms,
        rate_5xx=args.rate_5xx,
        rate_429=args.rate_429,
        retry_after_s=args.retry_after_s,
        rate_timeout=args.rate_timeout,
        timeout_s=args.timeout_s,
        rate_4xx=args.rate_4xx,
        rate_failed=args.rate_failed,
        token=args.token,
        seed=args.seed,
    )


def config_to_argv(config: SimConfig) -> list[str]:
    """The command-line flags that rebuild `config` (used to start the simulator in a subprocess)."""
    argv = [
        "--latency-ms", str(config.latency_ms), "--latency-jitter-ms", str(config.latency_jitter_ms),
        "--error-rate", str(config.rate_5xx), "--rate-429", str(config.rate_429),
        "--retry-after", str(config.retry_after_s), "--rate-timeout", str(config.rate_timeout),
        "--timeout-s", str(config.timeout_s), "--rate-4xx", str(config.rate_4xx),
        "--rate-failed", str(config.rate_failed),
    ]  # fmt: skip
    if config.token:
        argv += ["--token", config.token]
    if config.seed is not None:
        argv += ["--seed", str(config.seed)]
    return argv
