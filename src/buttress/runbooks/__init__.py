"""Runbooks: declared procedures the control plane runs step by step, asks a person where a
person must decide, records, and can rehearse without touching anything (``--dry-run``); and
the failover and failback actions for PostgreSQL and Redis they are built from.

See docs/runbooks.md.
"""
