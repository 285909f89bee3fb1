"""What every room shares: settings, connections, migrations, errors, ids, logs, idempotency keys and the
file store. Nothing here knows about leads, disparos or agendamentos."""
