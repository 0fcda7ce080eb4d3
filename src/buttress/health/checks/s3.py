"""S3-compatible storage: ``HeadBucket`` on the bucket (boto3, in a worker thread)."""

from __future__ import annotations

import asyncio

from buttress.health.checks.base import Probe
from buttress.secrets import mask_url

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
    from buttress.backup.s3 import S3Destination, S3Settings, error_code  # one S3 client setup

    dest = S3Destination(
        "health",
        S3Settings(
            bucket=bucket, endpoint_url=endpoint_url, region=region,
            access_key_id=access_key_id, secret_access_key=secret_access_key,
            max_attempts=1, connect_timeout=timeout, read_timeout=timeout,
        ),
    )  # fmt: skip

    def blocking() -> str:
        try:
            dest.client().head_bucket(Bucket=bucket)
        except Exception as exc:  # noqa: BLE001  # named below, without secrets
            code = error_code(exc)
            if code in ("404", "NoSuchBucket"):
                raise RuntimeError(f"bucket {bucket!r} does not exist") from None
            if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise RuntimeError(f"bucket {bucket!r}: access refused ({code})") from None
            raise RuntimeError(mask_url(str(exc)) or type(exc).__name__) from None
        return f"bucket {bucket} answers"

    async def probe() -> str:
        return await asyncio.to_thread(blocking)

    return probe
