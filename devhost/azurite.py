"""Find or start Azurite, the Azure Storage emulator, on loopback.

Used by the test session and by ``python -m devhost``. If Azurite already answers on
the default ports (10000 blob, 10002 table) it is reused; otherwise one is started from
``node_modules/.bin/azurite`` with in-memory persistence on free ports and stopped when
the returned handle is closed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORTS = {"blob": 10000, "queue": 10001, "table": 10002}


def connection_string(blob_port: int, queue_port: int, table_port: int) -> str:
    base = "http://127.0.0.1"
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint={base}:{blob_port}/{ACCOUNT};"
        f"QueueEndpoint={base}:{queue_port}/{ACCOUNT};"
        f"TableEndpoint={base}:{table_port}/{ACCOUNT};"
    )


@dataclass
class Azurite:
    """A running Azurite: its connection string, and the process if we started it."""

    connection_string: str
    process: subprocess.Popen | None = None
    log_path: Path | None = field(default=None)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            if self.process.poll() is None:
                self.process.kill()

    def __enter__(self) -> Azurite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _executable() -> str:
    local = REPO_ROOT / "node_modules" / ".bin" / "azurite"
    if local.exists():
        return str(local)
    found = shutil.which("azurite")
    if found:
        return found
    raise RuntimeError(
        "Azurite is not installed: run `make setup` (npm ci installs it into node_modules)"
    )


def ensure_azurite(*, reuse_default: bool = True, timeout_s: float = 30.0) -> Azurite:
    """Return a usable Azurite, starting a private in-memory one if none is running.

    ``TRIBUTARY_STORAGE_CONNECTION`` in the environment wins over everything: it names
    a storage account (real or emulated) to use as is.
    """
    explicit = os.environ.get("TRIBUTARY_STORAGE_CONNECTION")
    if explicit:
        return Azurite(explicit)
    if reuse_default and _listening(DEFAULT_PORTS["blob"]) and _listening(DEFAULT_PORTS["table"]):
        return Azurite(connection_string(*DEFAULT_PORTS.values()))
    ports = {name: _free_port() for name in DEFAULT_PORTS}
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"azurite-{ports['blob']}.log"
    args = [
        _executable(),
        "--inMemoryPersistence",
        "--disableTelemetry",
        "--skipApiVersionCheck",
        "--loose",
        *("--blobHost", "127.0.0.1", "--blobPort", str(ports["blob"])),
        *("--queueHost", "127.0.0.1", "--queuePort", str(ports["queue"])),
        *("--tableHost", "127.0.0.1", "--tablePort", str(ports["table"])),
    ]
    log = open(log_path, "wb")  # noqa: SIM115 - handed to the child process
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Azurite exited early; see {log_path}")
        if all(_listening(p) for p in ports.values()):
            return Azurite(connection_string(*ports.values()), process, log_path)
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"Azurite did not start within {timeout_s} s; see {log_path}")
