"""`python -m bench readers`: pages read per second by each format's reader, through the same
loader `rag index` uses (the timed, memory-capped parser process included), on files built by
bench.samples. A page is an A4 page of prose (about 3,000 characters) in every format.

A new format adds one line to MAKERS: its name and a function that writes a file of n pages.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import samples

# One A4 page of prose; the words vary so no reader can take a shortcut on repeats.
_SENTENCES = ("The port authority of Kilwa ordered a survey of the channel in March of year {n}. ",
              "Surveyors measured the depth at forty-two points between the reef and the customs house. ",
              "Their report asked for dredging before the monsoon and a quay twelve metres wider. ",
              "The council accepted every recommendation but the last, which it postponed for lack of money. ",
              "Boats carried mangrove poles, dried fish and cement to the islands of the archipelago. ")


def page_text(n: int) -> str:
    return "".join(s.format(n=1900 + n) for s in _SENTENCES) * 7  # about 3,000 characters, 460 words


def _text(path: Path, pages: int, suffix: str, wrap: Callable[[str], str] = lambda t: t) -> Path:
    path = path.with_suffix(suffix)
    path.write_text(wrap("\n\n".join(page_text(n) for n in range(pages))), encoding="utf-8")
    return path


def _pdf(path: Path, pages: int) -> Path:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=10)
    for n in range(pages):
        pdf.add_page()
        pdf.multi_cell(0, 5, page_text(n))
    path = path.with_suffix(".pdf")
    path.write_bytes(bytes(pdf.output()))
    return path


def _docx(path: Path, pages: int) -> Path:
    import docx

    document = docx.Document()
    for n in range(pages):
        document.add_paragraph(page_text(n))
    path = path.with_suffix(".docx")
    document.save(path)
    return path


def _pngs(path: Path, pages: int) -> Path:
    folder = path.with_suffix("")
    folder.mkdir()
    for n in range(pages):
        samples.text_image(folder / f"page-{n}.png", page_text(n), dpi=300, points=10)
    return folder


def _scanned(path: Path, pages: int, dpi: int) -> Path:
    images = [samples.page_image(page_text(n), dpi, points=10) for n in range(pages)]
    path = path.with_suffix(".pdf")
    images[0].save(path, "PDF", resolution=float(dpi), save_all=True, append_images=images[1:])
    return path


# format -> (writer of a file, or folder, of n pages; whether it is read by OCR, and so slow)
MAKERS: dict[str, tuple[Callable[[Path, int], Path], bool]] = {
    "txt": (lambda p, n: _text(p, n, ".txt"), False),
    "md": (lambda p, n: _text(p, n, ".md", lambda t: "# Harbour survey\n\n" + t), False),
    "html": (lambda p, n: _text(p, n, ".html", lambda t: "<html><body><main><p>" + t.replace("\n\n", "</p><p>")
                                  + "</p></main></body></html>"), False),
    "pdf": (_pdf, False),
    "docx": (_docx, False),
    "epub": (lambda p, n: samples.epub_file(p.with_suffix(".epub"), "Harbour survey",
                                            [(f"Chapter {i}", page_text(i)) for i in range(n)]), False),
    "odt": (lambda p, n: samples.odt_file(p.with_suffix(".odt"), "Harbour survey", [page_text(i) for i in range(n)]),
            False),
    "eml": (lambda p, n: samples.eml_file(p.with_suffix(".eml"), "Harbour survey",
                                          "\n\n".join(page_text(i) for i in range(n))), False),
    "pptx": (lambda p, n: samples.pptx_file(p.with_suffix(".pptx"), [(f"Survey {i}", page_text(i), "")
                                                                     for i in range(n)]), False),
    # A page of a sheet: 35 rows of five columns, about 3,000 characters as read (with their column names).
    "xlsx": (lambda p, n: samples.xlsx_file(p.with_suffix(".xlsx"), {"Towns": samples.town_rows(35 * n)}), False),
    "csv": (lambda p, n: samples.csv_file(p.with_suffix(".csv"), samples.town_rows(35 * n)), False),
    "png (300 dpi)": (_pngs, True),
    "scanned pdf (200 dpi)": (lambda p, n: _scanned(p, n, 200), True),
    "scanned pdf (300 dpi)": (lambda p, n: _scanned(p, n, 300), True),
}


def measure(name: str, pages: int, where: Path) -> dict:
    from rag.app import factory
    from rag.core.config import Config
    from rag.ingest.loaders import load_documents

    make, _ = MAKERS[name]
    path = make(where / name.split()[0], pages)
    dpi = 200 if "200 dpi" in name else 300
    limits = factory.file_limits(Config(ocr_dpi=dpi, max_ocr_seconds=3600))
    warm = where / "warm-up.txt"
    warm.write_text("The parser process is started before the clock.", encoding="utf-8")
    load_documents([warm], limits=limits)
    cpu0, t0 = _parser_cpu(), time.perf_counter()
    result = load_documents([path], limits=limits)
    seconds, cpu = time.perf_counter() - t0, _parser_cpu() - cpu0
    if result.skipped:
        raise SystemExit(f"{name}: {result.skipped[0].reason}")
    chars = sum(len(d.text) for d in result.documents)
    return {"format": name, "pages": pages, "seconds": round(seconds, 3), "pages_per_s": round(pages / seconds, 2),
            "cpu_seconds": round(cpu, 3), "pages_per_cpu_s": round(pages / cpu, 2) if cpu > 0 else None,
            "chars": chars}


def _parser_cpu() -> float:
    """CPU seconds of the parser process so far, with the programs it ran and waited for
    (Tesseract): what the reading cost whatever else the machine was doing."""
    import os

    from rag.ingest import loaders

    child = loaders._PARSER._child
    if child is None:
        return 0.0
    try:
        with open(f"/proc/{child.pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime


def command(args: argparse.Namespace) -> int:
    rows = []
    with tempfile.TemporaryDirectory(prefix="rag-readers-") as tmp:
        for name, (_, ocr) in MAKERS.items():
            if args.only and name.split()[0] not in args.only:
                continue
            for pages in ((1, args.ocr_pages) if ocr else (args.pages,)):
                where = Path(tmp) / f"{len(rows)}"
                where.mkdir()
                rows.append(measure(name, pages, where))
                print(f"  {name:24} {pages:5} pages {rows[-1]['seconds']:8.2f} s  {rows[-1]['pages_per_s']:8.2f} pages/s",
                      flush=True)
    import os

    print("\n| format | pages | seconds | pages/s | CPU seconds | pages per CPU second |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['format']} | {r['pages']} | {r['seconds']:.2f} | {r['pages_per_s']:.2f} | {r['cpu_seconds']:.2f} | "
              f"{r['pages_per_cpu_s'] or 'n/a'} |")
    print(f"\n{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the end (other work slows the wall "
          "clock, not the CPU seconds)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0
