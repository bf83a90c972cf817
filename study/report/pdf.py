"""The PDF: the static variant of the report page (figures as SVG from kaleido), printed by
headless Chromium, the browser kaleido itself drives; no second layout to keep in step.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from study.errors import ReportError
from study.files import write_atomic

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PDF_TIMEOUT_SECONDS = 180
CHROMIUM_HINT = "install Chromium (`apt-get install chromium`) or set BROWSER_PATH to a Chrome"


def find_chromium() -> str:
    """The Chrome or Chromium that kaleido and the PDF printer use (``$BROWSER_PATH`` first)."""
    for candidate in (os.environ.get("BROWSER_PATH"), *CHROMIUM_NAMES):
        if candidate and (path := shutil.which(candidate)):
            return path
    raise ReportError(f"the PDF needs a Chrome or Chromium, none found; {CHROMIUM_HINT}")


@contextmanager
def static_export() -> Iterator[None]:
    """Keeps one kaleido browser open for all figures: starting one costs seconds each."""
    import kaleido

    previous = os.environ.get("BROWSER_PATH")
    # Where choreographer (kaleido's browser driver) looks first: the same browser as the PDF.
    os.environ["BROWSER_PATH"] = find_chromium()
    kaleido.start_sync_server(silence_warnings=True)
    try:
        with warnings.catch_warnings():
            # plotly passes kaleido options that a running server ignores; nothing to act on.
            warnings.filterwarnings("ignore", "The kopts argument", UserWarning)
            yield
    except Exception as exc:
        if type(exc).__module__.startswith(("kaleido", "choreographer")):
            raise ReportError(f"static figure export failed ({exc}); {CHROMIUM_HINT}") from None
        raise
    finally:
        kaleido.stop_sync_server(silence_warnings=True)
        if previous is None:
            del os.environ["BROWSER_PATH"]
        else:
            os.environ["BROWSER_PATH"] = previous


def print_pdf(html_text: str, pdf_path: Path) -> Path:
    """Prints an HTML page to PDF with headless Chromium, offline and without a profile."""
    with tempfile.TemporaryDirectory(prefix="lenet-report-") as tmp:
        page_path = Path(tmp) / "report-static.html"
        page_path.write_text(html_text, encoding="utf-8")
        partial = Path(tmp) / "report.pdf"
        command = [
            find_chromium(),
            "--headless",
            "--no-sandbox",  # containers and root have no user namespaces for the sandbox
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={partial}",
            page_path.as_uri(),
        ]
        try:
            subprocess.run(command, capture_output=True, timeout=PDF_TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            raise ReportError(
                f"Chromium did not print the PDF in {PDF_TIMEOUT_SECONDS} s"
            ) from None
        if not partial.is_file() or partial.stat().st_size == 0:
            raise ReportError(f"Chromium ({command[0]}) wrote no PDF; {CHROMIUM_HINT}")
        write_atomic(pdf_path, partial.read_bytes())
    return pdf_path
