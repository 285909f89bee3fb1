-- The whole schema the migrations (sql/NNNN_desc.sql) build, for reading and review: generated, never edited.
-- Regenerate after adding a migration: `make schema` (disparo-agenda db schema -o sql/schema.sql).
-- tests/integration/test_schema.py fails when this file and the migrations disagree.
-- Databases are created and upgraded by `disparo-agenda db migrate`, never from this file.
--
-- PostgreSQL database dump
--


SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: fk_conjunto_chave_fixa(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.fk_conjunto_chave_fixa() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
-- Keys covered by set-based foreign keys (a parent's key, a child's reference) never change.
BEGIN
    RAISE EXCEPTION 'column(s) % of table "%" cannot change (set-based foreign key "%")', TG_ARGV[0], TG_TABLE_NAME, TG_NAME
        USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_NAME, TABLE = TG_TABLE_NAME;
END
$$;


--
-- Name: fk_conjunto_criar(text, text, text, text, text, text, boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.fk_conjunto_criar(name text, child text, ccols text, parent text, pcols text, action text, child_update boolean) RETURNS void
    LANGUAGE plpgsql
    AS $_$
DECLARE
    cols text := (SELECT string_agg(format('%I', c), ', ') FROM unnest(string_to_array(ccols, ',')) c);
    pcl  text := (SELECT string_agg(format('%I', c), ', ') FROM unnest(string_to_array(pcols, ',')) c);
    cond text;
BEGIN
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS novos FOR EACH STATEMENT '
                   'EXECUTE FUNCTION fk_conjunto_verificar(%L, %L, %L)', name, child, parent, ccols, pcols);
    IF child_update THEN
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING NEW TABLE AS novos FOR EACH STATEMENT '
                       'EXECUTE FUNCTION fk_conjunto_verificar(%L, %L, %L)', name || '_upd', child, parent, ccols, pcols);
    ELSE
        SELECT string_agg(format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', c), ' OR ')
          INTO cond FROM unnest(string_to_array(ccols, ',')) c;
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OF %s ON %I FOR EACH ROW WHEN (%s) '
                       'EXECUTE FUNCTION fk_conjunto_chave_fixa(%L)', name || '_fixa', cols, child, cond, ccols);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = parent::regclass AND tgname = parent || '_chave_fixa') THEN
        SELECT string_agg(format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', c), ' OR ')
          INTO cond FROM unnest(string_to_array(pcols, ',')) c;
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OF %s ON %I FOR EACH ROW WHEN (%s) '
                       'EXECUTE FUNCTION fk_conjunto_chave_fixa(%L)', parent || '_chave_fixa', pcl, parent, cond, pcols);
    END IF;
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS velhos FOR EACH STATEMENT '
                   'EXECUTE FUNCTION fk_conjunto_pai_excluido(%L, %L, %L, %L)', name || '_pai', parent, child,
                   ccols, pcols, action);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I FOR EACH STATEMENT '
                   'EXECUTE FUNCTION fk_conjunto_pai_truncado(%L)', name || '_pai_truncate', parent, child);
END
$_$;


--
-- Name: fk_conjunto_pai_excluido(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.fk_conjunto_pai_excluido() RETURNS trigger
    LANGUAGE plpgsql
    SET enable_material TO 'off'
    AS $$
-- Parent side of one key. TG_ARGV: child table, child columns, parent columns, action
-- (cascade | set_null | no_action).
DECLARE
    child   text := TG_ARGV[0];
    ccols   text[] := string_to_array(TG_ARGV[1], ',');
    pcols   text[] := string_to_array(TG_ARGV[2], ',');
    action  text := TG_ARGV[3];
    join_cond   text;
    pkeys   text;
    shown   text;
    still_ref   text;
    part    text;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'delete on table "%" requires READ COMMITTED (set-based foreign key "%")', TG_TABLE_NAME, TG_NAME
            USING ERRCODE = 'feature_not_supported';
    END IF;
    FOR part IN EXECUTE format('SELECT v::text FROM (SELECT DISTINCT %I AS v FROM velhos) d ORDER BY 1', pcols[1]) LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended('fk:' || TG_TABLE_NAME || ':' || part, 0));
    END LOOP;
    SELECT string_agg(format('c.%I = v.%I', cc, pc), ' AND '), string_agg(format('%I', pc), ', '),
           string_agg(format('c.%I::text', cc), ', ')
      INTO join_cond, pkeys, shown FROM unnest(ccols, pcols) u(cc, pc);
    IF action = 'cascade' THEN
        EXECUTE format('DELETE FROM %I c USING (SELECT DISTINCT %s FROM velhos) v WHERE %s', child, pkeys, join_cond);
    ELSIF action = 'set_null' THEN
        EXECUTE format('UPDATE %I c SET %s FROM (SELECT DISTINCT %s FROM velhos) v WHERE %s', child,
                       (SELECT string_agg(format('%I = NULL', cc), ', ') FROM unnest(ccols) cc), pkeys, join_cond);
    ELSE
        EXECUTE format('SELECT concat_ws('', '', %s) FROM %I c JOIN (SELECT DISTINCT %s FROM velhos) v ON %s LIMIT 1',
                       shown, child, pkeys, join_cond) INTO still_ref;
        IF still_ref IS NOT NULL THEN
            RAISE EXCEPTION 'update or delete on table "%" violates foreign key constraint "%" on table "%"',
                  TG_TABLE_NAME, TG_NAME, child
                USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_NAME, TABLE = child,
                      DETAIL = format('Key (%s)=(%s) is still referenced from table "%s".',
                                      TG_ARGV[2], still_ref, child);
        END IF;
    END IF;
    RETURN NULL;
END
$$;


