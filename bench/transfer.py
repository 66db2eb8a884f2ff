"""Pull throughput through the connector's data plane against a plain static server.

Creates a sparse file of ``--size`` bytes (1 GiB by default) in a temporary folder, offers it from
a provider connector (uvicorn process, SQLite), negotiates and starts an ``HttpData-PULL``
transfer from a consumer connector, then downloads the file with the transfer's bearer token from
the provider's ``/public/data``, and the same file from nginx (``sendfile on``) on another
loopback port; without nginx it falls back to ``python -m http.server`` and says so. Both
downloads use the same client (httpx, streaming, same chunk size, written to /dev/null). Prints
MB/s (10^6 bytes/s) for both, their ratio, and the provider process's peak RSS.

    python bench/transfer.py                   # 1 GiB, best of 3
    python bench/transfer.py --quick           # 64 MiB
    python bench/transfer.py --size 256M --repeat 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from tests.e2e.procs import (  # noqa: E402
    Cluster,
    catalog_offer,
    edr,
    free_port,
    publish,
    start_negotiation,
    start_transfer,
    wait_negotiation,
    wait_transfer,
    wait_until,
)

ASSET = "bench-blob"
FILE_NAME = "blob.bin"
CHUNK = 256 * 1024
UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}
PULL_TIMEOUT = 600.0


def parse_size(text: str) -> int:
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = text[-1] if text and text[-1] in UNITS else ""
    number = text[: len(text) - len(unit)]
    return int(float(number) * UNITS[unit])


def make_sparse(path: Path, size: int) -> None:
    """A file of ``size`` bytes, written in no time: a short header and a hole."""
    with path.open("wb") as f:
        f.write(b"twinspace transfer benchmark\n"[:size])
        f.truncate(size)
    path.chmod(0o644)


def warm_page_cache(path: Path) -> None:
    """Read the file once, untimed: whoever reads it first would otherwise pay for the cache."""
    with path.open("rb") as f:
        while f.read(8 * 1024 * 1024):
            pass


@dataclass
class Pull:
    nbytes: int
    seconds: float

    @property
    def mb_s(self) -> float:
        return self.nbytes / self.seconds / 1e6


def download(url: str, headers: dict[str, str], chunk: int) -> Pull:
    """Stream ``url`` to /dev/null in ``chunk``-sized reads."""
    started = time.perf_counter()
    nbytes = 0
    with (
        open(os.devnull, "wb") as sink,
        httpx.stream("GET", url, headers=headers, timeout=PULL_TIMEOUT) as response,
    ):
        response.raise_for_status()
        for block in response.iter_raw(chunk):
            sink.write(block)
            nbytes += len(block)
    return Pull(nbytes, time.perf_counter() - started)


def download_curl(curl: str, url: str, headers: dict[str, str]) -> Pull:
    """The same download with curl (a C client), to see the servers past Python's client."""
    args = [curl, "--silent", "--show-error", "--fail", "--output", os.devnull]
    for name, value in headers.items():
        args += ["--header", f"{name}: {value}"]
    args += ["--write-out", "%{size_download}", url]
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, timeout=PULL_TIMEOUT, check=True)
    return Pull(int(float(done.stdout.strip() or 0)), time.perf_counter() - started)


def peak_rss(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) of ``pid`` in bytes: psutil if installed, else /proc."""
    try:
        import psutil  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        return _vm(pid, "VmRSS"), _vm(pid, "VmHWM")
    info = psutil.Process(pid).memory_info()
    # Linux keeps the high-water mark in /proc only; other systems name it peak_wset/peak_rss
    peak = getattr(info, "peak_wset", None) or getattr(info, "peak_rss", None)
    return int(info.rss), int(peak or _vm(pid, "VmHWM") or info.rss)


def _vm(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


class StaticServer:
    """nginx on a free loopback port serving ``folder`` (or python -m http.server without it)."""

    def __init__(self, folder: Path, work: Path) -> None:
        self.folder = folder
        self.work = work
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.kind = ""
        self.note = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{FILE_NAME}"

    def start(self) -> StaticServer:
        nginx = shutil.which("nginx") or next(
            (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)),
            None,
        )
        log = (self.work / "static.log").open("wb")
        if nginx:
            conf = self.work / "nginx.conf"
            conf.write_text(self._nginx_conf())
            self.proc = subprocess.Popen(
                [nginx, "-p", str(self.work), "-c", str(conf), "-e", str(self.work / "error.log")],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            self.kind = "nginx (sendfile on)"
        else:
            self.note = "nginx not found (apt-get install nginx-light); using python -m http.server"
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1"],
                cwd=self.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            self.kind = "python -m http.server"
        wait_until(self._ready, 30, what=f"{self.kind} to listen")
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.kind} exited: {(self.work / 'static.log').read_text()}")
        try:
            return httpx.head(self.url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def _nginx_conf(self) -> str:
        w = self.work
        user = "user root;\n" if os.geteuid() == 0 else ""
        return f"""{user}worker_processes 1;
