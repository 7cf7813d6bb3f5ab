"""`python -m bench viewer`: how long the source viewer takes to show page 250 of a 300-page PDF
with a cited sentence highlighted.

Two parts. The server's: rag.ingest.layout.locate_span finding the sentence's boxes on its page,
in a fresh process (imports and the file's first opening included) and warm. The whole open: a
real `rag serve` over an index of the PDF, a headless Chromium on its page, and
`window.ragViewer.open({collection, doc, start, end, page})` timed until the panel shows the page
(`data-rendered-page` is the page and `data-state` is "ready"), the first time and again; an open
without a highlight mark on the page is a failure, not a figure.

    python -m bench viewer                     # both parts
    python -m bench viewer --no-browser        # the server's part only
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from bench import samples
from bench.common import Table, machine, write_json

CHROMIUM = "/usr/bin/chromium"
TARGET_SECONDS = 2.0
# Ship's log prose: every page differs in its numbers, so each sentence is found on one page only.
_LOG = ("On day {n} the harbour master of Kilwa counted {a} dhows at anchor and {b} at the quay. ",
        "The tide rose {c} centimetres above the mark cut into the old customs house steps. ",
        "Surveyors sounded the channel between the reef and the northern buoy at {d} points. ",
        "Boats carried mangrove poles, dried fish and cement to the islands of the archipelago. ")


def page_paragraphs(n: int) -> list[str]:
    """About 2,000 characters of prose for page `n` (from 1), in three paragraphs."""
    sentences = "".join(s.format(n=n, a=n % 37 + 3, b=n % 11 + 1, c=n * 7 % 90 + 10, d=n % 29 + 12) for s in _LOG)
    return [sentences * 2, sentences * 2, sentences]


def quoted_sentence(n: int) -> str:
    """The sentence of page `n` that the benchmark cites."""
    return _LOG[0].format(n=n, a=n % 37 + 3, b=n % 11 + 1).strip()


def server_part(path: Path, page: int, repeat: int) -> dict:
    """locate_span for the cited sentence: once in a fresh process, then `repeat` times warm."""
    quote = quoted_sentence(page)
    probe = ("import json, sys, time\nt0 = time.perf_counter()\nfrom rag.ingest.layout import locate_span\n"
             "found = locate_span('.pdf', open(sys.argv[1], 'rb').read(), sys.argv[2], [int(sys.argv[3])])\n"
             "print(json.dumps({'seconds': time.perf_counter() - t0, 'method': found.method,"
             " 'pages': [h.page for h in found.pages]}))")
    cold = json.loads(subprocess.run([sys.executable, "-c", probe, str(path), quote, str(page)], check=True,
                                     capture_output=True, text=True, env=_env()).stdout)
    from rag.ingest.layout import locate_span

    data = path.read_bytes()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        found = locate_span(".pdf", data, quote, [page])
        times.append(time.perf_counter() - t0)
    if found.method != "text-layer" or [h.page for h in found.pages] != [page]:
        raise RuntimeError(f"the cited sentence was not found on page {page}: {found}")
    return {"cold_seconds": cold["seconds"], "warm_seconds": statistics.median(times),
            "boxes": [[b.x0, b.y0, b.x1, b.y1] for b in found.pages[0].boxes]}


def browser_part(folder: Path, page: int, repeat: int) -> dict:
    """`rag serve` over the folder, Chromium on its page, the viewer opened at `page`."""
    from playwright.sync_api import sync_playwright

    from bench.load import local_app

    log = Path(tempfile.gettempdir()) / f"rag-viewer-serve-{os.getpid()}.log"
    with local_app(log, corpus=folder) as url:
        doc, start, end = _cited_span(url, quoted_sentence(page))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                              "--disable-component-update", "--no-first-run", "--disable-sync"])
            try:
                tab = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                tab.goto(url)
                tab.wait_for_selector("#question textarea", timeout=60_000)
                if not tab.evaluate("() => typeof window.ragViewer?.open === 'function'"):
                    raise RuntimeError("the page has no window.ragViewer (this build has no source viewer)")
                spec = {"collection": "default", "doc": doc, "start": start, "end": end, "page": page}
                opens, requests = [], []
                for n in range(1 + repeat):
                    opens.append(_open(tab, spec, requests if n == 0 else None))
                    tab.evaluate("() => window.ragViewer.close && window.ragViewer.close()")
            finally:
                browser.close()
    return {"doc": doc, "cold_seconds": opens[0], "warm_seconds": statistics.median(opens[1:]) if repeat else None,
            "opens": opens, "cold_requests": requests}


# Timed in the page itself: from the call to the moment the panel says the page is shown.
_OPEN = """async spec => {
  performance.clearResourceTimings();
  const t0 = performance.now();
  try { await window.ragViewer.open(spec); } catch (e) { return {error: String(e)}; }
  const panel = document.querySelector('[data-testid="source-viewer"]');
  const shown = () => panel && panel.dataset.renderedPage === String(spec.page) && panel.dataset.state === 'ready';
  while (!shown()) {
    if (panel && panel.dataset.state === 'error') return {error: panel.textContent.slice(0, 300)};
    if (performance.now() - t0 > 60000) return {error: 'not shown within 60 s'};
    await new Promise(r => requestAnimationFrame(r));
  }
  const ms = performance.now() - t0;
  const requests = performance.getEntriesByType('resource').filter(r => r.startTime >= t0)
    .map(r => [new URL(r.name).pathname, Math.round(r.duration)]);
  return {ms, requests, marks: panel.querySelectorAll('[data-testid="source-highlight"]').length};
}"""


def _open(tab, spec: dict, requests: list | None = None) -> float:
    """Seconds the open took; `requests` gets the (path, milliseconds) of what the page fetched."""
    result = tab.evaluate(_OPEN, spec)
    if "error" in result:
        raise RuntimeError(f"the viewer did not show page {spec['page']}: {result['error']}")
    if not result["marks"]:
        raise RuntimeError(f"the viewer showed page {spec['page']} without the cited sentence highlighted")
    if requests is not None:
        requests.extend(result["requests"])
    return result["ms"] / 1000


def _cited_span(url: str, sentence: str) -> tuple[str, int, int]:
    """The indexed PDF's id and the document offsets of `sentence` in its text, from the API."""
    api = url.rstrip("/") + "/v1/collections/default/documents"
    with urllib.request.urlopen(api, timeout=30) as response:
        (doc,) = [d["id"] for d in json.load(response)["data"]]
    with urllib.request.urlopen(f"{api}/{urllib.parse.quote(doc)}", timeout=60) as response:
        text = json.load(response)["text"]
    start = text.find(sentence)
    if start < 0:
        raise RuntimeError("the cited sentence is not in the indexed text")
    return doc, start, start + len(sentence)


