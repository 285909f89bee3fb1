"""One error hierarchy for every shell: the CLI prints it as one line, api_lite maps it to problem+json."""

from __future__ import annotations

from collections.abc import Iterable


class DisparoAgendaError(Exception):
    """A failure the user can act on. `str(err)` is the whole message."""

    status_code = 400
    title = "Requisição inválida"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(DisparoAgendaError):
    status_code = 422
    title = "Dados inválidos"


def reject_unknown_fields(given: Iterable[str], allowed: Iterable[str]) -> None:
    """A 422 naming the first field that is not one of `allowed` (all of them in the message)."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValidationError(f"campo desconhecido: {', '.join(unknown)}", field=unknown[0])


class NotFoundError(DisparoAgendaError):
    status_code = 404
    title = "Não encontrado"


class ConflictError(DisparoAgendaError):
    status_code = 409
    title = "Conflito"


class AuthError(DisparoAgendaError):
    status_code = 401
    title = "Não autorizado"


class ConfigError(DisparoAgendaError):
    status_code = 500
    title = "Configuração inválida"
