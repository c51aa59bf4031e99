"""S3 fixtures any test suite can reuse: a real S3-compatible server on loopback
(moto's server mode) and a fresh bucket per test.

In a suite's conftest.py::

    from tests.s3_fixtures import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures, used by name)

then take ``s3_bucket`` in a test: a new, empty bucket on the server, with the
``AWS_*`` variables set to test credentials for the test's duration. Its ``url()``
gives a ``REEL_BLOB_URL`` and ``endpoint_url`` the ``REEL_S3_ENDPOINT_URL``.

The server is ``moto.server.ThreadedMotoServer`` bound to 127.0.0.1, port 0, run in
a child process (one per pytest session): the test process then measures only its
own memory and CPU, and boto3 talks to it over real HTTP as it would to MinIO or AWS.
Its state is reset after each test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

TEST_REGION = "us-east-1"

_SERVER = """
import sys
from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # runs until the parent closes our stdin
server.stop()
"""


@dataclass
class S3Bucket:
    endpoint_url: str
    name: str
    client: Any  # a boto3 S3 client for the test's own checks

    def url(self, prefix: str = "reels") -> str:
        """``s3://<bucket>/<prefix>``, as REEL_BLOB_URL takes it."""
        return f"s3://{self.name}/{prefix}" if prefix else f"s3://{self.name}"

    def enable_versioning(self) -> None:
        self.client.put_bucket_versioning(Bucket=self.name, VersioningConfiguration={"Status": "Enabled"})

    def keys(self) -> list[str]:
        return [o["Key"] for o in self.client.list_objects_v2(Bucket=self.name).get("Contents", [])]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The endpoint URL of a moto S3 server on loopback for this pytest session."""
    with tempfile.TemporaryFile() as errors:
        # Objects stay in the server's memory (moto spills larger ones to a temporary
        # file and rereads all of it for every ranged GET).
        env = dict(os.environ, MOTO_S3_DEFAULT_KEY_BUFFER_SIZE=str(256 * 1024 * 1024))
        proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        try:
            assert proc.stdout is not None and proc.stdin is not None
            line = proc.stdout.readline().strip()
            if not line.isdigit():
                proc.wait(timeout=10)
                errors.seek(0)
                tail = errors.read().decode(errors="replace")[-2000:]
                pytest.fail(f"moto server did not start (exit {proc.returncode}):\n{tail}")
            yield f"http://127.0.0.1:{int(line)}"
        finally:
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def s3_env(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Test credentials in the standard AWS variables (nothing from ~/.aws, no
    instance metadata); returns the endpoint URL."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", TEST_REGION)
    monkeypatch.setenv("AWS_REGION", TEST_REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    return s3_server


@pytest.fixture
def s3_bucket(s3_env: str) -> Iterator[S3Bucket]:
    """A new empty, unversioned bucket; the server forgets everything afterwards."""
    client = boto3.client("s3", endpoint_url=s3_env, region_name=TEST_REGION)
    bucket = S3Bucket(s3_env, f"reels-{uuid.uuid4().hex[:12]}", client)
    client.create_bucket(Bucket=bucket.name)
    try:
        yield bucket
    finally:
        request = urllib.request.Request(f"{s3_env}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()
