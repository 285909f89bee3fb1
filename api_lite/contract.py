"""The API contract shared by every route: typed parameters (ids, pages, enums) whose constraints FastAPI
validates and /openapi.json states, the problem+json error responses every operation declares, and the
Bearer security scheme. Routes import these types instead of validating by hand."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Header, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
)

from api_lite.problems import PROBLEM

# --- parameters ---------------------------------------------------------------------------------------

MAX_OFFSET = 10_000_000  # beyond any table this product keeps; bounds OFFSET so it never overflows bigint
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"0 a {MAX_OFFSET}")]


def limit(default: int = 50, maximum: int = 500) -> Any:
    return Query(default, ge=1, le=maximum, description=f"1 a {maximum} (padrão {default})")


Canal = Literal["whatsapp", "email"]
LeadStatus = Literal["novo", "em_disparo", "agendado", "convertido", "descartado"]
DisparoStatus = Literal["pendente", "enviando", "enviado", "confirmado", "erro", "cancelado", "bloqueado"]
AgendamentoStatus = Literal["pendente", "realizado", "cancelado"]

# Text a person typed: at least one visible character (not what str.strip() removes), no NUL (PostgreSQL
# text cannot hold it). Characters, not escapes, so Python, Rust (pydantic) and ECMA regexes agree.
_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_VISIBLE_CHAR = f"[^\x00{_SPACE}]"
_VISIBLE = f"^[^\x00]*{_VISIBLE_CHAR}[^\x00]*$"
_NO_NUL = "^[^\x00]*$"


def text(max_length: int, *, required: bool = True) -> Any:
    """A str type: 1..max_length characters with something visible (required) or any NUL-free text."""
    return Annotated[
        str,
        StringConstraints(min_length=1 if required else 0, max_length=max_length),
        Field(pattern=_VISIBLE if required else _NO_NUL),
    ]


# Template text: `{{nome_da_variavel}}` placeholders; a brace elsewhere stands alone (`{{`/`}}` outside a
# placeholder is refused by the core's parser, so the schema refuses it too).
_PLAIN = "[^{}\x00]"
_PLACEHOLDER = "\\{\\{ *[A-Za-z_][A-Za-z0-9_]* *\\}\\}"
_TOKEN = f"(?:{_PLAIN}|{_PLACEHOLDER}|[{{}}]{_PLAIN})"
_FIRST = f"(?:[^{{}}\x00{_SPACE}]|{_PLACEHOLDER}|[{{}}]{_PLAIN}|[{{}}]$)"
_TEMPLATE = f"^[{_SPACE}]*{_FIRST}{_TOKEN}*[{{}}]?$"


def template_text(max_length: int) -> Any:
    return Annotated[str, StringConstraints(min_length=1, max_length=max_length), Field(pattern=_TEMPLATE)]


Nome = text(200)
Destino = Annotated[text(320), Field(description="telefone (qualquer formato; vira E.164) ou e-mail")]
CorpoTemplate = template_text(10_000)
AssuntoTemplate = template_text(500)
HtmlTemplate = template_text(50_000)  # fits the 1 MB body limit even as \uXXXX escapes
NomeTemplate = text(100)
MAX_ESPALHAR = 60 * 24 * 31  # a campaign spreads its sends over at most a month
Texto = text(10_000)
Curto = text(500)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[!-~]+$",
        description="1 a 255 caracteres ASCII visíveis; repetir a chave com o mesmo corpo devolve o "
        "primeiro resultado (200), com outro corpo é 409",
    ),
]


class Body(BaseModel):
    """Request bodies: unknown fields are refused (422) and stated as additionalProperties: false.
    Numbers and booleans are strict (the JSON "5" is not 5), as the schema says."""

    model_config = ConfigDict(extra="forbid")


# Years 1900-2999: anything else is a typo, and far years overflow time-zone arithmetic.
_YEAR = "^(19|2[0-9])[0-9][0-9]-"
_YEAR_RE = re.compile(_YEAR)


def _only_text(value: Any) -> Any:
    if not isinstance(value, str) or len(value.strip()) <= 10:  # a bare date has no time
        raise ValueError("deve ser data e hora ISO-8601 em texto (ex.: 2025-11-27T09:00:00-03:00)")
    if not _YEAR_RE.match(value.strip()):
        raise ValueError("ano fora de 1900 a 2999")
    return value


# ISO-8601 date and time; without an offset it is read in the tenant's time zone (by the core).
DataHora = Annotated[
    datetime,
    BeforeValidator(_only_text),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": _YEAR}),
]


def iso(value: datetime | None) -> str | None:
    """A validated DataHora back to the text the core parses (naive stays naive: tenant's zone)."""
    return None if value is None else value.isoformat()


def _date_or_datetime(value: Any) -> Any:
    text_ = value.strip() if isinstance(value, str) else None
    try:
        if text_ is None or not _YEAR_RE.match(text_):
            raise ValueError
        date.fromisoformat(text_) if len(text_) == 10 else datetime.fromisoformat(text_.replace("z", "Z"))
    except ValueError:
        raise ValueError("use uma data (AAAA-MM-DD) ou data e hora ISO-8601, ano de 1900 a 2999") from None
    return text_


# a filter bound: a date (AAAA-MM-DD: whole days) or a date and time; the core reads it
DataOuDataHora = Annotated[
    str,
    AfterValidator(_date_or_datetime),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date", "pattern": _YEAR},
                {"type": "string", "format": "date-time", "pattern": _YEAR},
            ]
        }
    ),
]