--
-- Name: fk_conjunto_pai_truncado(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.fk_conjunto_pai_truncado() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
-- A parent emptied by TRUNCATE while the child still has rows (TRUNCATE both together is fine).
DECLARE
    child text := TG_ARGV[0];
    any_row boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', child) INTO any_row;
    IF any_row THEN
        RAISE EXCEPTION 'cannot truncate table "%" referenced by set-based foreign key "%" of table "%"',
              TG_TABLE_NAME, TG_NAME, child
            USING ERRCODE = 'feature_not_supported', HINT = format('Truncate table "%s" at the same time.', child);
    END IF;
    RETURN NULL;
END
$$;


--
-- Name: fk_conjunto_verificar(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.fk_conjunto_verificar() RETURNS trigger
    LANGUAGE plpgsql
    SET enable_material TO 'off'
    AS $$
-- Child side. TG_ARGV: parent table, child columns, parent columns (comma-separated, same order).
DECLARE
    parent   text := TG_ARGV[0];
    ccols    text[] := string_to_array(TG_ARGV[1], ',');
    pcols    text[] := string_to_array(TG_ARGV[2], ',');
    keys     text;
    nn_cond  text;
    join_cond    text;
    shown    text;
    missing  text;
    part     text;
    parts    text[];
    n_keys   bigint;
    n_locked bigint;
    find_missing text;
BEGIN
    SELECT string_agg(format('%I', c), ', '), string_agg(format('%I IS NOT NULL', c), ' AND '),
           string_agg(format('k.%I::text', c), ', ')
      INTO keys, nn_cond, shown FROM unnest(ccols) c;
    SELECT string_agg(format('p.%I = k.%I', pc, cc), ' AND ')
      INTO join_cond FROM unnest(pcols, ccols) u(pc, cc);
    -- No DISTINCT: the planner then sizes the probe side by the statement's row count and picks a hash
    -- anti-join for a bulk statement (one pass over the parent) or index probes for a few rows.
    find_missing := format(
        'SELECT concat_ws('', '', %s) FROM novos k WHERE %s AND NOT EXISTS (SELECT 1 FROM %I p WHERE %s) LIMIT 1',
        shown, nn_cond, parent, join_cond);
    IF current_setting('transaction_isolation') = 'read committed' THEN
        EXECUTE format('SELECT array_agg(v::text ORDER BY v::text) FROM (SELECT DISTINCT %I AS v FROM novos) d '
                       'WHERE v IS NOT NULL', ccols[1]) INTO parts;
        FOREACH part IN ARRAY coalesce(parts, '{}') LOOP
            PERFORM pg_advisory_xact_lock_shared(hashtextextended('fk:' || parent || ':' || part, 0));
        END LOOP;
        IF array_length(ccols, 1) = 1 THEN
            -- A one-column key: its distinct values are already at hand (one scan of the statement's rows).
            EXECUTE format('SELECT v FROM unnest(%L::text[]) v WHERE NOT EXISTS (SELECT 1 FROM %I p WHERE p.%I = v::%s) LIMIT 1',
                           parts, parent, pcols[1],
                           (SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                             WHERE attrelid = parent::regclass AND attname = pcols[1])) INTO missing;
        ELSE
            EXECUTE find_missing INTO missing;
        END IF;
    ELSE
        -- Parent keys are unique, so every key was found iff as many parent rows got locked.
        EXECUTE format(
            'SELECT (SELECT count(*) FROM (SELECT DISTINCT %s FROM novos WHERE %s) k), '
            '(SELECT count(*) FROM (SELECT 1 FROM %I p WHERE EXISTS ('
            'SELECT 1 FROM (SELECT DISTINCT %s FROM novos WHERE %s) k WHERE %s) FOR KEY SHARE OF p) l)',
            keys, nn_cond, parent, keys, nn_cond, join_cond) INTO n_keys, n_locked;
        IF n_locked < n_keys THEN
            EXECUTE find_missing INTO missing;
        END IF;
    END IF;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'insert or update on table "%" violates foreign key constraint "%"', TG_TABLE_NAME, TG_NAME
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_NAME, TABLE = TG_TABLE_NAME,
                  DETAIL = format('Key (%s)=(%s) is not present in table "%s".',
                                  array_to_string(ccols, ', '), missing, parent);
    END IF;
    RETURN NULL;
END
$$;


--
-- Name: ingest_jobs_evento_concluido(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ingest_jobs_evento_concluido() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO eventos_outbox (tenant_id, tipo, entidade_id, payload)
    SELECT n.tenant_id, 'disparo-agenda.ingest.job_completed', n.job_id,
           jsonb_build_object('job_id', n.job_id, 'status', n.status, 'arquivo_origem', n.arquivo_origem,
                              'origem', n.origem, 'linhas_total', n.linhas_total,
                              'linhas_rejeitadas', n.linhas_rejeitadas, 'leads_criados', n.leads_criados,
                              'leads_atualizados', n.leads_atualizados, 'mensagem_erro', n.mensagem_erro,
                              'concluido_em', n.concluido_em)
    FROM novos n JOIN antigos o ON o.job_id = n.job_id
    WHERE n.status IN ('concluido', 'erro') AND o.status IS DISTINCT FROM n.status;
    RETURN NULL;
END
$$;


--
-- Name: ingest_jobs_evento_criado(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.ingest_jobs_evento_criado() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO eventos_outbox (tenant_id, tipo, entidade_id, payload)
    SELECT n.tenant_id, 'disparo-agenda.ingest.job_created', n.job_id,
           jsonb_build_object('job_id', n.job_id, 'arquivo_origem', n.arquivo_origem, 'origem', n.origem,
                              'aba', n.aba, 'arquivo_sha256', n.arquivo_sha256)
    FROM novos n ORDER BY n.created_at, n.job_id;
    RETURN NULL;
END
$$;


--
-- Name: notificar_envio_disparos(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.notificar_envio_disparos() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('disparo_agenda_envio', 'disparos:' || c.canal)
    FROM (SELECT DISTINCT canal FROM novos WHERE status = 'pendente') c;
    RETURN NULL;
END $$;


--
-- Name: notificar_envio_lembretes(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.notificar_envio_lembretes() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM novos WHERE status = 'pendente') THEN
        PERFORM pg_notify('disparo_agenda_envio', 'lembretes');
    END IF;
    RETURN NULL;
END $$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: agendamento_lembretes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.agendamento_lembretes (
    lembrete_id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    agendamento_id uuid NOT NULL,
    destinatario text NOT NULL,
    versao integer NOT NULL,
    canal text,
    destino text,
    status text DEFAULT 'pendente'::text NOT NULL,
    data_agendado timestamp with time zone NOT NULL,
    disponivel_em timestamp with time zone NOT NULL,
    idempotency_key text NOT NULL,
    tentativas integer DEFAULT 0 NOT NULL,
    max_tentativas integer DEFAULT 3 NOT NULL,
    lease_ate timestamp with time zone,
    lease_owner text,
    message_id text,
    mensagem_erro text,
    data_envio timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT agendamento_lembretes_canal_check CHECK ((canal = ANY (ARRAY['whatsapp'::text, 'email'::text]))),
    CONSTRAINT agendamento_lembretes_check CHECK (((status = ANY (ARRAY['bloqueado'::text, 'cancelado'::text, 'expirado'::text])) OR ((canal IS NOT NULL) AND (destino IS NOT NULL)))),
    CONSTRAINT agendamento_lembretes_destinatario_check CHECK ((destinatario = ANY (ARRAY['responsavel'::text, 'lead'::text]))),
    CONSTRAINT agendamento_lembretes_max_tentativas_check CHECK ((max_tentativas >= 1)),
    CONSTRAINT agendamento_lembretes_status_check CHECK ((status = ANY (ARRAY['pendente'::text, 'enviando'::text, 'enviado'::text, 'erro'::text, 'cancelado'::text, 'expirado'::text, 'bloqueado'::text]))),
    CONSTRAINT agendamento_lembretes_tentativas_check CHECK ((tentativas >= 0))
);


--
-- Name: agendamentos; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.agendamentos (
    agendamento_id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    tipo text NOT NULL,
    canal text NOT NULL,
    data_agendada timestamp with time zone NOT NULL,
    data_criacao timestamp with time zone DEFAULT now() NOT NULL,
    status text DEFAULT 'pendente'::text NOT NULL,
    observacoes text,
    responsavel text,
    lembrete_minutos integer,
    lembrete_lead boolean DEFAULT false NOT NULL,
    realizado_em timestamp with time zone,
    cancelado_em timestamp with time zone,
    motivo_cancelamento text,
    calendar_event_id text,
    versao integer DEFAULT 1 NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    lead_status_anterior text,
    calendar_status text,
    calendar_versao integer,
    calendar_erro text,
    calendar_tentativas integer DEFAULT 0 NOT NULL,
    calendar_proxima_em timestamp with time zone,
    calendar_lease_ate timestamp with time zone,
    CONSTRAINT agendamentos_calendar_status_check CHECK ((calendar_status = ANY (ARRAY['pendente'::text, 'sincronizado'::text, 'erro'::text]))),
    CONSTRAINT agendamentos_calendar_tentativas_check CHECK ((calendar_tentativas >= 0)),
    CONSTRAINT agendamentos_canal_check CHECK ((canal = ANY (ARRAY['telefone'::text, 'whatsapp'::text, 'video'::text]))),
    CONSTRAINT agendamentos_check CHECK (((status <> 'realizado'::text) OR (realizado_em IS NOT NULL))),
    CONSTRAINT agendamentos_check1 CHECK (((status <> 'cancelado'::text) OR ((cancelado_em IS NOT NULL) AND (motivo_cancelamento IS NOT NULL)))),
    CONSTRAINT agendamentos_lead_status_anterior_check CHECK ((lead_status_anterior = ANY (ARRAY['novo'::text, 'em_disparo'::text, 'agendado'::text, 'convertido'::text, 'descartado'::text]))),
    CONSTRAINT agendamentos_lembrete_minutos_check CHECK ((lembrete_minutos >= 0)),
    CONSTRAINT agendamentos_status_check CHECK ((status = ANY (ARRAY['pendente'::text, 'realizado'::text, 'cancelado'::text]))),
    CONSTRAINT agendamentos_tipo_check CHECK ((tipo = ANY (ARRAY['callback'::text, 'reuniao'::text])))
);


--
-- Name: alarmes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.alarmes (
    id bigint NOT NULL,
    tenant_id uuid NOT NULL,
    alarme text NOT NULL,
    canal text DEFAULT ''::text NOT NULL,
    aberto_em timestamp with time zone DEFAULT now() NOT NULL,
    fechado_em timestamp with time zone,
    detalhes jsonb DEFAULT '{}'::jsonb NOT NULL,
    detalhes_fim jsonb,
    notificado_em timestamp with time zone,
    notificado_fim_em timestamp with time zone,
    ultimo_erro text,
    CONSTRAINT alarmes_alarme_check CHECK ((alarme = ANY (ARRAY['DisparoHighFailureRate'::text, 'IngestJobFailed'::text])))
);


--
-- Name: alarmes_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.alarmes_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: alarmes_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.alarmes_id_seq OWNED BY public.alarmes.id;


--
-- Name: api_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.api_keys (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    prefixo text NOT NULL,
    hash text NOT NULL,
    nome text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    revogada_em timestamp with time zone,
    ultimo_uso_em timestamp with time zone
);


--
-- Name: campanhas; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.campanhas (
    campanha_id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    nome text NOT NULL,
    canal text NOT NULL,
    template text NOT NULL,
    filtro jsonb DEFAULT '{}'::jsonb NOT NULL,
    variaveis jsonb DEFAULT '{}'::jsonb NOT NULL,
    inicio timestamp with time zone NOT NULL,
    espalhar_minutos integer,
    taxa_por_minuto integer,
    status text DEFAULT 'ativa'::text NOT NULL,
    total_disparos integer DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT campanhas_canal_check CHECK ((canal = ANY (ARRAY['whatsapp'::text, 'email'::text]))),
    CONSTRAINT campanhas_espalhar_minutos_check CHECK ((espalhar_minutos >= 0)),
    CONSTRAINT campanhas_status_check CHECK ((status = ANY (ARRAY['ativa'::text, 'cancelada'::text, 'concluida'::text]))),
    CONSTRAINT campanhas_taxa_por_minuto_check CHECK ((taxa_por_minuto > 0))
);


--
-- Name: disparos; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.disparos (
    disparo_id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    campanha_id uuid,
    canal text NOT NULL,
    telefone_id uuid,
    email_id uuid,
    destino text NOT NULL,
    template text NOT NULL,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    status text DEFAULT 'pendente'::text NOT NULL,
    mensagem_erro text,
    message_id text,
    data_agendado timestamp with time zone DEFAULT now() NOT NULL,
    data_envio timestamp with time zone,
    data_retorno timestamp with time zone,
    tentativas integer DEFAULT 0 NOT NULL,
    max_tentativas integer DEFAULT 3 NOT NULL,
    lease_ate timestamp with time zone,
    lease_owner text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    reenvios_dlq integer DEFAULT 0 NOT NULL,
    CONSTRAINT disparos_canal_check CHECK ((canal = ANY (ARRAY['whatsapp'::text, 'email'::text]))),
    CONSTRAINT disparos_check CHECK (((canal <> 'whatsapp'::text) OR (email_id IS NULL))),
    CONSTRAINT disparos_check1 CHECK (((canal <> 'email'::text) OR (telefone_id IS NULL))),
    CONSTRAINT disparos_max_tentativas_check CHECK ((max_tentativas >= 1)),
    CONSTRAINT disparos_status_check CHECK ((status = ANY (ARRAY['pendente'::text, 'enviando'::text, 'enviado'::text, 'confirmado'::text, 'erro'::text, 'cancelado'::text, 'bloqueado'::text]))),
    CONSTRAINT disparos_tentativas_check CHECK ((tentativas >= 0))
);


--
-- Name: disparos_dlq; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.disparos_dlq (
    id bigint NOT NULL,
    tenant_id uuid NOT NULL,
    disparo_id uuid NOT NULL,
    canal text NOT NULL,
    payload jsonb NOT NULL,
    ultimo_erro text,
    tentativas integer NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    redrive_em timestamp with time zone
);


--
-- Name: disparos_dlq_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.disparos_dlq_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: disparos_dlq_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.disparos_dlq_id_seq OWNED BY public.disparos_dlq.id;


--
-- Name: envio_rate_buckets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.envio_rate_buckets (
    tenant_id uuid NOT NULL,
    canal text NOT NULL,
    tokens double precision NOT NULL,
    atualizado_em timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    CONSTRAINT envio_rate_buckets_canal_check CHECK ((canal = ANY (ARRAY['whatsapp'::text, 'email'::text])))
);


--
-- Name: envio_workers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.envio_workers (
    worker_id text NOT NULL,
    papel text NOT NULL,
    canais text[] NOT NULL,
    lembretes boolean NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    iniciado_em timestamp with time zone DEFAULT now() NOT NULL,
    heartbeat_em timestamp with time zone DEFAULT now() NOT NULL,
    termina_em timestamp with time zone
);


--
-- Name: eventos_outbox; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.eventos_outbox (
    id bigint NOT NULL,
    tenant_id uuid NOT NULL,
    tipo text NOT NULL,
    entidade_id uuid NOT NULL,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    publicado_em timestamp with time zone,
    tentativas integer DEFAULT 0 NOT NULL,
    proxima_tentativa_em timestamp with time zone,
    ultimo_erro text
);


--
-- Name: eventos_outbox_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.eventos_outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: eventos_outbox_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.eventos_outbox_id_seq OWNED BY public.eventos_outbox.id;


--
-- Name: idempotency_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.idempotency_keys (
    tenant_id uuid NOT NULL,
    chave text NOT NULL,
    body_sha256 text NOT NULL,
    status_code integer,
    resposta jsonb,
    disparo_id uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT idempotency_keys_chave_check CHECK (((length(chave) >= 1) AND (length(chave) <= 255)))
);


--
-- Name: ingest_jobs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.ingest_jobs (
    job_id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    arquivo_origem text NOT NULL,
    arquivo_path text,
    arquivo_sha256 text,
    aba text DEFAULT 'Leads'::text NOT NULL,
    origem text DEFAULT 'cli'::text NOT NULL,
    status text DEFAULT 'pendente'::text NOT NULL,
    linhas_total integer,
    linhas_processadas integer DEFAULT 0 NOT NULL,
    linhas_rejeitadas integer DEFAULT 0 NOT NULL,
    leads_criados integer DEFAULT 0 NOT NULL,
    leads_atualizados integer DEFAULT 0 NOT NULL,
    telefones_criados integer DEFAULT 0 NOT NULL,
    emails_criados integer DEFAULT 0 NOT NULL,
    avisos jsonb DEFAULT '{}'::jsonb NOT NULL,
    erros jsonb DEFAULT '[]'::jsonb NOT NULL,
    mensagem_erro text,
    iniciado_em timestamp with time zone,
    concluido_em timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    execucao_id uuid,
    tentativas integer DEFAULT 0 NOT NULL,
    CONSTRAINT ingest_jobs_origem_check CHECK ((origem = ANY (ARRAY['cli'::text, 'api'::text, 'inbox'::text, 'dagster'::text]))),
    CONSTRAINT ingest_jobs_status_check CHECK ((status = ANY (ARRAY['pendente'::text, 'processando'::text, 'concluido'::text, 'erro'::text])))
);


--
-- Name: ingest_rejeicoes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.ingest_rejeicoes (
    id bigint NOT NULL,
    tenant_id uuid NOT NULL,
    job_id uuid NOT NULL,
    linha integer NOT NULL,
    coluna text,
    motivo text NOT NULL,
    valores jsonb
);


--
-- Name: ingest_rejeicoes_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.ingest_rejeicoes_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: ingest_rejeicoes_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.ingest_rejeicoes_id_seq OWNED BY public.ingest_rejeicoes.id;


--
-- Name: lead_emails; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lead_emails (
    email_id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    email text NOT NULL,
    email_principal boolean DEFAULT false NOT NULL,
    valido_para_disparo boolean DEFAULT true NOT NULL,
    data_criacao timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT lead_emails_email_check CHECK (((email = lower(email)) AND (POSITION(('@'::text) IN (email)) > 1)))
);


--
-- Name: lead_telefones; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lead_telefones (
    telefone_id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    telefone text NOT NULL,
    telefone_principal boolean DEFAULT false NOT NULL,
    tipo_origem text DEFAULT 'nao_classificado'::text NOT NULL,
    valido_para_disparo boolean DEFAULT true NOT NULL,
    data_criacao timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT lead_telefones_telefone_check CHECK (((octet_length(telefone) = ANY (ARRAY[13, 14])) AND ("left"(telefone, 3) = '+55'::text) AND (POSITION((substr(telefone, 4, 1)) IN ('123456789'::text)) > 0) AND (ltrim(substr(telefone, 5), '0123456789'::text) = ''::text))),
    CONSTRAINT lead_telefones_tipo_origem_check CHECK ((tipo_origem = ANY (ARRAY['celular'::text, 'fixo'::text, 'nao_classificado'::text])))
);


--
-- Name: leads; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.leads (
    lead_id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    lead_id_externo text NOT NULL COLLATE pg_catalog."C",
    origem_arquivo text NOT NULL,
    origem_aba text NOT NULL,
    linha_planilha integer NOT NULL,
    ingest_job_id uuid,
    nome text NOT NULL,
    contato_nome text,
    documento text,
    documento_tipo text,
    email_raw text,
    telefone_raw text,
    status text DEFAULT 'novo'::text NOT NULL,
    tags jsonb DEFAULT '[]'::jsonb NOT NULL,
    data_ingestao timestamp with time zone DEFAULT now() NOT NULL,
    data_ultimo_evento timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT leads_check CHECK (((documento IS NULL) = (documento_tipo IS NULL))),
    CONSTRAINT leads_documento_tipo_check CHECK ((documento_tipo = ANY (ARRAY['cpf'::text, 'cnpj'::text, 'invalido'::text]))),
    CONSTRAINT leads_status_check CHECK ((status = ANY (ARRAY['novo'::text, 'em_disparo'::text, 'agendado'::text, 'convertido'::text, 'descartado'::text])))
)
WITH (fillfactor='50');


--
-- Name: optouts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.optouts (
    tenant_id uuid NOT NULL,
    canal text NOT NULL,
    destino text NOT NULL,
    motivo text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT optouts_canal_check CHECK ((canal = ANY (ARRAY['whatsapp'::text, 'email'::text])))
);


--
-- Name: telefones_whatsapp; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.telefones_whatsapp WITH (security_invoker='true') AS
 SELECT telefone_id,
    tenant_id,
    lead_id,
    telefone,
    telefone_principal,
    tipo_origem,
    data_criacao
   FROM public.lead_telefones
  WHERE (valido_para_disparo AND ((tipo_origem = 'celular'::text) OR ((tipo_origem = 'nao_classificado'::text) AND (length(telefone) = 14) AND (substr(telefone, 6, 1) = '9'::text))));


--
-- Name: VIEW telefones_whatsapp; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON VIEW public.telefones_whatsapp IS 'Telefones que podem receber WhatsApp: válidos para disparo e celulares (ver sql/0016_telefones_whatsapp.sql).';


--
-- Name: templates; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.templates (
    template_id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    nome text NOT NULL,
    canal text NOT NULL,
    corpo text NOT NULL,
    assunto text,
    whatsapp_template_id text,
    variaveis text[] DEFAULT '{}'::text[] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    html text,
    CONSTRAINT templates_canal_check CHECK ((canal = ANY (ARRAY['whatsapp'::text, 'email'::text]))),
    CONSTRAINT templates_html_email_check CHECK (((html IS NULL) OR (canal = 'email'::text))),
    CONSTRAINT templates_nome_check CHECK (((length(nome) >= 1) AND (length(nome) <= 100)))
);


--
-- Name: tenants; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.tenants (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    slug text NOT NULL,
    nome text NOT NULL,
    timezone text DEFAULT 'America/Sao_Paulo'::text NOT NULL,
    janela_envio jsonb,
    rate_limit_whatsapp numeric(10,3) DEFAULT 80 NOT NULL,
    rate_limit_email numeric(10,3) DEFAULT 50 NOT NULL,
    lembrete_minutos_padrao integer DEFAULT 30 NOT NULL,
    equipe_canal text,
    equipe_destino text,
    webhook_secret text,
    ativo boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    agendamento_slot_minutos integer,
    webhook_secret_cifrado text,
    ics_feed_versao integer DEFAULT 0 NOT NULL,
    webhook_url text,
    retencao_dias integer DEFAULT 90 NOT NULL,
    CONSTRAINT tenants_agendamento_slot_minutos_check CHECK (((agendamento_slot_minutos > 0) AND (agendamento_slot_minutos <= 1440))),
    CONSTRAINT tenants_equipe_canal_check CHECK ((equipe_canal = ANY (ARRAY['email'::text, 'whatsapp'::text]))),
    CONSTRAINT tenants_ics_feed_versao_check CHECK ((ics_feed_versao >= 0)),
    CONSTRAINT tenants_lembrete_minutos_padrao_check CHECK ((lembrete_minutos_padrao >= 0)),
    CONSTRAINT tenants_rate_limit_email_check CHECK ((rate_limit_email > (0)::numeric)),
    CONSTRAINT tenants_rate_limit_whatsapp_check CHECK ((rate_limit_whatsapp > (0)::numeric)),
    CONSTRAINT tenants_retencao_dias_check CHECK (((retencao_dias >= 1) AND (retencao_dias <= 3650))),
    CONSTRAINT tenants_slug_check CHECK ((slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'::text)),
    CONSTRAINT tenants_webhook_url_check CHECK (((webhook_url IS NULL) OR (webhook_url ~ '^https?://[^[:space:]]+$'::text)))
);


--
-- Name: COLUMN tenants.webhook_secret; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.tenants.webhook_secret IS 'legacy plaintext webhook secret: sealed into webhook_secret_cifrado and cleared by db migrate';


--
-- Name: webhook_recibos_vistos; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_recibos_vistos (
    tenant_id uuid NOT NULL,
    assinatura text NOT NULL,
    message_id text NOT NULL,
    expira_em timestamp with time zone NOT NULL
);


--
-- Name: alarmes id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alarmes ALTER COLUMN id SET DEFAULT nextval('public.alarmes_id_seq'::regclass);


--
-- Name: disparos_dlq id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.disparos_dlq ALTER COLUMN id SET DEFAULT nextval('public.disparos_dlq_id_seq'::regclass);


--
-- Name: eventos_outbox id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.eventos_outbox ALTER COLUMN id SET DEFAULT nextval('public.eventos_outbox_id_seq'::regclass);


--
-- Name: ingest_rejeicoes id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ingest_rejeicoes ALTER COLUMN id SET DEFAULT nextval('public.ingest_rejeicoes_id_seq'::regclass);


--
-- Name: agendamento_lembretes agendamento_lembretes_agendamento_id_destinatario_versao_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agendamento_lembretes
    ADD CONSTRAINT agendamento_lembretes_agendamento_id_destinatario_versao_key UNIQUE (agendamento_id, destinatario, versao);


--
-- Name: agendamento_lembretes agendamento_lembretes_idempotency_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agendamento_lembretes
    ADD CONSTRAINT agendamento_lembretes_idempotency_key_key UNIQUE (idempotency_key);


--
-- Name: agendamento_lembretes agendamento_lembretes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agendamento_lembretes
    ADD CONSTRAINT agendamento_lembretes_pkey PRIMARY KEY (lembrete_id);


--
-- Name: agendamentos agendamentos_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agendamentos
    ADD CONSTRAINT agendamentos_pkey PRIMARY KEY (agendamento_id);


--
-- Name: agendamentos agendamentos_tenant_id_agendamento_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agendamentos
    ADD CONSTRAINT agendamentos_tenant_id_agendamento_id_key UNIQUE (tenant_id, agendamento_id);


--
-- Name: alarmes alarmes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alarmes
    ADD CONSTRAINT alarmes_pkey PRIMARY KEY (id);


--
-- Name: api_keys api_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id);


--
-- Name: api_keys api_keys_prefixo_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_prefixo_key UNIQUE (prefixo);


--
-- Name: campanhas campanhas_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campanhas
    ADD CONSTRAINT campanhas_pkey PRIMARY KEY (campanha_id);


--
-- Name: campanhas campanhas_tenant_id_campanha_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campanhas
    ADD CONSTRAINT campanhas_tenant_id_campanha_id_key UNIQUE (tenant_id, campanha_id);


--
-- Name: disparos_dlq disparos_dlq_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.disparos_dlq
    ADD CONSTRAINT disparos_dlq_pkey PRIMARY KEY (id);


--
-- Name: disparos disparos_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.disparos
    ADD CONSTRAINT disparos_pkey PRIMARY KEY (disparo_id);


--
-- Name: envio_rate_buckets envio_rate_buckets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.envio_rate_buckets
    ADD CONSTRAINT envio_rate_buckets_pkey PRIMARY KEY (tenant_id, canal);


--
-- Name: envio_workers envio_workers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.envio_workers
    ADD CONSTRAINT envio_workers_pkey PRIMARY KEY (worker_id);


--
-- Name: eventos_outbox eventos_outbox_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.eventos_outbox
    ADD CONSTRAINT eventos_outbox_pkey PRIMARY KEY (id);


--
-- Name: idempotency_keys idempotency_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.idempotency_keys
    ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (tenant_id, chave);


--
-- Name: ingest_jobs ingest_jobs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ingest_jobs
    ADD CONSTRAINT ingest_jobs_pkey PRIMARY KEY (job_id);


--
-- Name: ingest_jobs ingest_jobs_tenant_id_job_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ingest_jobs
    ADD CONSTRAINT ingest_jobs_tenant_id_job_id_key UNIQUE (tenant_id, job_id);


--
-- Name: ingest_rejeicoes ingest_rejeicoes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ingest_rejeicoes
    ADD CONSTRAINT ingest_rejeicoes_pkey PRIMARY KEY (id);


--
-- Name: lead_emails lead_emails_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_emails
    ADD CONSTRAINT lead_emails_pkey PRIMARY KEY (email_id);


--
-- Name: lead_telefones lead_telefones_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_telefones
    ADD CONSTRAINT lead_telefones_pkey PRIMARY KEY (telefone_id);


--
-- Name: leads leads_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leads
    ADD CONSTRAINT leads_pkey PRIMARY KEY (lead_id);


--
-- Name: optouts optouts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.optouts
    ADD CONSTRAINT optouts_pkey PRIMARY KEY (tenant_id, canal, destino);


--
-- Name: templates templates_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.templates
    ADD CONSTRAINT templates_pkey PRIMARY KEY (template_id);


--
-- Name: templates templates_tenant_id_canal_nome_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.templates
    ADD CONSTRAINT templates_tenant_id_canal_nome_key UNIQUE (tenant_id, canal, nome);


--
-- Name: templates templates_tenant_id_template_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.templates
    ADD CONSTRAINT templates_tenant_id_template_id_key UNIQUE (tenant_id, template_id);


--
-- Name: tenants tenants_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tenants
    ADD CONSTRAINT tenants_pkey PRIMARY KEY (id);


--
-- Name: tenants tenants_slug_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tenants
    ADD CONSTRAINT tenants_slug_key UNIQUE (slug);


--
-- Name: lead_emails uk_lead_email; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_emails
    ADD CONSTRAINT uk_lead_email UNIQUE (lead_id, email);


--
-- Name: lead_telefones uk_lead_telefone; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_telefones
    ADD CONSTRAINT uk_lead_telefone UNIQUE (lead_id, telefone);


--
-- Name: leads uk_tenant_lead_externo; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leads
    ADD CONSTRAINT uk_tenant_lead_externo UNIQUE (tenant_id, lead_id_externo);


--
-- Name: webhook_recibos_vistos webhook_recibos_vistos_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_recibos_vistos
    ADD CONSTRAINT webhook_recibos_vistos_pkey PRIMARY KEY (tenant_id, assinatura);


--
-- Name: idx_agendamentos_calendar; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_agendamentos_calendar ON public.agendamentos USING btree (calendar_proxima_em) WHERE (calendar_status = ANY (ARRAY['pendente'::text, 'erro'::text]));


--
-- Name: idx_agendamentos_criacao_brin; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_agendamentos_criacao_brin ON public.agendamentos USING brin (data_criacao timestamptz_minmax_multi_ops) WITH (pages_per_range='32', autosummarize='on');


--
-- Name: idx_agendamentos_data; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_agendamentos_data ON public.agendamentos USING btree (tenant_id, data_agendada, status);


--
-- Name: idx_agendamentos_due; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_agendamentos_due ON public.agendamentos USING btree (data_agendada) WHERE (status = 'pendente'::text);


--
-- Name: idx_agendamentos_lead; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_agendamentos_lead ON public.agendamentos USING btree (tenant_id, lead_id);


--
-- Name: idx_agendamentos_responsavel; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_agendamentos_responsavel ON public.agendamentos USING btree (tenant_id, responsavel, data_agendada) WHERE ((status = 'pendente'::text) AND (responsavel IS NOT NULL));


--
-- Name: idx_alarmes_aberto; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX idx_alarmes_aberto ON public.alarmes USING btree (tenant_id, alarme, canal) WHERE (fechado_em IS NULL);


--
-- Name: idx_alarmes_tenant; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_alarmes_tenant ON public.alarmes USING btree (tenant_id, aberto_em);


--
-- Name: idx_api_keys_tenant; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_api_keys_tenant ON public.api_keys USING btree (tenant_id);


--
-- Name: idx_disparos_campanha; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_disparos_campanha ON public.disparos USING brin (campanha_id uuid_bloom_ops) WITH (pages_per_range='16', autosummarize='on');


--
-- Name: idx_disparos_claim; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_disparos_claim ON public.disparos USING btree (tenant_id, canal, data_agendado) WHERE (status = 'pendente'::text);


--
-- Name: idx_disparos_created_brin; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_disparos_created_brin ON public.disparos USING brin (created_at timestamptz_minmax_multi_ops) WITH (pages_per_range='32', autosummarize='on');


--
-- Name: idx_disparos_lead; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_disparos_lead ON public.disparos USING btree (tenant_id, lead_id);


--
-- Name: idx_disparos_lease; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_disparos_lease ON public.disparos USING btree (lease_ate) WHERE (status = 'enviando'::text);


--
-- Name: idx_disparos_message; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_disparos_message ON public.disparos USING btree (message_id) WHERE (message_id IS NOT NULL);


--
-- Name: idx_dlq_created_brin; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_dlq_created_brin ON public.disparos_dlq USING brin (created_at timestamptz_minmax_multi_ops) WITH (pages_per_range='32', autosummarize='on');


--
-- Name: idx_dlq_tenant; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_dlq_tenant ON public.disparos_dlq USING btree (tenant_id, created_at) WHERE (redrive_em IS NULL);


--
-- Name: idx_idempotency_created; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_idempotency_created ON public.idempotency_keys USING btree (created_at);


--
-- Name: idx_jobs_pendentes; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_jobs_pendentes ON public.ingest_jobs USING btree (created_at) WHERE (status = 'pendente'::text);


--
-- Name: idx_jobs_processando; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_jobs_processando ON public.ingest_jobs USING btree (updated_at) WHERE (status = 'processando'::text);


--
-- Name: idx_jobs_tenant_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_jobs_tenant_status ON public.ingest_jobs USING btree (tenant_id, status);


--
-- Name: idx_lembretes_agendamento; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_lembretes_agendamento ON public.agendamento_lembretes USING btree (tenant_id, agendamento_id);


--
-- Name: idx_lembretes_due; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_lembretes_due ON public.agendamento_lembretes USING btree (disponivel_em) WHERE (status = 'pendente'::text);


--
-- Name: idx_lembretes_lease; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_lembretes_lease ON public.agendamento_lembretes USING btree (lease_ate) WHERE (status = 'enviando'::text);


--
-- Name: idx_outbox_a_publicar; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_outbox_a_publicar ON public.eventos_outbox USING btree (tenant_id, id) WHERE (publicado_em IS NULL);


--
-- Name: idx_outbox_created_brin; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_outbox_created_brin ON public.eventos_outbox USING brin (created_at timestamptz_minmax_multi_ops) WITH (pages_per_range='32', autosummarize='on');


--
-- Name: idx_recibos_vistos_expira; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_recibos_vistos_expira ON public.webhook_recibos_vistos USING btree (expira_em);


--
-- Name: idx_rejeicoes_job; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_rejeicoes_job ON public.ingest_rejeicoes USING btree (job_id, linha);


--
-- Name: uq_disparos_campanha_lead_ativo; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX uq_disparos_campanha_lead_ativo ON public.disparos USING btree (campanha_id, lead_id) WHERE ((campanha_id IS NOT NULL) AND (status = ANY (ARRAY['pendente'::text, 'enviando'::text, 'enviado'::text, 'confirmado'::text])));


--
-- Name: agendamentos agendamentos_tenant_id_lead_id_fkey; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER agendamentos_tenant_id_lead_id_fkey AFTER INSERT ON public.agendamentos REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_verificar('leads', 'tenant_id,lead_id', 'tenant_id,lead_id');


--
-- Name: agendamentos agendamentos_tenant_id_lead_id_fkey_fixa; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER agendamentos_tenant_id_lead_id_fkey_fixa BEFORE UPDATE OF tenant_id, lead_id ON public.agendamentos FOR EACH ROW WHEN (((old.tenant_id IS DISTINCT FROM new.tenant_id) OR (old.lead_id IS DISTINCT FROM new.lead_id))) EXECUTE FUNCTION public.fk_conjunto_chave_fixa('tenant_id,lead_id');


--
-- Name: leads agendamentos_tenant_id_lead_id_fkey_pai; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER agendamentos_tenant_id_lead_id_fkey_pai AFTER DELETE ON public.leads REFERENCING OLD TABLE AS velhos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_excluido('agendamentos', 'tenant_id,lead_id', 'tenant_id,lead_id', 'no_action');


--
-- Name: leads agendamentos_tenant_id_lead_id_fkey_pai_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER agendamentos_tenant_id_lead_id_fkey_pai_truncate AFTER TRUNCATE ON public.leads FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_truncado('agendamentos');


--
-- Name: campanhas campanhas_chave_fixa; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER campanhas_chave_fixa BEFORE UPDATE OF tenant_id, campanha_id ON public.campanhas FOR EACH ROW WHEN (((old.tenant_id IS DISTINCT FROM new.tenant_id) OR (old.campanha_id IS DISTINCT FROM new.campanha_id))) EXECUTE FUNCTION public.fk_conjunto_chave_fixa('tenant_id,campanha_id');


--
-- Name: disparos disparos_chave_fixa; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_chave_fixa BEFORE UPDATE OF tenant_id, disparo_id ON public.disparos FOR EACH ROW WHEN (((old.tenant_id IS DISTINCT FROM new.tenant_id) OR (old.disparo_id IS DISTINCT FROM new.disparo_id))) EXECUTE FUNCTION public.fk_conjunto_chave_fixa('tenant_id,disparo_id');


--
-- Name: disparos_dlq disparos_dlq_tenant_id_disparo_id_fkey; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_dlq_tenant_id_disparo_id_fkey AFTER INSERT ON public.disparos_dlq REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_verificar('disparos', 'tenant_id,disparo_id', 'tenant_id,disparo_id');


--
-- Name: disparos_dlq disparos_dlq_tenant_id_disparo_id_fkey_fixa; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_dlq_tenant_id_disparo_id_fkey_fixa BEFORE UPDATE OF tenant_id, disparo_id ON public.disparos_dlq FOR EACH ROW WHEN (((old.tenant_id IS DISTINCT FROM new.tenant_id) OR (old.disparo_id IS DISTINCT FROM new.disparo_id))) EXECUTE FUNCTION public.fk_conjunto_chave_fixa('tenant_id,disparo_id');


--
-- Name: disparos disparos_dlq_tenant_id_disparo_id_fkey_pai; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_dlq_tenant_id_disparo_id_fkey_pai AFTER DELETE ON public.disparos REFERENCING OLD TABLE AS velhos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_excluido('disparos_dlq', 'tenant_id,disparo_id', 'tenant_id,disparo_id', 'cascade');


--
-- Name: disparos disparos_dlq_tenant_id_disparo_id_fkey_pai_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_dlq_tenant_id_disparo_id_fkey_pai_truncate AFTER TRUNCATE ON public.disparos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_truncado('disparos_dlq');


--
-- Name: disparos disparos_tenant_id_campanha_id_fkey; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_tenant_id_campanha_id_fkey AFTER INSERT ON public.disparos REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_verificar('campanhas', 'tenant_id,campanha_id', 'tenant_id,campanha_id');


--
-- Name: disparos disparos_tenant_id_campanha_id_fkey_fixa; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_tenant_id_campanha_id_fkey_fixa BEFORE UPDATE OF tenant_id, campanha_id ON public.disparos FOR EACH ROW WHEN (((old.tenant_id IS DISTINCT FROM new.tenant_id) OR (old.campanha_id IS DISTINCT FROM new.campanha_id))) EXECUTE FUNCTION public.fk_conjunto_chave_fixa('tenant_id,campanha_id');


--
-- Name: campanhas disparos_tenant_id_campanha_id_fkey_pai; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_tenant_id_campanha_id_fkey_pai AFTER DELETE ON public.campanhas REFERENCING OLD TABLE AS velhos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_excluido('disparos', 'tenant_id,campanha_id', 'tenant_id,campanha_id', 'no_action');


--
-- Name: campanhas disparos_tenant_id_campanha_id_fkey_pai_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_tenant_id_campanha_id_fkey_pai_truncate AFTER TRUNCATE ON public.campanhas FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_truncado('disparos');


--
-- Name: disparos disparos_tenant_id_email_id_fkey; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_tenant_id_email_id_fkey AFTER INSERT ON public.disparos REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_verificar('lead_emails', 'tenant_id,email_id', 'tenant_id,email_id');


--
-- Name: disparos disparos_tenant_id_email_id_fkey_fixa; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_tenant_id_email_id_fkey_fixa BEFORE UPDATE OF tenant_id, email_id ON public.disparos FOR EACH ROW WHEN (((old.tenant_id IS DISTINCT FROM new.tenant_id) OR (old.email_id IS DISTINCT FROM new.email_id))) EXECUTE FUNCTION public.fk_conjunto_chave_fixa('tenant_id,email_id');


--
-- Name: lead_emails disparos_tenant_id_email_id_fkey_pai; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_tenant_id_email_id_fkey_pai AFTER DELETE ON public.lead_emails REFERENCING OLD TABLE AS velhos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_excluido('disparos', 'tenant_id,email_id', 'tenant_id,email_id', 'no_action');


--
-- Name: lead_emails disparos_tenant_id_email_id_fkey_pai_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_tenant_id_email_id_fkey_pai_truncate AFTER TRUNCATE ON public.lead_emails FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_truncado('disparos');


--
-- Name: disparos disparos_tenant_id_lead_id_fkey; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_tenant_id_lead_id_fkey AFTER INSERT ON public.disparos REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_verificar('leads', 'tenant_id,lead_id', 'tenant_id,lead_id');


--
-- Name: disparos disparos_tenant_id_lead_id_fkey_fixa; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_tenant_id_lead_id_fkey_fixa BEFORE UPDATE OF tenant_id, lead_id ON public.disparos FOR EACH ROW WHEN (((old.tenant_id IS DISTINCT FROM new.tenant_id) OR (old.lead_id IS DISTINCT FROM new.lead_id))) EXECUTE FUNCTION public.fk_conjunto_chave_fixa('tenant_id,lead_id');


--
-- Name: leads disparos_tenant_id_lead_id_fkey_pai; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_tenant_id_lead_id_fkey_pai AFTER DELETE ON public.leads REFERENCING OLD TABLE AS velhos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_excluido('disparos', 'tenant_id,lead_id', 'tenant_id,lead_id', 'no_action');


--
-- Name: leads disparos_tenant_id_lead_id_fkey_pai_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_tenant_id_lead_id_fkey_pai_truncate AFTER TRUNCATE ON public.leads FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_truncado('disparos');


--
-- Name: disparos disparos_tenant_id_telefone_id_fkey; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_tenant_id_telefone_id_fkey AFTER INSERT ON public.disparos REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_verificar('lead_telefones', 'tenant_id,telefone_id', 'tenant_id,telefone_id');


--
-- Name: disparos disparos_tenant_id_telefone_id_fkey_fixa; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_tenant_id_telefone_id_fkey_fixa BEFORE UPDATE OF tenant_id, telefone_id ON public.disparos FOR EACH ROW WHEN (((old.tenant_id IS DISTINCT FROM new.tenant_id) OR (old.telefone_id IS DISTINCT FROM new.telefone_id))) EXECUTE FUNCTION public.fk_conjunto_chave_fixa('tenant_id,telefone_id');


--
-- Name: lead_telefones disparos_tenant_id_telefone_id_fkey_pai; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_tenant_id_telefone_id_fkey_pai AFTER DELETE ON public.lead_telefones REFERENCING OLD TABLE AS velhos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_excluido('disparos', 'tenant_id,telefone_id', 'tenant_id,telefone_id', 'no_action');


--
-- Name: lead_telefones disparos_tenant_id_telefone_id_fkey_pai_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER disparos_tenant_id_telefone_id_fkey_pai_truncate AFTER TRUNCATE ON public.lead_telefones FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_truncado('disparos');


--
-- Name: ingest_jobs ingest_jobs_chave_fixa; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER ingest_jobs_chave_fixa BEFORE UPDATE OF job_id ON public.ingest_jobs FOR EACH ROW WHEN ((old.job_id IS DISTINCT FROM new.job_id)) EXECUTE FUNCTION public.fk_conjunto_chave_fixa('job_id');


--
-- Name: ingest_jobs ingest_jobs_evento_concluido; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER ingest_jobs_evento_concluido AFTER UPDATE ON public.ingest_jobs REFERENCING OLD TABLE AS antigos NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION public.ingest_jobs_evento_concluido();


--
-- Name: ingest_jobs ingest_jobs_evento_criado; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER ingest_jobs_evento_criado AFTER INSERT ON public.ingest_jobs REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION public.ingest_jobs_evento_criado();


--
-- Name: lead_emails lead_emails_chave_fixa; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER lead_emails_chave_fixa BEFORE UPDATE OF tenant_id, email_id ON public.lead_emails FOR EACH ROW WHEN (((old.tenant_id IS DISTINCT FROM new.tenant_id) OR (old.email_id IS DISTINCT FROM new.email_id))) EXECUTE FUNCTION public.fk_conjunto_chave_fixa('tenant_id,email_id');


--
-- Name: lead_emails lead_emails_tenant_id_lead_id_fkey; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER lead_emails_tenant_id_lead_id_fkey AFTER INSERT ON public.lead_emails REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_verificar('leads', 'tenant_id,lead_id', 'tenant_id,lead_id');


--
-- Name: lead_emails lead_emails_tenant_id_lead_id_fkey_fixa; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER lead_emails_tenant_id_lead_id_fkey_fixa BEFORE UPDATE OF tenant_id, lead_id ON public.lead_emails FOR EACH ROW WHEN (((old.tenant_id IS DISTINCT FROM new.tenant_id) OR (old.lead_id IS DISTINCT FROM new.lead_id))) EXECUTE FUNCTION public.fk_conjunto_chave_fixa('tenant_id,lead_id');


--
-- Name: leads lead_emails_tenant_id_lead_id_fkey_pai; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER lead_emails_tenant_id_lead_id_fkey_pai AFTER DELETE ON public.leads REFERENCING OLD TABLE AS velhos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_excluido('lead_emails', 'tenant_id,lead_id', 'tenant_id,lead_id', 'cascade');


--
-- Name: leads lead_emails_tenant_id_lead_id_fkey_pai_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER lead_emails_tenant_id_lead_id_fkey_pai_truncate AFTER TRUNCATE ON public.leads FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_truncado('lead_emails');


--
-- Name: lead_telefones lead_telefones_chave_fixa; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER lead_telefones_chave_fixa BEFORE UPDATE OF tenant_id, telefone_id ON public.lead_telefones FOR EACH ROW WHEN (((old.tenant_id IS DISTINCT FROM new.tenant_id) OR (old.telefone_id IS DISTINCT FROM new.telefone_id))) EXECUTE FUNCTION public.fk_conjunto_chave_fixa('tenant_id,telefone_id');


--
-- Name: lead_telefones lead_telefones_tenant_id_lead_id_fkey; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER lead_telefones_tenant_id_lead_id_fkey AFTER INSERT ON public.lead_telefones REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_verificar('leads', 'tenant_id,lead_id', 'tenant_id,lead_id');


--
-- Name: lead_telefones lead_telefones_tenant_id_lead_id_fkey_fixa; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER lead_telefones_tenant_id_lead_id_fkey_fixa BEFORE UPDATE OF tenant_id, lead_id ON public.lead_telefones FOR EACH ROW WHEN (((old.tenant_id IS DISTINCT FROM new.tenant_id) OR (old.lead_id IS DISTINCT FROM new.lead_id))) EXECUTE FUNCTION public.fk_conjunto_chave_fixa('tenant_id,lead_id');


--
-- Name: leads lead_telefones_tenant_id_lead_id_fkey_pai; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER lead_telefones_tenant_id_lead_id_fkey_pai AFTER DELETE ON public.leads REFERENCING OLD TABLE AS velhos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_excluido('lead_telefones', 'tenant_id,lead_id', 'tenant_id,lead_id', 'cascade');


--
-- Name: leads lead_telefones_tenant_id_lead_id_fkey_pai_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER lead_telefones_tenant_id_lead_id_fkey_pai_truncate AFTER TRUNCATE ON public.leads FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_truncado('lead_telefones');


--
-- Name: leads leads_chave_fixa; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_chave_fixa BEFORE UPDATE OF tenant_id, lead_id ON public.leads FOR EACH ROW WHEN (((old.tenant_id IS DISTINCT FROM new.tenant_id) OR (old.lead_id IS DISTINCT FROM new.lead_id))) EXECUTE FUNCTION public.fk_conjunto_chave_fixa('tenant_id,lead_id');


--
-- Name: leads leads_ingest_job_id_fkey; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_ingest_job_id_fkey AFTER INSERT ON public.leads REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_verificar('ingest_jobs', 'ingest_job_id', 'job_id');


--
-- Name: ingest_jobs leads_ingest_job_id_fkey_pai; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_ingest_job_id_fkey_pai AFTER DELETE ON public.ingest_jobs REFERENCING OLD TABLE AS velhos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_excluido('leads', 'ingest_job_id', 'job_id', 'set_null');


--
-- Name: ingest_jobs leads_ingest_job_id_fkey_pai_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_ingest_job_id_fkey_pai_truncate AFTER TRUNCATE ON public.ingest_jobs FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_truncado('leads');


--
-- Name: leads leads_ingest_job_id_fkey_upd; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_ingest_job_id_fkey_upd AFTER UPDATE ON public.leads REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_verificar('ingest_jobs', 'ingest_job_id', 'job_id');


--
-- Name: leads leads_tenant_id_fkey; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_tenant_id_fkey AFTER INSERT ON public.leads REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_verificar('tenants', 'tenant_id', 'id');


--
-- Name: tenants leads_tenant_id_fkey_pai; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_tenant_id_fkey_pai AFTER DELETE ON public.tenants REFERENCING OLD TABLE AS velhos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_excluido('leads', 'tenant_id', 'id', 'no_action');


--
-- Name: tenants leads_tenant_id_fkey_pai_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_tenant_id_fkey_pai_truncate AFTER TRUNCATE ON public.tenants FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_pai_truncado('leads');


--
-- Name: leads leads_tenant_id_fkey_upd; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_tenant_id_fkey_upd AFTER UPDATE ON public.leads REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION public.fk_conjunto_verificar('tenants', 'tenant_id', 'id');


--
-- Name: tenants tenants_chave_fixa; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER tenants_chave_fixa BEFORE UPDATE OF id ON public.tenants FOR EACH ROW WHEN ((old.id IS DISTINCT FROM new.id)) EXECUTE FUNCTION public.fk_conjunto_chave_fixa('id');


--
-- Name: disparos trg_disparos_notificar_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER trg_disparos_notificar_insert AFTER INSERT ON public.disparos REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION public.notificar_envio_disparos();


--
-- Name: disparos trg_disparos_notificar_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER trg_disparos_notificar_update AFTER UPDATE ON public.disparos REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION public.notificar_envio_disparos();


--
-- Name: agendamento_lembretes trg_lembretes_notificar_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER trg_lembretes_notificar_insert AFTER INSERT ON public.agendamento_lembretes REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION public.notificar_envio_lembretes();


--
-- Name: agendamento_lembretes trg_lembretes_notificar_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER trg_lembretes_notificar_update AFTER UPDATE ON public.agendamento_lembretes REFERENCING NEW TABLE AS novos FOR EACH STATEMENT EXECUTE FUNCTION public.notificar_envio_lembretes();


--
-- Name: agendamento_lembretes agendamento_lembretes_tenant_id_agendamento_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agendamento_lembretes
    ADD CONSTRAINT agendamento_lembretes_tenant_id_agendamento_id_fkey FOREIGN KEY (tenant_id, agendamento_id) REFERENCES public.agendamentos(tenant_id, agendamento_id) ON DELETE CASCADE;


--
-- Name: alarmes alarmes_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alarmes
    ADD CONSTRAINT alarmes_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;


--
-- Name: api_keys api_keys_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;


--
-- Name: campanhas campanhas_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.campanhas
    ADD CONSTRAINT campanhas_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id);


--
-- Name: envio_rate_buckets envio_rate_buckets_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.envio_rate_buckets
    ADD CONSTRAINT envio_rate_buckets_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;


--
-- Name: eventos_outbox eventos_outbox_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.eventos_outbox
    ADD CONSTRAINT eventos_outbox_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id);


--
-- Name: idempotency_keys idempotency_keys_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.idempotency_keys
    ADD CONSTRAINT idempotency_keys_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;


--
-- Name: ingest_jobs ingest_jobs_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ingest_jobs
    ADD CONSTRAINT ingest_jobs_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id);


--
-- Name: ingest_rejeicoes ingest_rejeicoes_tenant_id_job_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ingest_rejeicoes
    ADD CONSTRAINT ingest_rejeicoes_tenant_id_job_id_fkey FOREIGN KEY (tenant_id, job_id) REFERENCES public.ingest_jobs(tenant_id, job_id) ON DELETE CASCADE;


--
-- Name: optouts optouts_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.optouts
    ADD CONSTRAINT optouts_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id);


--
-- Name: templates templates_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.templates
    ADD CONSTRAINT templates_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id);


--
-- Name: webhook_recibos_vistos webhook_recibos_vistos_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_recibos_vistos
    ADD CONSTRAINT webhook_recibos_vistos_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;


--
-- Name: agendamento_lembretes; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.agendamento_lembretes ENABLE ROW LEVEL SECURITY;

--
-- Name: agendamentos; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.agendamentos ENABLE ROW LEVEL SECURITY;

--
-- Name: alarmes; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.alarmes ENABLE ROW LEVEL SECURITY;

--
-- Name: api_keys; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.api_keys ENABLE ROW LEVEL SECURITY;

--
-- Name: campanhas; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.campanhas ENABLE ROW LEVEL SECURITY;

--
-- Name: disparos; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.disparos ENABLE ROW LEVEL SECURITY;

--
-- Name: disparos_dlq; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.disparos_dlq ENABLE ROW LEVEL SECURITY;

--
-- Name: envio_rate_buckets; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.envio_rate_buckets ENABLE ROW LEVEL SECURITY;

--
-- Name: eventos_outbox; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.eventos_outbox ENABLE ROW LEVEL SECURITY;

--
-- Name: idempotency_keys; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.idempotency_keys ENABLE ROW LEVEL SECURITY;

--
-- Name: ingest_jobs; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.ingest_jobs ENABLE ROW LEVEL SECURITY;

--
-- Name: ingest_rejeicoes; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.ingest_rejeicoes ENABLE ROW LEVEL SECURITY;

--
-- Name: lead_emails; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.lead_emails ENABLE ROW LEVEL SECURITY;

--
-- Name: lead_telefones; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.lead_telefones ENABLE ROW LEVEL SECURITY;

--
-- Name: leads; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.leads ENABLE ROW LEVEL SECURITY;

--
-- Name: optouts; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.optouts ENABLE ROW LEVEL SECURITY;

--
-- Name: templates; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.templates ENABLE ROW LEVEL SECURITY;

--
-- Name: agendamento_lembretes tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.agendamento_lembretes TO disparo_agenda_app USING ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: agendamentos tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.agendamentos TO disparo_agenda_app USING ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: alarmes tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.alarmes TO disparo_agenda_app USING ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: api_keys tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.api_keys TO disparo_agenda_app USING ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: campanhas tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.campanhas TO disparo_agenda_app USING ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: disparos tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.disparos TO disparo_agenda_app USING ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: disparos_dlq tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.disparos_dlq TO disparo_agenda_app USING ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: envio_rate_buckets tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.envio_rate_buckets TO disparo_agenda_app USING ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: eventos_outbox tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.eventos_outbox TO disparo_agenda_app USING ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: idempotency_keys tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.idempotency_keys TO disparo_agenda_app USING ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: ingest_jobs tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.ingest_jobs TO disparo_agenda_app USING ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: ingest_rejeicoes tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.ingest_rejeicoes TO disparo_agenda_app USING ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: lead_emails tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.lead_emails TO disparo_agenda_app USING ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: lead_telefones tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.lead_telefones TO disparo_agenda_app USING ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: leads tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.leads TO disparo_agenda_app USING ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: optouts tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.optouts TO disparo_agenda_app USING ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: templates tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.templates TO disparo_agenda_app USING ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: tenants tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.tenants TO disparo_agenda_app USING ((id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: webhook_recibos_vistos tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.webhook_recibos_vistos TO disparo_agenda_app USING ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif"))) WITH CHECK ((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS "nullif")));


--
-- Name: tenants; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.tenants ENABLE ROW LEVEL SECURITY;

--
-- Name: webhook_recibos_vistos; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.webhook_recibos_vistos ENABLE ROW LEVEL SECURITY;

--
-- PostgreSQL database dump complete
--
