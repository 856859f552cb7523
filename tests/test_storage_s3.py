"""Storage against real endpoints: S3 is a moto server on loopback (real HTTP, boto3 unchanged), local is a folder.

A package is either published complete or not visible at all, also when an upload or the publish
step fails half-way; presigned links download over plain HTTP.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from schemas.errors import InputError
from tasks.settings import Settings
from tasks.storage import MB, LocalStorage, S3Storage, StorageError, clean_key, storage_from_uri

SECRET = "not-a-real-secret-7f3a"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch, tmp_path) -> None:
    """Credentials through the standard chain (environment); no real AWS configuration is read."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def bucket(moto_endpoint) -> str:
    name = f"packages-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


def _raw_keys(endpoint: str, bucket: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def _pending_uploads(endpoint: str, bucket: str) -> list[dict]:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    return client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def _file(path: Path, size: int, seed: int = 1) -> Path:
    block = hashlib.sha256(str(seed).encode()).digest() * 32768  # 1 MiB of non-repeating-per-seed bytes
    with path.open("wb") as handle:
        remaining = size
        while remaining > 0:
            handle.write(block[: min(remaining, len(block))])
            remaining -= len(block)
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- S3


def test_s3_put_list_get_round_trip(moto_endpoint, bucket, tmp_path) -> None:
    """Stored packages are listed under the prefix, fetched back byte for byte, and nothing temporary shows."""
    # Setup
    storage = S3Storage(bucket, "challenges/2024", endpoint_url=moto_endpoint, region="us-east-1")
    full = _file(tmp_path / "full.zip", 3000, seed=1)
    learner = _file(tmp_path / "learner.zip", 1000, seed=2)

    # Run
    uri = storage.put(full, "run-1/codebasics_data_challenge_x.zip")
    storage.put(learner, "run-1/codebasics_data_challenge_x_learner.zip")
    fetched = storage.get("run-1/codebasics_data_challenge_x.zip", tmp_path / "back" / "full.zip")

    # Assert
    assert uri == f"s3://{bucket}/challenges/2024/run-1/codebasics_data_challenge_x.zip"
    assert storage.list() == ["run-1/codebasics_data_challenge_x.zip", "run-1/codebasics_data_challenge_x_learner.zip"]
    assert storage.list("run-1/codebasics_data_challenge_x_l") == ["run-1/codebasics_data_challenge_x_learner.zip"]
    assert storage.list("run-2/") == []
    assert storage.exists("run-1/codebasics_data_challenge_x.zip")
    assert not storage.exists("run-1/other.zip")
    assert _digest(fetched) == _digest(full)
    assert _raw_keys(moto_endpoint, bucket) == [
        "challenges/2024/run-1/codebasics_data_challenge_x.zip",
        "challenges/2024/run-1/codebasics_data_challenge_x_learner.zip",
    ]


def test_s3_large_file_goes_up_in_parts(moto_endpoint, bucket, tmp_path) -> None:
    """Large packages use multipart upload (S3's 5 GB single-PUT limit) and arrive intact."""
    # Setup
    storage = S3Storage(
        bucket, endpoint_url=moto_endpoint, region="us-east-1", multipart_threshold=5 * MB, multipart_chunksize=5 * MB
    )
    big = _file(tmp_path / "big.zip", 11 * MB)
    parts: list[int] = []
    storage.client.meta.events.register("before-call.s3.UploadPart", lambda params, **_: parts.append(1))

    # Run
    storage.put(big, "big.zip")

    # Assert
    assert len(parts) == 3
    assert _digest(storage.get("big.zip", tmp_path / "big-back.zip")) == _digest(big)
    assert _pending_uploads(moto_endpoint, bucket) == []


def test_s3_presigned_url_downloads_over_plain_http(moto_endpoint, bucket, tmp_path) -> None:
    """`datafactory download` hands out a presigned link that any HTTP client can fetch."""
    # Setup
    storage = S3Storage(bucket, "p", endpoint_url=moto_endpoint, region="us-east-1")
    package = _file(tmp_path / "pkg.zip", 5000)
    storage.put(package, "run-9/pkg.zip")

    # Run
    link = storage.url("run-9/pkg.zip", expires=600)
    with urllib.request.urlopen(link) as response:
        body = response.read()

    # Assert
    assert link.startswith(f"{moto_endpoint}/{bucket}/p/run-9/pkg.zip?")
    assert "X-Amz-Signature=" in link and "X-Amz-Expires=600" in link
    assert SECRET not in link
    assert hashlib.sha256(body).hexdigest() == _digest(package)


def test_s3_url_of_a_missing_package_says_so(moto_endpoint, bucket) -> None:
    storage = S3Storage(bucket, endpoint_url=moto_endpoint, region="us-east-1")
    with pytest.raises(StorageError, match=r"no object s3://.*/run-0/none\.zip"):
        storage.url("run-0/none.zip")


def test_s3_failed_upload_leaves_no_visible_package(moto_endpoint, bucket, tmp_path) -> None:
    """A connection lost half-way through a multipart upload publishes nothing and leaves no parts behind."""
    # Setup
    storage = S3Storage(
        bucket,
        "pk",
        endpoint_url=moto_endpoint,
        region="us-east-1",
        multipart_threshold=5 * MB,
        multipart_chunksize=5 * MB,
    )
    big = _file(tmp_path / "big.zip", 11 * MB)
    calls: list[int] = []

    def fail_second_part(params, **_):
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("network dropped")

    storage.client.meta.events.register("before-call.s3.UploadPart", fail_second_part)

    # Run
    with pytest.raises(StorageError, match=r"storing s3://.*/pk/run-1/pkg\.zip failed, nothing was published"):
        storage.put(big, "run-1/pkg.zip")

    # Assert
    assert storage.list() == []
    assert not storage.exists("run-1/pkg.zip")
    assert _raw_keys(moto_endpoint, bucket) == []
    assert _pending_uploads(moto_endpoint, bucket) == []


def test_s3_failed_publish_keeps_the_previous_package(moto_endpoint, bucket, tmp_path) -> None:
    """If the final copy fails, the key still holds the previous complete package and the upload is removed."""
    # Setup
    storage = S3Storage(bucket, endpoint_url=moto_endpoint, region="us-east-1")
    old = _file(tmp_path / "old.zip", 2000, seed=1)
    new = _file(tmp_path / "new.zip", 4000, seed=2)
    storage.put(old, "run-1/pkg.zip")

    def refuse(params, **_):
        raise ConnectionError("publish interrupted")

    storage.client.meta.events.register("before-call.s3.CopyObject", refuse)
    storage.client.meta.events.register("before-call.s3.UploadPartCopy", refuse)

    # Run
    with pytest.raises(StorageError, match="nothing was published"):
        storage.put(new, "run-1/pkg.zip")

    # Assert
    assert _raw_keys(moto_endpoint, bucket) == ["run-1/pkg.zip"]
    assert _digest(storage.get("run-1/pkg.zip", tmp_path / "back.zip")) == _digest(old)


def test_s3_missing_bucket_is_named_with_the_fix(moto_endpoint, tmp_path) -> None:
    storage = S3Storage("no-such-bucket-here", endpoint_url=moto_endpoint, region="us-east-1")
    with pytest.raises(StorageError, match="NoSuchBucket: the bucket does not exist; create it"):
        storage.put(_file(tmp_path / "a.zip", 10), "a.zip")


def test_s3_without_credentials_explains_the_chain_and_shows_no_secret(moto_endpoint, monkeypatch, tmp_path) -> None:
    """Credentials come only from the AWS chain; an empty chain gets a clear message, never a key."""
    # Setup
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    storage = S3Storage("some-bucket", endpoint_url=moto_endpoint, region="us-east-1")

    # Run
    with pytest.raises(StorageError) as error:
        storage.put(_file(tmp_path / "a.zip", 10), "a.zip")

    # Assert
    assert "no AWS credentials found; set AWS_ACCESS_KEY_ID" in str(error.value)
    assert "some-bucket" in repr(storage) and SECRET not in repr(storage)


def test_s3_storage_rejects_bad_bucket_and_tiny_parts() -> None:
    with pytest.raises(InputError, match="S3 bucket name 'Bad_Bucket' is not valid"):
        S3Storage("Bad_Bucket")
    with pytest.raises(InputError, match="below S3's 5 MB minimum part size"):
        S3Storage("fine-bucket", multipart_chunksize=MB)


# --------------------------------------------------------------------------- configuration


def test_storage_from_uri_builds_s3_from_settings(moto_endpoint, bucket, tmp_path) -> None:
    """`--storage s3://bucket/prefix` with the endpoint and region from settings reaches that endpoint."""
    # Setup
    settings = Settings(output_dir=tmp_path, s3_endpoint_url=moto_endpoint, s3_region="us-east-1")

    # Run
    storage = storage_from_uri(f"s3://{bucket}/team/challenges/", settings)
    storage.put(_file(tmp_path / "x.zip", 100), "run-3/x.zip")

    # Assert
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix, storage.endpoint_url) == (bucket, "team/challenges/", moto_endpoint)
    assert _raw_keys(moto_endpoint, bucket) == ["team/challenges/run-3/x.zip"]


