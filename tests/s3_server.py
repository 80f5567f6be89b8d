"""A real S3-compatible server on the loopback address for the storage tests: moto's
server mode in a child process, speaking HTTP, with one bucket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import pyarrow.fs

ACCESS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
          "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class S3Server:
    process: subprocess.Popen
    port: int
    bucket: str

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def uri(self, path: str) -> str:
        """An s3:// URI Tune and pyarrow open on this server (credentials: ACCESS)."""
        return f"s3://{self.bucket}/{path}?endpoint_override={self.endpoint}&scheme=http"

    def filesystem(self, allow_bucket_creation: bool = False) -> pyarrow.fs.S3FileSystem:
        return pyarrow.fs.S3FileSystem(
            access_key=ACCESS["AWS_ACCESS_KEY_ID"], secret_key=ACCESS["AWS_SECRET_ACCESS_KEY"],
            endpoint_override=self.endpoint, scheme="http", region="us-east-1",
            allow_bucket_creation=allow_bucket_creation,
        )  # fmt: skip

    def files(self, prefix: str) -> list[str]:
        """Every object under bucket/prefix."""
        selector = pyarrow.fs.FileSelector(f"{self.bucket}/{prefix}", recursive=True,
                                           allow_not_found=True)  # fmt: skip
        infos = self.filesystem().get_file_info(selector)
        return sorted(i.path for i in infos if i.type == pyarrow.fs.FileType.File)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def start_s3_server(bucket: str = "rbrl-test") -> S3Server:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **ACCESS},
    )  # fmt: skip
    server = S3Server(process, port, bucket)
    deadline = time.monotonic() + 60
    while True:
        try:
            server.filesystem(allow_bucket_creation=True).create_dir(bucket)
            return server
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.3)