def _iso_day(value: Any) -> Any:
    if not isinstance(value, str) or len(value.strip()) != 10 or not _YEAR_RE.match(value.strip()):
        raise ValueError("use uma data AAAA-MM-DD (ano de 1900 a 2999)")
    return value.strip()


Dia = Annotated[
    date,
    BeforeValidator(_iso_day),
    WithJsonSchema({"type": "string", "format": "date", "pattern": _YEAR}),
]  # AAAA-MM-DD only (no Unix timestamps, no times)
Observacoes = text(2000)
Motivo = text(500)
Responsavel = Annotated[text(320), Field(description="e-mail ou telefone (E.164; números do Brasil sem +55)")]
LembreteMinutos = Annotated[StrictInt, Field(ge=0, le=7 * 24 * 60)]
Inteiro = StrictInt
Booleano = StrictBool
# template variables: a name and a scalar value, as the core renders them
NomeVariavel = Annotated[str, StringConstraints(min_length=1, max_length=100), Field(pattern=r"^[^\x00]+$")]
ValorVariavel = (
    Annotated[str, StringConstraints(max_length=2000), Field(pattern=_NO_NUL)]
    | StrictInt
    | float
    | StrictBool
    | None
)
Variaveis = dict[NomeVariavel, ValorVariavel]


# --- error responses ----------------------------------------------------------------------------------


class FieldError(BaseModel):
    field: str | None = None
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details: every error of this API (media type application/problem+json)."""

    type: str = Field(description="sempre about:blank")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="o que houve, em português, para mostrar a quem chamou")
    instance: str | None = Field(None, description="o caminho da requisição")
    field: str | None = Field(None, description="o campo que causou o erro, quando há um")
    errors: list[FieldError] | None = Field(None, description="422: todos os campos inválidos")


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Requisição malformada.",
    401: "Credencial ausente, inválida ou revogada (chave de API, token do feed ou assinatura do webhook).",
    404: "Recurso inexistente ou de outro tenant.",
    409: "Conflito com o estado atual (ex.: não está mais pendente; Idempotency-Key com outro corpo).",
    413: "Corpo ou arquivo maior que o limite.",
    415: "Content-Type não suportado.",
    422: "Dados inválidos; `field` diz qual, `errors` lista todos.",
    429: "Limite de requisições da chave de API excedido; tente de novo após `Retry-After` segundos.",
    503: "Banco de dados indisponível no momento; tente de novo.",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "segundos até a chave poder tentar de novo",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def error_response(status: int) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {PROBLEM: {"schema": _PROBLEM_REF}},
    }
    if status == 429:
        doc["headers"] = _RETRY_AFTER
    return doc


# Declared on every operation (include_router(..., responses=ERROR_RESPONSES) in main.py).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: error_response(status) for status in ERROR_DESCRIPTIONS
}


def document_errors(app: FastAPI) -> None:
    """/openapi.json carries the Problem schema the error responses point at."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        schema = original()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        if "Problem" not in schemas:
            defs = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(defs.pop("$defs", {}))
            schemas["Problem"] = defs
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
