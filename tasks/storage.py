"""Where packages are kept: one small interface, two backends (a local folder, and S3 through boto3).

Promise of ``put``: a stored object is either complete or absent. Locally it is written under a
temporary name and renamed; on S3 it is uploaded (multipart when large) under a temporary key, then
published by a server-side copy to its final key, and the temporary key is removed whatever happens.
S3 credentials come from the standard AWS chain (environment, profile, instance role) and are never
logged or shown; ``url`` on S3 is a presigned GET link.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from urllib.parse import urlparse

from schemas.errors import DataFactoryError, InputError
from tasks.settings import Settings, get_settings

MB = 1024 * 1024
INCOMING = ".incoming"  # temporary keys and files live here until published; never listed


class StorageError(DataFactoryError):
    """Storing or fetching failed; the message names the object and what to check."""


def clean_key(key: str) -> str:
    """Check a storage key: a relative POSIX path such as ``run-1/package.zip``.

    Raises:
        InputError: the key is empty, absolute, has ``.``/``..``/empty parts, backslashes, control
            characters, or points into the reserved ``.incoming`` area.
    """
    if not isinstance(key, str) or not key.strip("/"):
        raise InputError(f"storage key {key!r} is empty; use a relative path such as 'run-1/package.zip'")
    if key.startswith("/") or "\\" in key or re.search(r"[\x00-\x1f]", key):
        raise InputError(f"storage key {key!r} must be a relative path with '/' separators and no control characters")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise InputError(f"storage key {key!r} has an empty, '.' or '..' part; use a plain relative path")
    if parts[0] == INCOMING:
        raise InputError(f"storage key {key!r} is in the reserved '{INCOMING}/' area; choose another folder")
    return key


class Storage(ABC):
    """A place to keep finished packages, addressed by relative keys such as ``run-1/package.zip``."""

    @abstractmethod
    def put(self, local: Path, key: str) -> str:
        """Store the file ``local`` under ``key``, all or nothing; returns the stored object's URI or path."""

    @abstractmethod
    def get(self, key: str, dest: Path) -> Path:
        """Copy the object ``key`` to the file ``dest`` (complete or not at all); returns ``dest``."""

    @abstractmethod
    def url(self, key: str, expires: int = 3600) -> str:
        """A link to download ``key``: a ``file://`` URI locally, a presigned HTTPS URL on S3."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Keys of the published objects whose key starts with ``prefix``, sorted."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether ``key`` is published."""


def _check_local_file(local: Path) -> Path:
    local = Path(local)
    if not local.is_file():
        raise InputError(f"cannot store {local}: it is not a file; build the package first")
    return local


# --------------------------------------------------------------------------- local folder


