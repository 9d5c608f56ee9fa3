"""A real browser, a real uploader: headless Chromium loads the unmodified npm packages
``@uppy/core`` and ``@uppy/aws-s3`` (6.x and 5.x, tests/browser/), pointed at the ASGI backend
of ``resilient_s3.uppy``; the file goes in parts straight to the real S3 server.

Chromium comes from Debian (the fixture runs ``apt-get install chromium`` when it is missing and
this is root) and is driven by Python playwright with ``executable_path``; the Uppy bundles are
built with npm and esbuild from the lock files. The tests skip, saying why, only where those
cannot be had.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resilient_s3 import Presigner, ResilientUploader
from resilient_s3.testing import S3Server
from s3_helpers import admin_session, installed, open_uploads, stored_sha256

MiB = 1024 * 1024
BROWSER_DIR = Path(__file__).resolve().parents[1] / "browser"
MAJORS = ("6", "5")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    found = installed("chromium", "chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip(
            "chromium is not installed and could not be (Debian: apt-get install chromium, as root)"
        )
    return found


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each Uppy major's page script, built from its lock file."""
    npm = installed("npm", "npm")
    if npm is None:
        pytest.skip("npm is not installed and could not be (Debian: apt-get install npm, as root)")
    out = tmp_path_factory.mktemp("bundles")
    built = {}
    for major in MAJORS:
        folder = BROWSER_DIR / f"uppy{major}"
        if not (folder / "node_modules" / "@uppy" / "aws-s3").is_dir():
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=folder,
                check=True,
                capture_output=True,
                timeout=300,
            )
        bundle = out / f"uppy{major}.js"
        subprocess.run(
            [npm, "run", "--silent", "build"],
            cwd=folder,
            env={**os.environ, "OUT": str(bundle)},
            check=True,
            capture_output=True,
            timeout=120,
        )
        built[major] = bundle
    return built


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope: playwright's sync API holds an event loop in this thread while it runs,
    # and the async tests of other modules need the thread free of it.
    executable = chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


class Site:
    """The page, its Uppy bundles, the file to upload and the Uppy backend, on one origin."""

    def __init__(self, presigner: Presigner, bucket: str, bundles: dict[str, Path], data: Path):
        import uvicorn
        from starlette.applications import Starlette
        from starlette.responses import FileResponse, HTMLResponse
        from starlette.routing import Mount, Route

        from resilient_s3.uppy import uppy_app

        def page(request: Any) -> HTMLResponse:
            major = request.path_params["major"]
            return HTMLResponse(
                f'<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">'
                f'<script src="/bundle/{major}.js"></script>'
            )

        routes = [
            Route("/page/{major}", page),
            Route(
                "/bundle/{major}.js",
                lambda r: FileResponse(
                    bundles[r.path_params["major"]], media_type="text/javascript"
                ),
            ),
            Route("/data.bin", lambda r: FileResponse(data)),
            Mount("/", uppy_app(presigner, bucket=bucket, prefix="incoming/")),
        ]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.origin = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            Starlette(routes=routes), host="127.0.0.1", port=port, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> Site:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)


def allow_browser(client: Any, bucket: str, origin: str, *, expose_etag: bool) -> None:
    rule = {
        "AllowedOrigins": [origin],
        "AllowedMethods": ["GET", "PUT", "POST", "HEAD"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag", "Location"] if expose_etag else ["Location"],
        "MaxAgeSeconds": 300,
    }
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})


def upload_in_browser(browser: Any, site: Site, major: str, timeout: float = 90) -> dict[str, Any]:
    page = browser.new_page()
    try:
        page.goto(f"{site.origin}/page/{major}")
        page.wait_for_function(f"document.title === 'uppy {major} ready'", timeout=20_000)
        page.evaluate(
            """cfg => { window.upload(cfg) }""",
            {
                "endpoint": site.origin,
                "dataUrl": f"{site.origin}/data.bin",
                "name": "holiday video.mp4",
                "type": "video/mp4",
                "chunkSize": 5 * MiB,
            },
        )
        # Uppy 4/5 wait forever for an ETag they cannot read: the state then says "running".
        with contextlib.suppress(Exception):
            page.wait_for_function("window.state.status !== 'running'", timeout=timeout * 1000)
        state: dict[str, Any] = page.evaluate("window.state")
        state["info"] = page.evaluate("window.uppyInfo")
        return state
    finally:
        page.close()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "video.mp4"
    path.write_bytes(os.urandom(30 * MiB))
    return path


@pytest.mark.parametrize("major", MAJORS)
def test_stock_uppy_uploads_in_parts_straight_to_s3(
    major: str,
    browser: Any,
    bundles: dict[str, Path],
    s3_server: S3Server,
    s3_bucket: str,
    s3_client: Any,
    data: Path,
) -> None:
    with (
        Presigner(admin_session(s3_server), endpoint_url=s3_server.endpoint_url) as presigner,
        Site(presigner, s3_bucket, bundles, data) as site,
    ):
        allow_browser(s3_client, s3_bucket, site.origin, expose_etag=True)
        assert presigner.check_cors(s3_bucket, site.origin, "multipart").ok
        state = upload_in_browser(browser, site, major)
    assert state["info"]["core"].startswith(major), state["info"]
    assert state["status"] == "success", state
    assert state["parts"] == 6  # 30 MiB in 5 MiB parts, each ETag read by the page
    key = state["key"]
    assert key.startswith("incoming/")
    assert key.endswith("/holiday video.mp4")
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    assert stored_sha256(s3_client, s3_bucket, key) == digest
    assert open_uploads(s3_client, s3_bucket) == []


def test_a_bucket_that_hides_the_etag_is_caught_by_the_cors_checker(
    browser: Any,
    bundles: dict[str, Path],
    s3_server: S3Server,
    s3_bucket: str,
    s3_client: Any,
    data: Path,
) -> None:
    with (
        Presigner(admin_session(s3_server), endpoint_url=s3_server.endpoint_url) as presigner,
        Site(presigner, s3_bucket, bundles, data) as site,
    ):
        allow_browser(s3_client, s3_bucket, site.origin, expose_etag=False)
        report = presigner.check_cors(s3_bucket, site.origin, "multipart")
        state = upload_in_browser(browser, site, "6")
    assert not report.ok
    assert any("ETag" in finding.problem and finding.blocking for finding in report.findings)
    assert any("ETag" in str(rule.get("ExposeHeaders")) for rule in report.suggested_rules)
    # What the checker predicts is what a real browser hits.
    assert state["status"] == "error"
    assert "etag" in str(state["error"]).lower(), state
    # Uppy 6 leaves the multipart upload open on error; cleanup sweeps it.
    assert len(open_uploads(s3_client, s3_bucket)) == 1
    with ResilientUploader(admin_session(s3_server), endpoint_url=s3_server.endpoint_url) as up:
        report_ = up.cleanup(s3_bucket, "incoming/", older_than=0)
    assert len(report_.aborted) == 1
    assert open_uploads(s3_client, s3_bucket) == []
