"""HTML from Jinja2 templates, PDF from that HTML with headless Chromium.

Why Chromium rather than WeasyPrint: the same engine renders the page a manager opens in a
browser and the PDF, so the two cannot drift apart (flexbox/grid layouts, SVG figures with
system fonts, ``@page`` and ``break-inside`` all behave the same); the browser tests need it
anyway, it is a Debian package (``scripts/system-deps.sh``) rather than another Python
dependency, and it runs fully offline with networking, sync and updates switched off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from saferoad.observability import span

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("saferoad.adapters.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = lambda v, d=1: "—" if v is None else f"{v:,.{d}f}"
    env.filters["signed"] = lambda v, d=1: "" if v is None else f"{v:+.{d}f}"
    return env


ENV = _environment()


def render_html(template: str, context: dict[str, Any]) -> str:
    with span("report.html", template=template):
        return ENV.get_template(template).render(**context)


def chromium_path() -> str:
    """The Chromium binary (``$SAFEROAD_CHROMIUM`` or ``chromium`` on ``PATH``)."""
    found = (
        os.environ.get("SAFEROAD_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    if not found:
        raise FileNotFoundError(
            "chromium not found: PDF reports need Debian's chromium package "
            "(scripts/system-deps.sh installs it) or $SAFEROAD_CHROMIUM"
        )
    return found


def chromium(args: list[str], timeout_s: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with a throw-away profile and no network services."""
    with tempfile.TemporaryDirectory(prefix="saferoad-chromium-") as profile:
        cmd = [chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)


def html_to_pdf(html_path: Path, pdf_path: Path, timeout_s: float = 120.0) -> Path:
    """Print an HTML file to PDF (A4, the page's own ``@page`` rules, no header or footer)."""
    pdf_path = pdf_path.resolve()
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = pdf_path.with_name(f".{pdf_path.name}.part")
    with span("report.pdf", html=str(html_path)):
        proc = chromium(
            [
                "--no-pdf-header-footer",
                "--run-all-compositor-stages-before-draw",
                "--virtual-time-budget=5000",
                f"--print-to-pdf={tmp}",
                html_path.resolve().as_uri(),
            ],
            timeout_s,
        )
        if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            tmp.unlink(missing_ok=True)
            raise RuntimeError(
                f"chromium could not print {html_path} to PDF (exit {proc.returncode}): "
                f"{proc.stderr.strip()[-800:]}"
            )
        os.replace(tmp, pdf_path)
    return pdf_path


def write_report(template: str, context: dict[str, Any], output: Path) -> Path:
    """Render ``template`` to ``output``: ``.html`` as is, ``.pdf`` through Chromium (the HTML
    is kept beside it only when asked for separately)."""
    html = render_html(template, context)
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    suffix = output.suffix.lower()
    if suffix in (".html", ".htm"):
        tmp = output.with_name(f".{output.name}.part")
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, output)
        return output
    if suffix == ".pdf":
        with tempfile.TemporaryDirectory(prefix="saferoad-report-") as d:
            page = Path(d) / "report.html"
            page.write_text(html, encoding="utf-8")
            return html_to_pdf(page, output)
    raise ValueError(f"{output}: report name must end in .html or .pdf")