class LocalStorage(Storage):
    """Objects as files under ``root``; ``put`` writes a temporary file beside the target, then renames it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*clean_key(key).split("/"))

    def put(self, local: Path, key: str) -> str:
        source = _check_local_file(local)
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
            os.close(handle)
        except OSError as exc:
            raise StorageError(
                f"cannot write under {self.root}: {exc.strerror}; check the folder and permissions"
            ) from None
        tmp = Path(tmp_name)
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        except OSError as exc:
            raise StorageError(f"storing {key} in {self.root} failed: {exc.strerror}") from None
        finally:
            tmp.unlink(missing_ok=True)
        return str(target)

    def get(self, key: str, dest: Path) -> Path:
        source = self._path(key)
        if not source.is_file():
            raise StorageError(f"no object '{key}' in {self.root}; list what is there with storage.list()")
        return _copy_atomically(source, Path(dest))

    def url(self, key: str, expires: int = 3600) -> str:
        path = self._path(key)
        if not path.is_file():
            raise StorageError(f"no object '{key}' in {self.root}")
        return path.as_uri()

    def list(self, prefix: str = "") -> list[str]:
        if not self.root.is_dir():
            return []
        keys = []
        for path in self.root.rglob("*"):
            if not path.is_file() or any(part.startswith(".") for part in path.relative_to(self.root).parts):
                continue  # temporary files are hidden ('.name.part')
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                keys.append(key)
        return sorted(keys)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


def _copy_atomically(source: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


# --------------------------------------------------------------------------- S3


class S3Storage(Storage):
    """Objects in ``s3://bucket/prefix/``; multipart upload above ``multipart_threshold`` bytes.

    Args:
        bucket: an existing bucket.
        prefix: folder inside the bucket ('' for the top).
        endpoint_url: a custom S3 endpoint (MinIO, Ceph, moto); None = AWS or ``AWS_ENDPOINT_URL``.
        region: the bucket's region; None = the AWS configuration's.
        client: a ready boto3 S3 client (its endpoint and credentials are then used as they are).
        multipart_threshold: files at least this large go up in parts.
        multipart_chunksize: size of each part (S3 needs at least 5 MB).
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        client=None,
        multipart_threshold: int = 64 * MB,
        multipart_chunksize: int = 16 * MB,
    ) -> None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", bucket or ""):
            raise InputError(
                f"S3 bucket name {bucket!r} is not valid: 3-63 lowercase letters, digits, '.' and '-'; "
                "use --storage s3://bucket/prefix"
            )
        if multipart_chunksize < 5 * MB:
            raise InputError(f"multipart_chunksize {multipart_chunksize} is below S3's 5 MB minimum part size")
        self.bucket = bucket
        self.prefix = "/".join(clean_key(prefix).split("/")) + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self.region = region
        self._client = client
        self._threshold = multipart_threshold
        self._chunksize = multipart_chunksize

    def __repr__(self) -> str:  # never shows credentials
        endpoint = f", endpoint_url={self.endpoint_url!r}" if self.endpoint_url else ""
        return f"S3Storage({self.bucket!r}, {self.prefix.rstrip('/')!r}{endpoint})"

    @property
    def client(self):
        """The boto3 S3 client, created on first use from the standard AWS credential chain."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                config=Config(retries={"max_attempts": 5, "mode": "standard"}, signature_version="s3v4"),
            )
        return self._client

    def uri(self, key: str) -> str:
        """``s3://bucket/prefix/key``."""
        return f"s3://{self.bucket}/{self._key(key)}"

    def _key(self, key: str) -> str:
        return self.prefix + clean_key(key)

    def _transfer_config(self):
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=self._threshold,
            multipart_chunksize=self._chunksize,
            use_threads=True,
            max_concurrency=4,
        )

    def put(self, local: Path, key: str) -> str:
        source = _check_local_file(local)
        final = self._key(key)
        temporary = f"{self.prefix}{INCOMING}/{uuid.uuid4().hex}/{clean_key(key)}"
        config = self._transfer_config()
        try:
            self.client.upload_file(str(source), self.bucket, temporary, Config=config)
            self.client.copy({"Bucket": self.bucket, "Key": temporary}, self.bucket, final, Config=config)
        except Exception as exc:
            raise StorageError(f"storing {self.uri(key)} failed, nothing was published: {_describe(exc)}") from None
        finally:
            self._discard(temporary)
        return self.uri(key)

    def _discard(self, temporary: str) -> None:
        """Remove a temporary object and any multipart upload left under it (best effort)."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=temporary)
            pending = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=temporary).get("Uploads", [])
            for upload in pending:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        except Exception:  # noqa: S110 - the original error matters more; a lifecycle rule can sweep .incoming/
            pass

    def get(self, key: str, dest: Path) -> Path:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        os.close(handle)
        tmp = Path(tmp_name)
        try:
            self.client.download_file(self.bucket, self._key(key), str(tmp), Config=self._transfer_config())
            os.replace(tmp, dest)
        except Exception as exc:
            raise StorageError(f"fetching {self.uri(key)} failed: {_describe(exc)}") from None
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def url(self, key: str, expires: int = 3600) -> str:
        if not 1 <= expires <= 7 * 24 * 3600:
            raise InputError(f"link lifetime {expires} s is outside 1 s to 7 days (S3's limit)")
        if not self.exists(key):
            raise StorageError(f"no object {self.uri(key)}; list what is there with storage.list()")
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=expires
        )

    def list(self, prefix: str = "") -> list[str]:
        keys: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"][len(self.prefix) :]
                    if not key.startswith(INCOMING + "/"):
                        keys.append(key)
        except Exception as exc:
            raise StorageError(f"listing s3://{self.bucket}/{self.prefix}{prefix} failed: {_describe(exc)}") from None
        return sorted(keys)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageError(f"checking {self.uri(key)} failed: {_describe(exc)}") from None


def _describe(exc: Exception) -> str:
    """A short, credential-free explanation of a boto3 error with the fix where one is known."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ClientError | NoCredentialsError | EndpointConnectionError):
        cause = cause.__cause__ or cause.__context__  # boto3's transfer wraps the real error
    exc = cause if isinstance(cause, Exception) else exc
    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, "
            "or run with an instance role"
        )
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach the S3 endpoint ({exc.kwargs.get('endpoint_url', '?')}); check the endpoint URL"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "?")
        hints = {
            "NoSuchBucket": "the bucket does not exist; create it or fix the bucket name",
            "AccessDenied": "access denied; check the credentials' permissions on the bucket",
            "InvalidAccessKeyId": "the access key is not known to this endpoint",
            "SignatureDoesNotMatch": "the secret key does not match the access key",
            "404": "not found",
            "NoSuchKey": "not found",
        }
        return f"{code}: {hints.get(code, error.get('Message', 'S3 refused the request'))}"
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- configuration


def storage_from_uri(uri: str | None, settings: Settings | None = None) -> Storage:
    """The storage a ``--storage`` value (or ``settings.storage`` when ``uri`` is None) names.

    ``''`` -> a local folder ``<output_dir>/packages``; a path or ``file:///path`` -> that folder;
    ``s3://bucket/prefix`` -> S3, with ``settings.s3_endpoint_url`` (else ``AWS_ENDPOINT_URL_S3`` or
    ``AWS_ENDPOINT_URL``) and ``settings.s3_region``.

    Raises:
        InputError: an unsupported scheme or a malformed S3 URI; the message shows the accepted forms.
    """
    settings = settings or get_settings()
    value = (settings.storage if uri is None else uri).strip()
    if not value:
        return LocalStorage(Path(settings.output_dir) / "packages")
    parsed = urlparse(value)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise InputError(f"storage {value!r} names no bucket; use s3://bucket or s3://bucket/prefix")
        endpoint = (
            settings.s3_endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        )
        return S3Storage(
            parsed.netloc, parsed.path.strip("/"), endpoint_url=endpoint or None, region=settings.s3_region
        )
    if parsed.scheme == "file":
        return LocalStorage(Path(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # a one-letter scheme is a Windows drive
        raise InputError(
            f"storage {value!r}: unsupported scheme '{parsed.scheme}'; use a folder path, file:///folder "
            "or s3://bucket/prefix"
        )
    return LocalStorage(Path(value))