def test_storage_from_uri_reads_endpoint_from_aws_env(moto_endpoint, bucket, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    storage = storage_from_uri(f"s3://{bucket}", Settings(output_dir=tmp_path))
    storage.put(_file(tmp_path / "x.zip", 100), "x.zip")
    assert storage.list() == ["x.zip"]


def test_storage_from_uri_local_forms(tmp_path) -> None:
    settings = Settings(output_dir=tmp_path / "out", storage=str(tmp_path / "configured"))
    assert storage_from_uri("", settings).root == (tmp_path / "out" / "packages").resolve()
    assert storage_from_uri(None, settings).root == (tmp_path / "configured").resolve()
    assert storage_from_uri(str(tmp_path / "x"), settings).root == (tmp_path / "x").resolve()
    assert storage_from_uri((tmp_path / "y").as_uri(), settings).root == (tmp_path / "y").resolve()


@pytest.mark.parametrize(
    ("uri", "message"),
    [("gs://bucket/x", "unsupported scheme 'gs'"), ("s3:///prefix", "names no bucket"), ("s3://UP/x", "not valid")],
)
def test_storage_from_uri_rejects_unknown_forms(uri, message, tmp_path) -> None:
    with pytest.raises(InputError, match=message):
        storage_from_uri(uri, Settings(output_dir=tmp_path))


# --------------------------------------------------------------------------- local folder and keys


def test_local_put_list_get_url(tmp_path) -> None:
    # Setup
    storage = LocalStorage(tmp_path / "store")
    package = _file(tmp_path / "pkg.zip", 1234)

    # Run
    stored = storage.put(package, "run-1/pkg.zip")
    back = storage.get("run-1/pkg.zip", tmp_path / "back.zip")

    # Assert
    assert stored == str((tmp_path / "store" / "run-1" / "pkg.zip").resolve())
    assert storage.list() == ["run-1/pkg.zip"] and storage.list("run-2") == []
    assert storage.exists("run-1/pkg.zip") and not storage.exists("run-1/x.zip")
    assert storage.url("run-1/pkg.zip") == Path(stored).as_uri()
    assert _digest(back) == _digest(package)


def test_local_failed_copy_leaves_nothing_visible(tmp_path, monkeypatch) -> None:
    """A disk that fills up half-way leaves neither a partial package nor a temporary file in the listing."""
    # Setup
    storage = LocalStorage(tmp_path / "store")
    package = _file(tmp_path / "pkg.zip", 4096)

    def half_then_fail(source, target):
        Path(target).write_bytes(Path(source).read_bytes()[:100])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tasks.storage.shutil.copyfile", half_then_fail)

    # Run
    with pytest.raises(StorageError, match="No space left on device"):
        storage.put(package, "run-1/pkg.zip")

    # Assert
    assert storage.list() == []
    assert [p.name for p in (tmp_path / "store" / "run-1").iterdir()] == []


@pytest.mark.parametrize(
    "key", ["", "/abs/pkg.zip", "../up.zip", "a/../../b.zip", "a//b.zip", "a\\b.zip", ".incoming/x"]
)
def test_storage_keys_must_be_plain_relative_paths(key, tmp_path) -> None:
    with pytest.raises(InputError, match="storage key"):
        clean_key(key)
    with pytest.raises(InputError):
        LocalStorage(tmp_path).put(_file(tmp_path / "f.zip", 1), key)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["f.zip"]


def test_local_put_of_a_missing_file_is_an_input_error(tmp_path) -> None:
    with pytest.raises(InputError, match="is not a file; build the package first"):
        LocalStorage(tmp_path).put(tmp_path / "missing.zip", "a.zip")
    assert os.listdir(tmp_path) == []