daemon off;
pid {w}/nginx.pid;
error_log {w}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {w}/body;
    proxy_temp_path {w}/proxy;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.folder};
        location / {{ }}
    }}
}}
"""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT if "nginx" in self.kind else signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def best(pulls: list[Pull]) -> Pull:
    return max(pulls, key=lambda p: p.mb_s)


def runs(pulls: list[Pull]) -> str:
    return ", ".join(f"{p.mb_s:.0f}" for p in pulls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default=None, help="file size, e.g. 1G, 256M (default 1G)")
    parser.add_argument("--repeat", type=int, default=3, help="downloads of each; best counts")
    parser.add_argument("--chunk", default="256K", help="client read size (default 256K)")
    parser.add_argument("--quick", action="store_true", help="64 MiB instead of 1 GiB")
    parser.add_argument("--no-curl", action="store_true", help="skip the extra curl downloads")
    args = parser.parse_args()
    size = parse_size(args.size or ("64M" if args.quick else "1G"))
    chunk = parse_size(args.chunk)
    repeat = max(1, min(args.repeat, 10))
    if not 1 <= size <= 64 * 1024**3:
        parser.error("--size must be between 1 byte and 64 GiB")

    with (
        tempfile.TemporaryDirectory(prefix="twinspace-bench-") as tmp,
        Cluster(Path(tmp), fast=False) as cluster,
    ):
        root = Path(tmp)
        served = root / "static"
        served.mkdir()
        root.chmod(0o755)
        served.chmod(0o755)
        blob = served / FILE_NAME
        make_sparse(blob, size)
        warm_page_cache(blob)

        provider = cluster.participant("provider")
        consumer = cluster.participant("consumer")
        publish(provider, ASSET, blob)
        offer = catalog_offer(consumer, provider.dsp_url, ASSET)
        nid = start_negotiation(consumer, provider.dsp_url, offer)
        agreement_id = wait_negotiation(consumer, nid, "FINALIZED")["contractAgreementId"]
        tid = start_transfer(consumer, provider.dsp_url, agreement_id)
        wait_transfer(consumer, tid, "STARTED")
        endpoint, token = edr(consumer, tid)
        rss_before, _ = peak_rss(provider.pid)

        static = StaticServer(served, root).start()
        try:
            print(
                f"pull: {size / 1024**2:.0f} MiB sparse file, client reads {chunk // 1024} KiB "
                f"chunks to /dev/null, best of {repeat}",
                flush=True,
            )
            if static.note:
                print(f"note: {static.note}", flush=True)
            bearer = {"Authorization": f"Bearer {token}"}
            static_pulls: list[Pull] = []
            connector_pulls: list[Pull] = []
            for _ in range(repeat):  # interleaved, so neither gets a warmer machine
                static_pulls.append(download(static.url, {}, chunk))
                connector_pulls.append(download(endpoint, bearer, chunk))
            curl = shutil.which("curl") if not args.no_curl else None
            curl_static: list[Pull] = []
            curl_connector: list[Pull] = []
            for _ in range(repeat if curl else 0):
                assert curl is not None
                curl_static.append(download_curl(curl, static.url, {}))
                curl_connector.append(download_curl(curl, endpoint, bearer))
        finally:
            static.stop()
        for name, pulls in (
            ("static", static_pulls + curl_static),
            ("connector", connector_pulls + curl_connector),
        ):
            for p in pulls:
                if p.nbytes != size:
                    raise SystemExit(f"{name} pull returned {p.nbytes} bytes, expected {size}")
        rss_now, rss_peak = peak_rss(provider.pid)

        s, c = best(static_pulls), best(connector_pulls)
        print(f"static server:   {s.mb_s:10.1f} MB/s  ({static.kind}; runs: {runs(static_pulls)})")
        print(
            f"connector:       {c.mb_s:10.1f} MB/s  (GET /public/data with the EDR; "
            f"runs: {runs(connector_pulls)})"
        )
        print(f"ratio:           {c.mb_s / s.mb_s:10.2f}  (connector / static)")
        if curl_static:
            cs, cc = best(curl_static), best(curl_connector)
            print("with curl as the client (a C client, not the limit itself):")
            print(f"  static server: {cs.mb_s:10.1f} MB/s  (runs: {runs(curl_static)})")
            print(f"  connector:     {cc.mb_s:10.1f} MB/s  (runs: {runs(curl_connector)})")
            print(f"  ratio:         {cc.mb_s / cs.mb_s:10.2f}  (connector / static)")
        print(
            f"provider RSS:    {rss_peak / 1024**2:10.1f} MiB peak (VmHWM); "
            f"{rss_before / 1024**2:.1f} MiB before the pulls, {rss_now / 1024**2:.1f} MiB after"
        )


if __name__ == "__main__":
    main()
