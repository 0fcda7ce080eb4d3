"""One S3 client setup for every domain: backup's S3 destination and the health S3 check.

:func:`client` builds a boto3 client from an :class:`S3Endpoint` (endpoint, region,
credentials) with bounded requests: botocore's standard retry mode for ``max_attempts``,
``connect_timeout`` and ``read_timeout``, path-style addressing on an S3-compatible endpoint,
checksums only where the operation requires them (S3-compatible servers differ).
:func:`explain` turns a boto error into a sentence without secrets (the bucket that does not
exist, the credentials refused, else the error with every secret shape and the secret key
masked).

boto3 is imported only when a client is built (``pip install 'buttress[s3]'``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from buttress.errors import MissingDependencyError
from buttress.secrets import MASK, mask_url, redact

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "S3Endpoint",
    "client",
    "error_code",
    "explain",
    "timed_out",
]

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 15.0

#: the error codes of a request the service refused for its credentials or policy
REFUSED = frozenset({"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"})


@dataclass(frozen=True)
class S3Endpoint:
    """Where an S3-compatible service is and who we are to it.

    Args:
        endpoint_url: for S3-compatible services (``http://127.0.0.1:9000``); None for AWS.
        region: the bucket's region (None: ``us-east-1``).
        access_key_id / secret_access_key: credentials; None: boto3's usual chain
            (``AWS_ACCESS_KEY_ID``... environment variables, profile, instance role).
    """

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None

    def where(self, bucket: str, prefix: str = "") -> str:
        """``s3://bucket/prefix``, and the endpoint (its secrets masked) when not AWS."""
        out = f"s3://{bucket}/{prefix}".rstrip("/")
        if self.endpoint_url:
            out += f" at {mask_url(self.endpoint_url)}"
        return out

    def __repr__(self) -> str:  # never the secret key
        shown = mask_url(self.endpoint_url) if self.endpoint_url else None
        return f"S3Endpoint(endpoint_url={shown!r}, region={self.region!r})"


def client(
    endpoint: S3Endpoint,
    *,
    max_attempts: int,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    max_pool_connections: int = 10,
    needed_by: str = "S3",
) -> Any:
    """A boto3 S3 client for ``endpoint`` (boto3's client is untyped).

    Raises:
        MissingDependencyError: boto3 is not installed (naming ``needed_by`` and the extra).
    """
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise MissingDependencyError("boto3", "s3", needed_by=needed_by) from None
    config = Config(
        retries={"total_max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=max_pool_connections,
        s3={"addressing_style": "path" if endpoint.endpoint_url else "auto"},
        tcp_keepalive=True,
        # only checksum when the operation requires it: S3-compatible servers differ
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint.endpoint_url,
        region_name=endpoint.region or "us-east-1",
        aws_access_key_id=endpoint.access_key_id,
        aws_secret_access_key=endpoint.secret_access_key,
        config=config,
    )


def error_code(exc: BaseException) -> str:
    """The S3 error code of a boto error (``NoSuchKey``, ``404``...), or ``""``."""
    response = getattr(exc, "response", None)  # botocore's ClientError carries it
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def explain(
    exc: BaseException,
    bucket: str,
    endpoint: S3Endpoint | None = None,
    *,
    of_bucket: bool = False,
) -> str:
    """What went wrong, in one sentence without secrets: the bucket that does not exist, the
    access refused (with its code), else the error's text redacted (and the secret key of
    ``endpoint`` masked should it appear). ``of_bucket``: the request was about the bucket
    itself (``HeadBucket``), so a bare 404 means the bucket is missing (for an object it
    means the object is)."""
    code = error_code(exc)
    if code == "NoSuchBucket" or (of_bucket and code == "404"):
        return f"bucket {bucket!r} does not exist"
    if code in REFUSED:
        return f"bucket {bucket!r}: access refused ({code}): check the credentials and the policy"
    text = redact(mask_url(str(exc)))
    secret = endpoint.secret_access_key if endpoint is not None else None
    if secret:
        text = text.replace(secret, MASK)
    return text or type(exc).__name__


def timed_out(exc: BaseException) -> bool:
    """A request that timed out (connect or read): the endpoint may hang on the next one too."""
    from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

    return isinstance(exc, ConnectTimeoutError | ReadTimeoutError)
