"""Failover and failback of a primary with a replica: PostgreSQL streaming replication
(:mod:`.postgres`, :mod:`.pg_failback`, :mod:`.pg_repoint`) and Redis replication
(:mod:`.redis`). Each function does one step a runbook names (measure lag, fence, promote,
wait until writable, repoint, rebuild the old primary, switch back) and raises
:class:`~buttress.runbooks.failover.errors.FailoverError` with a message safe to show (no
password) when it cannot; each has a ``plan_*`` twin for dry runs. :mod:`.canary` measures a
drill: failover time and acknowledged writes lost."""
