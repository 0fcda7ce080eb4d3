"""S3-compatible storage: ``HeadBucket`` on the bucket (boto3, in a worker thread), through
the client backup uses too (:mod:`buttress.platform.s3`)."""

from __future__ import annotations

import asyncio
from typing import Any

from buttress.health.checks.base import Probe

__all__ = ["s3"]


def s3(
    bucket: str,
    *,
    endpoint_url: str | None,
    region: str | None,
    access_key_id: str | None,
    secret_access_key: str | None,
    timeout: float,
) -> Probe:
    from buttress.platform import s3 as shared  # the one S3 client setup, shared with backup

    endpoint = shared.S3Endpoint(endpoint_url, region, access_key_id, secret_access_key)
    client: list[object] = []  # built on the first probe, in the worker thread

    def blocking() -> str:
        try:
            if not client:
                client.append(
                    shared.client(
                        endpoint,
                        max_attempts=1,
                        connect_timeout=timeout,
                        read_timeout=timeout,
                        needed_by="the s3 health check",
                    )
                )
            s3_client: Any = client[0]  # boto3's client is untyped
            s3_client.head_bucket(Bucket=bucket)
        except Exception as exc:  # noqa: BLE001  # named below, without secrets
            raise RuntimeError(shared.explain(exc, bucket, endpoint, of_bucket=True)) from None
        return f"bucket {bucket} answers"

    async def probe() -> str:
        return await asyncio.to_thread(blocking)

    return probe
