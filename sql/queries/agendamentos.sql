-- Agendamentos (pipelines/core/agenda/agendamentos.py). Every statement is scoped to one tenant (%(t)s).
-- The columns of an agendamento document are listed in each statement that returns one.

-- name: agendamento_get
SELECT a.agendamento_id, a.lead_id, a.tipo, a.canal, a.data_agendada, a.data_criacao, a.status,
       a.observacoes, a.responsavel, a.lembrete_minutos, a.lembrete_lead, a.realizado_em, a.cancelado_em,
       a.motivo_cancelamento, a.calendar_event_id, a.calendar_status, a.calendar_erro, a.versao, a.updated_at
FROM agendamentos a WHERE a.tenant_id = %(t)s AND a.agendamento_id = %(a)s;

-- name: agendamento_lembretes
SELECT destinatario, versao, canal, destino, status, data_agendado, disponivel_em, tentativas,
       message_id, mensagem_erro, data_envio, idempotency_key
FROM agendamento_lembretes WHERE tenant_id = %(t)s AND agendamento_id = %(a)s
ORDER BY versao, destinatario;

-- A page of the tenant's agendamentos. {where}: a.tenant_id = %(t)s and the optional filters.
-- name: agendamentos_count
SELECT count(*) AS n FROM agendamentos a WHERE {where};

-- name: agendamentos_page
SELECT a.agendamento_id, a.lead_id, a.tipo, a.canal, a.data_agendada, a.data_criacao, a.status,
       a.observacoes, a.responsavel, a.lembrete_minutos, a.lembrete_lead, a.realizado_em, a.cancelado_em,
       a.motivo_cancelamento, a.calendar_event_id, a.calendar_status, a.calendar_erro, a.versao, a.updated_at
FROM agendamentos a WHERE {where}
ORDER BY a.data_agendada, a.agendamento_id LIMIT %(limit)s OFFSET %(offset)s;

-- Another pending agendamento of the same responsável within one slot of %(w)s.
-- name: sobreposicao
SELECT agendamento_id, data_agendada FROM agendamentos
WHERE tenant_id = %(t)s AND responsavel = %(r)s AND status = 'pendente'
  AND agendamento_id IS DISTINCT FROM %(x)s
  AND data_agendada > %(w)s - make_interval(mins => %(s)s)
  AND data_agendada < %(w)s + make_interval(mins => %(s)s)
ORDER BY data_agendada LIMIT 1;

-- name: outbox_insert
INSERT INTO eventos_outbox (tenant_id, tipo, entidade_id, payload) VALUES (%(t)s, %(tipo)s, %(a)s, %(payload)s);

-- The status the lead had before its first pending agendamento (it is 'agendado' now).
-- name: lead_status_anterior
SELECT lead_status_anterior FROM agendamentos
WHERE tenant_id = %(t)s AND lead_id = %(l)s AND status = 'pendente' AND lead_status_anterior IS NOT NULL
ORDER BY data_criacao LIMIT 1;

-- name: agendamento_insert
INSERT INTO agendamentos AS a (tenant_id, lead_id, tipo, canal, data_agendada, observacoes, responsavel,
                               lembrete_minutos, lembrete_lead, lead_status_anterior,
                               calendar_status, calendar_proxima_em)
VALUES (%(t)s, %(l)s, %(tipo)s, %(canal)s, %(w)s, %(obs)s, %(resp)s, %(m)s, %(lembrete_lead)s, %(anterior)s,
        'pendente', now())
RETURNING a.agendamento_id, a.lead_id, a.tipo, a.canal, a.data_agendada, a.data_criacao, a.status,
          a.observacoes, a.responsavel, a.lembrete_minutos, a.lembrete_lead, a.realizado_em, a.cancelado_em,
          a.motivo_cancelamento, a.calendar_event_id, a.calendar_status, a.calendar_erro, a.versao, a.updated_at;

-- name: lead_agendado
UPDATE leads SET status = CASE WHEN status = ANY(%(movable)s) THEN 'agendado' ELSE status END,
                 data_ultimo_evento = now()
WHERE tenant_id = %(t)s AND lead_id = %(l)s;

-- name: agendamento_lock
SELECT agendamento_id, lead_id, status, versao, responsavel, data_agendada FROM agendamentos
WHERE tenant_id = %(t)s AND agendamento_id = %(a)s
FOR UPDATE;

-- Back to the status before 'agendado' once no pending agendamento is left; 'novo' that got disparos
-- meanwhile (a campaign skips 'agendado' leads) comes back as 'em_disparo'.
-- name: lead_liberar
UPDATE leads SET data_ultimo_evento = now(),
    status = CASE WHEN %(prev)s = 'novo' AND EXISTS (SELECT 1 FROM disparos d
                      WHERE d.tenant_id = %(t)s AND d.lead_id = %(l)s) THEN 'em_disparo'
                  ELSE %(prev)s END
WHERE tenant_id = %(t)s AND lead_id = %(l)s AND status = 'agendado'
  AND NOT EXISTS (SELECT 1 FROM agendamentos
                  WHERE tenant_id = %(t)s AND lead_id = %(l)s AND status = 'pendente');

-- name: agendamento_realizado
UPDATE agendamentos a SET status = 'realizado', realizado_em = now(), updated_at = now()
WHERE a.tenant_id = %(t)s AND a.agendamento_id = %(a)s
RETURNING a.agendamento_id, a.lead_id, a.tipo, a.canal, a.data_agendada, a.data_criacao, a.status,
          a.observacoes, a.responsavel, a.lembrete_minutos, a.lembrete_lead, a.realizado_em, a.cancelado_em,
          a.motivo_cancelamento, a.calendar_event_id, a.calendar_status, a.calendar_erro, a.versao, a.updated_at,
          a.lead_status_anterior;

-- The calendar event is deleted by the next calendar sync.
-- name: agendamento_cancelado
UPDATE agendamentos a SET status = 'cancelado', cancelado_em = now(), motivo_cancelamento = %(motivo)s,
    calendar_status = 'pendente', calendar_tentativas = 0, calendar_proxima_em = now(), calendar_erro = NULL,
    updated_at = now()
WHERE a.tenant_id = %(t)s AND a.agendamento_id = %(a)s
RETURNING a.agendamento_id, a.lead_id, a.tipo, a.canal, a.data_agendada, a.data_criacao, a.status,
          a.observacoes, a.responsavel, a.lembrete_minutos, a.lembrete_lead, a.realizado_em, a.cancelado_em,
          a.motivo_cancelamento, a.calendar_event_id, a.calendar_status, a.calendar_erro, a.versao, a.updated_at,
          a.lead_status_anterior;

-- New time, versao + 1 (reminders of the old versao are never sent: versao is in their idempotency key).
-- name: agendamento_reagendar
UPDATE agendamentos a SET data_agendada = %(w)s, versao = versao + 1,
    lembrete_minutos = coalesce(%(m)s, lembrete_minutos),
    calendar_status = 'pendente', calendar_tentativas = 0, calendar_proxima_em = now(),
    calendar_erro = NULL, updated_at = now()
WHERE a.tenant_id = %(t)s AND a.agendamento_id = %(a)s
RETURNING a.agendamento_id, a.lead_id, a.tipo, a.canal, a.data_agendada, a.data_criacao, a.status,
          a.observacoes, a.responsavel, a.lembrete_minutos, a.lembrete_lead, a.realizado_em, a.cancelado_em,
          a.motivo_cancelamento, a.calendar_event_id, a.calendar_status, a.calendar_erro, a.versao, a.updated_at;
