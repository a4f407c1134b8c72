"""Starts a real `bleepstore` process for the client suite and hands out boto3 / AWS CLI helpers."""

import os
import subprocess
import tempfile

import boto3
import pytest
from botocore.config import Config

ACCESS_KEY = "CLIENTSUITEKEY"
SECRET_KEY = "client-suite-secret-key"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _binary():
    path = os.environ.get("BLEEPSTORE_BIN", os.path.join(REPO, "target", "debug", "bleepstore"))
    if not os.path.exists(path):
        pytest.fail(f"bleepstore binary not found at {path}; build it with `cargo build -p bleepstore`")
    return path


@pytest.fixture(scope="session")
def server():
    data_dir = tempfile.mkdtemp(prefix="bleepstore-clients-")
    env = dict(os.environ, BLEEPSTORE_ROOT_ACCESS_KEY=ACCESS_KEY, BLEEPSTORE_ROOT_SECRET_KEY=SECRET_KEY)
    env.pop("BLEEPSTORE_CONFIG", None)
    proc = subprocess.Popen(
        [_binary(), "--data-dir", data_dir, "--listen", "127.0.0.1:0", "--log-level", "warn"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    endpoint = None
    for line in proc.stdout:
        if line.startswith("BleepStore is serving S3 at "):
            endpoint = line.split(" at ", 1)[1].strip()
            break
    if endpoint is None:
        proc.kill()
        pytest.fail("bleepstore exited before serving")
    yield {"endpoint": endpoint, "data_dir": data_dir}
    proc.kill()
    proc.wait()


@pytest.fixture(scope="session")
def s3(server):
    return boto3.client(
        "s3",
        endpoint_url=server["endpoint"],
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="session")
def aws(server, tmp_path_factory):
    """Runs the AWS CLI (from the venv) against the server; returns its stdout."""
    home = tmp_path_factory.mktemp("awshome")
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(home / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"),
    )

    def run(*args):
        cmd = ["aws", "--endpoint-url", server["endpoint"], *args]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        assert out.returncode == 0, f"{' '.join(cmd)} failed: {out.stderr}"
        return out.stdout

    return run
