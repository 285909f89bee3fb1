"""`GET /metrics`: the seed's metrics with tenant labels, in Prometheus text (pipelines.core.observability.
metrics). Tenant ids and volumes are the operator's business, so the endpoint wants
`Authorization: Bearer $DISPARO_AGENDA_METRICS_TOKEN` and is off (404) while that variable is unset."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api_lite.deps import ConnDep
from api_lite.problems import PROBLEM
from pipelines.core.common.errors import AuthError, NotFoundError
from pipelines.core.common.settings import Settings
from pipelines.core.observability.metrics import CONTENT_TYPE, exposition

router = APIRouter(tags=["metrics"])


def _check_token(request: Request) -> None:
    expected = Settings.from_env().metrics_token
    if not expected:
        raise NotFoundError("métricas desativadas: defina DISPARO_AGENDA_METRICS_TOKEN para ligar /metrics")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise AuthError(
            "token de métricas ausente ou inválido; use 'Authorization: Bearer <token de métricas>'"
        )


@router.get(
    "/metrics",
    summary="Métricas no formato do Prometheus (token de métricas)",
    response_class=Response,
    dependencies=[Depends(_check_token)],  # before a pooled connection is taken
    responses={
        200: {"content": {"text/plain": {}}, "description": "exposição de texto do Prometheus"},
        401: {"content": {PROBLEM: {}}, "description": "token de métricas ausente ou inválido"},
        404: {
            "content": {PROBLEM: {}},
            "description": "métricas desativadas (sem DISPARO_AGENDA_METRICS_TOKEN)",
        },
    },
)
def metrics(conn: ConnDep) -> Response:
    return Response(exposition(conn), media_type=CONTENT_TYPE)