def _env() -> dict:
    root = str(Path(__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}


def command(args: argparse.Namespace) -> int:
    if not 1 <= args.page <= args.pages:
        args.parser.error(f"--page must be between 1 and --pages ({args.pages})")
    report: dict = {"machine": machine(), "pages": args.pages, "page": args.page}
    with tempfile.TemporaryDirectory(prefix="rag-viewer-") as tmp:
        folder = Path(tmp) / "corpus"
        folder.mkdir()
        path = folder / "harbour-log.pdf"
        t0 = time.perf_counter()
        samples.placed_pdf(path, [page_paragraphs(n) for n in range(1, args.pages + 1)], points=10)
        print(f"  built a {args.pages}-page PDF ({path.stat().st_size / 1e6:.2f} MB) in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        report["file_bytes"] = path.stat().st_size
        report["server"] = server_part(path, args.page, args.repeat)
        browser_error = ""
        if args.no_browser:
            browser_error = "not run (--no-browser)"
        elif not Path(CHROMIUM).exists():
            browser_error = f"not run ({CHROMIUM} is missing)"
        else:
            try:
                report["browser"] = browser_part(folder, args.page, args.repeat)
            except (RuntimeError, subprocess.SubprocessError) as exc:
                browser_error = str(exc)
    browser = report.get("browser")
    rows = [["cold open (browser)", _s(browser and browser["cold_seconds"]) or browser_error],
            ["warm open (browser)", _s(browser and browser["warm_seconds"]) or browser_error],
            ["highlight compute, fresh process", _s(report["server"]["cold_seconds"])],
            ["highlight compute, warm", _s(report["server"]["warm_seconds"])],
            ["pages", str(args.pages)],
            ["file size", f"{report['file_bytes'] / 1e6:.2f} MB"]]
    if browser:
        slowest = sorted(browser["cold_requests"], key=lambda r: -r[1])[:4]
        rows.insert(1, ["cold open: slowest fetches", ", ".join(f"{path.rsplit('/', 1)[-1]} {ms} ms"
                                                                 for path, ms in slowest) or "none"])
    table = Table(f"Source viewer: page {args.page} of a {args.pages}-page PDF, cited sentence highlighted",
                  ["measure", "value"], rows)
    print("\n" + table.render())
    report["load_average"] = round(os.getloadavg()[0], 2)
    print(f"\n{os.cpu_count()} cores; load average {report['load_average']:.1f} at the end (other work on the "
          "machine slows every figure)\n")
    if args.out:
        write_json(args.out, report)
    if browser is None:
        print(f"viewer: page {args.page} of {args.pages} not opened in a browser: {browser_error}; "
              f"highlight computed in {report['server']['cold_seconds']:.2f} s in a fresh process")
        return 0 if args.no_browser else 2
    print(f"viewer: page {args.page} of {args.pages} shown in {browser['cold_seconds']:.2f} s "
          f"(target < {TARGET_SECONDS:g} s)")
    return 0


def _s(seconds: float | None) -> str:
    return f"{seconds:.3f} s" if seconds is not None else ""
