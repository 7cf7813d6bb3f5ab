"""Speed of the e-book, e-mail and OpenDocument readers, through the loader (each file parsed in
the parser process, as `rag index` does); the best of three runs.

    python -m bench.mail_readers
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.faults import text_pdf
from bench.samples import eml_file, epub_file, odt_file

PARAGRAPH = ("The harbour master counted the ships that came in at dawn and wrote each name in the ledger, "
             "with the cargo, the port it sailed from and the fee it paid. ") * 3  # about 750 characters
REPEATS = 3


def _build(root: Path) -> list[tuple[str, list[Path], int, str]]:
    book = epub_file(root / "book.epub", "Book", [(f"Chapter {i}", "\n\n".join([PARAGRAPH] * 6)) for i in range(300)])
    for i in range(300):
        eml_file(root / "mails" / f"m{i}.eml", f"Ledger {i}", "\n\n".join([PARAGRAPH] * 3))
    for i in range(100):
        pdf = text_pdf([[f"Ledger page {i} totals 4200 euros."]])
        eml_file(root / "mails-pdf" / f"m{i}.eml", f"Ledger {i}", PARAGRAPH, [("ledger.pdf", pdf, "application/pdf")])
    blocks: list = []
    for p in range(200):  # a "page": a heading, four paragraphs and a ten-row table, about 3,300 characters
        rows = [[f"Ship {p}-{r}", f"{r * 3} shillings"] for r in range(10)]
        blocks += [(1, f"Section {p}"), PARAGRAPH, PARAGRAPH, PARAGRAPH, [["Vessel", "Fee"], *rows], PARAGRAPH]
    odt = odt_file(root / "doc.odt", "Doc", blocks)
    return [(".epub, 300 chapters of 4,500 characters", [book], 300, "chapters"),
            (".eml, 300 mails of 2,300 characters", [root / "mails"], 300, "mails"),
            (".eml with a one-page PDF attachment, 100 mails", [root / "mails-pdf"], 100, "mails"),
            (".odt, 200 pages (heading, 4 paragraphs, a 10-row table)", [odt], 200, "pages")]


def main() -> None:
    from rag.ingest.loaders import load_documents

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cases = _build(root)
        (root / "warm.txt").write_text("The parser process starts once.")
        load_documents([root / "warm.txt"])
        print("| reader | units/s | characters/s |\n|---|---|---|")
        for label, paths, units, unit in cases:
            best, chars = float("inf"), 0
            for _ in range(REPEATS):
                t0 = time.perf_counter()
                result = load_documents(paths)
                best = min(best, time.perf_counter() - t0)
                chars = sum(len(d.text) for d in result.documents)
                if result.skipped:
                    raise SystemExit(f"{label}: skipped {result.skipped[0]}")
            print(f"| {label} | {units / best:,.0f} {unit}/s | {chars / best / 1e6:.2f} M |")


if __name__ == "__main__":
    main()
