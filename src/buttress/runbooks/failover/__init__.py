"""Failover and failback of a primary with a replica: PostgreSQL streaming replication
(:mod:`.postgres`) and Redis replication (:mod:`.redis`). Each function does one step a
runbook names (measure lag, fence, promote, wait until writable, repoint, rebuild the old
primary) and raises :class:`~buttress.runbooks.failover.errors.FailoverError` with a message
safe to show (no password) when it cannot."""
