"""S3-compatible object storage as a backup destination (AWS S3, MinIO, Ceph RGW, moto...).

An object is uploaded in parts (multipart upload, ``concurrency`` parts in flight, so memory
stays at about ``part_size * (concurrency + 1)`` per destination) and appears under its key only
when the upload is completed: a crashed run leaves an unfinished multipart upload, never a
partial object, and never a manifest. Objects smaller than one part are sent in one PUT.

boto3 is imported only when a destination is used (``pip install 'buttress[s3]'``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

from buttress.backup.destinations import ObjectWriter
from buttress.backup.errors import BackupError
from buttress.secrets import mask_url

__all__ = ["S3Destination", "S3Settings", "error_code"]

_MIN_PART = 5 << 20  # S3's smallest part (but the last)


@dataclass(frozen=True)
class S3Settings:
    """Where and how objects are stored.

    Args:
        bucket: an existing bucket.
        prefix: key prefix inside the bucket (``backups/prod``); no leading slash.
        endpoint_url: for S3-compatible services (``http://127.0.0.1:9000``); None for AWS.
        region: the bucket's region.
        access_key_id / secret_access_key: credentials; None: boto3's usual chain
            (``AWS_ACCESS_KEY_ID``... environment variables, profile, instance role).
        storage_class: ``STANDARD``, ``STANDARD_IA``, ``GLACIER_IR``...; None: the bucket's.
        part_size: bytes per multipart part (at least 5 MiB).
        concurrency: parts uploaded at once per object.
        max_attempts: attempts per request (boto3's standard retry mode, with backoff).
        connect_timeout / read_timeout: seconds.
    """

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    storage_class: str | None = None
    part_size: int = 8 << 20
    concurrency: int = 4
    max_attempts: int = 5
    connect_timeout: float = 10.0
    read_timeout: float = 60.0

    def __post_init__(self) -> None:
        if not self.bucket:
            raise ValueError("s3: bucket must not be empty")
        if self.part_size < _MIN_PART:
            raise ValueError(f"s3: part_size must be at least 5 MiB, got {self.part_size}")
        if self.concurrency < 1:
            raise ValueError("s3: concurrency must be >= 1")
        if self.max_attempts < 1:
            raise ValueError("s3: max_attempts must be >= 1")

    def __repr__(self) -> str:  # never the secret key
        return f"S3Settings(bucket={self.bucket!r}, prefix={self.prefix!r})"


def error_code(exc: BaseException) -> str:
    """The S3 error code of a boto error (``NoSuchKey``, ``404``...), or ``""``."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


class _Body:
    """A downloaded object's stream; transport errors become BackupError naming the key."""

    def __init__(self, dest: S3Destination, key: str, body: Any) -> None:
        self.dest, self.key, self.body = dest, key, body

    def read(self, n: int = -1) -> bytes:
        try:
            return bytes(self.body.read(None if n < 0 else n))
        except Exception as exc:  # noqa: BLE001  # botocore/urllib3 read errors, named below
            raise self.dest.error(exc, f"reading {self.key}") from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.body.close()

    def __enter__(self) -> _Body:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _S3Writer:
    """One object: a buffer, then parts in flight, then CompleteMultipartUpload (or one PUT)."""

    def __init__(self, dest: S3Destination, key: str) -> None:
        self.dest = dest
        self.key = key
        self.full_key = dest.full_key(key)
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[Future[str]] = []

    def _extra(self) -> dict[str, str]:
        sc = self.dest.settings.storage_class
        return {"StorageClass": sc} if sc else {}

    def write(self, data: bytes | memoryview) -> None:
        self.buffer += data
        size = self.dest.settings.part_size
        while len(self.buffer) >= size:
            part = bytes(self.buffer[:size])
            del self.buffer[:size]
            self._send(part)

    def _send(self, part: bytes) -> None:
        client = self.dest.client()
        bucket = self.dest.settings.bucket
        try:
            if self.upload_id is None:
                created = client.create_multipart_upload(
                    Bucket=bucket, Key=self.full_key, **self._extra()
                )
                self.upload_id = str(created["UploadId"])
            # keep at most `concurrency` parts in flight (memory stays bounded)
            in_flight = [f for f in self.parts if not f.done()]
            while len(in_flight) >= self.dest.settings.concurrency:
                in_flight[0].result()
                in_flight = [f for f in self.parts if not f.done()]
            for done in self.parts:
                if done.done():
                    done.result()  # re-raise a failed part now, not at commit
            number = len(self.parts) + 1
            self.parts.append(self.dest.pool().submit(self._upload, part, number))
        except Exception as exc:  # noqa: BLE001  # boto errors become ours, with the key
            self.abort()
            raise self.dest.error(exc, f"writing {self.key}") from None

    def _upload(self, part: bytes, number: int) -> str:
        response = self.dest.client().upload_part(
            Bucket=self.dest.settings.bucket,
            Key=self.full_key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=part,
        )
        return str(response["ETag"])

    def commit(self) -> None:
        client = self.dest.client()
        bucket = self.dest.settings.bucket
        try:
            if self.upload_id is None:
                client.put_object(
                    Bucket=bucket, Key=self.full_key, Body=bytes(self.buffer), **self._extra()
                )
                return
            if self.buffer:
                self._send(bytes(self.buffer))
                self.buffer.clear()
            tags = [f.result() for f in self.parts]
            client.complete_multipart_upload(
                Bucket=bucket,
                Key=self.full_key,
                UploadId=self.upload_id,
                MultipartUpload={
                    "Parts": [{"ETag": tag, "PartNumber": i + 1} for i, tag in enumerate(tags)]
                },
            )
        except BackupError:
            raise
        except Exception as exc:  # noqa: BLE001
            self.abort()
            raise self.dest.error(exc, f"writing {self.key}") from None

    def abort(self) -> None:
        for f in self.parts:
            f.cancel()
        for f in self.parts:
            with contextlib.suppress(Exception):
                f.result()
        self.parts.clear()
        self.buffer.clear()
        if self.upload_id is not None:
            with contextlib.suppress(Exception):
                self.dest.client().abort_multipart_upload(
                    Bucket=self.dest.settings.bucket, Key=self.full_key, UploadId=self.upload_id
                )
            self.upload_id = None


class S3Destination:
    """A bucket (and key prefix) on an S3-compatible service."""

    def __init__(self, name: str, settings: S3Settings) -> None:
        self.name = name
        self.settings = settings
        self._client: Any = None
        self._pool: ThreadPoolExecutor | None = None

    def describe(self) -> str:
        s = self.settings
        where = f"s3://{s.bucket}/{s.prefix}".rstrip("/")
        if s.endpoint_url:
            where += f" at {mask_url(s.endpoint_url)}"
        return f"{self.name} ({where})"

    def full_key(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise BackupError(f"destination {self.name}: invalid object key {key!r}")
        return self.root() + key

    def root(self) -> str:
        """The key prefix of every object of this destination (``""`` or ``prefix/``)."""
        prefix = self.settings.prefix.strip("/")
        return f"{prefix}/" if prefix else ""

    def client(self) -> Any:
        if self._client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise BackupError(
                    f"destination {self.name}: S3 needs boto3 (pip install 'buttress[s3]')"
                ) from None
            s = self.settings
            config = Config(
                retries={"max_attempts": s.max_attempts, "mode": "standard"},
                connect_timeout=s.connect_timeout,
                read_timeout=s.read_timeout,
                max_pool_connections=s.concurrency + 2,
                s3={"addressing_style": "path" if s.endpoint_url else "auto"},
                # only checksum when the operation requires it: S3-compatible servers differ
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=s.endpoint_url,
                region_name=s.region or "us-east-1",
                aws_access_key_id=s.access_key_id,
                aws_secret_access_key=s.secret_access_key,
                config=config,
            )
        return self._client

    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self.settings.concurrency, thread_name_prefix=f"buttress-s3-{self.name}"
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def error(self, exc: BaseException, doing: str) -> BackupError:
        code = error_code(exc)
        if code in ("NoSuchBucket",):
            detail = f"bucket {self.settings.bucket!r} does not exist"
        elif code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"):
            detail = f"access refused ({code}): check the credentials and the bucket policy"
        else:
            detail = mask_url(str(exc)) or type(exc).__name__
        return BackupError(f"destination {self.describe()}: {detail} ({doing})")

    def writer(self, key: str) -> ObjectWriter:
        return _S3Writer(self, key)

    def reader(self, key: str) -> BinaryIO:
        try:
            response = self.client().get_object(Bucket=self.settings.bucket, Key=self.full_key(key))
        except BackupError:
            raise
        except Exception as exc:  # noqa: BLE001
            if error_code(exc) in ("NoSuchKey", "404"):
                raise BackupError(
                    f"destination {self.describe()}: cannot read {key}: no such object"
                ) from None
            raise self.error(exc, f"reading {key}") from None
        return _Body(self, key, response["Body"])  # type: ignore[return-value]

    def put(self, key: str, data: bytes) -> None:
        w = self.writer(key)
        w.write(data)
        w.commit()

    def get(self, key: str) -> bytes:
        with self.reader(key) as body:
            return body.read()

    def exists(self, key: str) -> bool:
        try:
            self.client().head_object(Bucket=self.settings.bucket, Key=self.full_key(key))
        except BackupError:
            raise
        except Exception as exc:  # noqa: BLE001
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self.error(exc, f"looking up {key}") from None
        return True

    def size(self, key: str) -> int | None:
        try:
            head = self.client().head_object(Bucket=self.settings.bucket, Key=self.full_key(key))
        except BackupError:
            raise
        except Exception as exc:  # noqa: BLE001
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self.error(exc, f"looking up {key}") from None
        return int(head["ContentLength"])

    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        full = self.full_key(prefix) if prefix else self.root()
        try:
            pages = self.client().get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.settings.bucket, Prefix=full):
                yield from page.get("Contents", [])
        except BackupError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self.error(exc, f"listing {prefix or '/'}") from None

    def keys(self, prefix: str) -> list[str]:
        cut = len(self.root())
        return sorted(str(obj["Key"])[cut:] for obj in self._list(prefix))

    def delete(self, key: str) -> None:
        try:
            self.client().delete_object(Bucket=self.settings.bucket, Key=self.full_key(key))
        except Exception as exc:  # noqa: BLE001
            raise self.error(exc, f"deleting {key}") from None

    def abort_unfinished(self, keep: Callable[[str], bool]) -> list[str]:
        """Abort the multipart uploads under this destination whose key ``keep`` does not claim
        (what a killed run leaves behind; ``keep`` spares the uploads of live runs); returns
        the keys aborted."""
        cut = len(self.root())
        aborted: list[str] = []
        try:
            client = self.client()
            pages = client.get_paginator("list_multipart_uploads")
            for page in pages.paginate(Bucket=self.settings.bucket, Prefix=self.root()):
                for upload in page.get("Uploads", []):
                    key = str(upload["Key"])[cut:]
                    if keep(key):
                        continue
                    client.abort_multipart_upload(
                        Bucket=self.settings.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    aborted.append(key)
        except BackupError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self.error(exc, "listing unfinished uploads") from None
        return sorted(aborted)
