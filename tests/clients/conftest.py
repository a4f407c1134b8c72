"""Starts a real `bleepstore` process for the client suite and hands out boto3 / AWS CLI helpers."""

import os
import shutil
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


def _self_signed(directory):
    """A certificate for localhost made with the openssl CLI; returns (cert, key) paths."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )
    return cert, key


def _start(scheme):
    data_dir = tempfile.mkdtemp(prefix="bleepstore-clients-")
    env = dict(os.environ, BLEEPSTORE_ROOT_ACCESS_KEY=ACCESS_KEY, BLEEPSTORE_ROOT_SECRET_KEY=SECRET_KEY)
    env.pop("BLEEPSTORE_CONFIG", None)
    args = [_binary(), "--data-dir", os.path.join(data_dir, "data"), "--listen", "127.0.0.1:0",
            "--management-listen", "127.0.0.1:0", "--log-level", "warn"]
    ca = None
    if scheme == "https":
        ca, key = _self_signed(data_dir)
        config = os.path.join(data_dir, "bleepstore.yaml")
        with open(config, "w") as f:
            f.write(f"tls:\n  cert_file: {ca}\n  key_file: {key}\n")
        args += ["--config", config]
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    endpoint = management = None
    for line in proc.stdout:
        if line.startswith("BleepStore is serving S3 at "):
            endpoint = line.split(" at ", 1)[1].strip()
        if line.strip().startswith("management:"):
            management = line.split()[1]
            break
    if endpoint is None:
        proc.kill()
        pytest.fail("bleepstore exited before serving")
    # The certificate names localhost; the CA is passed explicitly, whatever CA-bundle
    # variables the machine sets.
    endpoint = endpoint.replace("127.0.0.1", "localhost")
    return proc, {"endpoint": endpoint, "management": management, "data_dir": data_dir, "ca": ca, "scheme": scheme}


def _stop(proc, info):
    proc.kill()
    proc.wait()
    shutil.rmtree(info["data_dir"], ignore_errors=True)


@pytest.fixture(scope="session", params=["http", "https"])
def server(request):
    """A bleepstore process, once over plain HTTP and once over HTTPS with its own CA."""
    proc, info = _start(request.param)
    yield info
    _stop(proc, info)


@pytest.fixture(scope="session")
def https_server():
    """A bleepstore process over HTTPS only, for the long transfers that run once."""
    proc, info = _start("https")
    yield info
    _stop(proc, info)


def boto3_client(info):
    return boto3.client(
        "s3",
        endpoint_url=info["endpoint"],
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        verify=info["ca"] if info["ca"] else None,
    )


@pytest.fixture(scope="session")
def urlopen(server):
    """urllib.request.urlopen trusting the server's own CA (for presigned URLs)."""
    import ssl
    import urllib.request

    context = ssl.create_default_context(cafile=server["ca"]) if server["ca"] else None

    def open_url(req):
        return urllib.request.urlopen(req, context=context)

    return open_url


@pytest.fixture(scope="session")
def s3(server):
    return boto3_client(server)


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
    env.pop("AWS_CA_BUNDLE", None)
    tls = ["--ca-bundle", server["ca"]] if server["ca"] else []

    def run(*args):
        cmd = ["aws", "--endpoint-url", server["endpoint"], *tls, *args]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        assert out.returncode == 0, f"{' '.join(cmd)} failed: {out.stderr}"
        return out.stdout

    return run
