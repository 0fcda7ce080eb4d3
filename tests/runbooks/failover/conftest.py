"""The private PostgreSQL clusters of the failover tests."""

from tests.backup.pg_cluster import pg_clusters

__all__ = ["pg_clusters"]
