"""Optical character recognition: page images → words with their boxes and confidences, by
Tesseract (Debian's `tesseract-ocr` with `tesseract-ocr-eng`).

Tesseract runs as a program, the image handed over on its standard input and the words read
from its standard output (TSV): nothing is written to disk, so a parse killed at its deadline
leaves no temporary file, and the program is tied to the parser process (it dies with it). It
runs on one thread (OMP_THREAD_LIMIT=1): on a 2-core machine its OpenMP threads made a page 7
times slower, and the indexer parses one file at a time anyway.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from rag.core.errors import DocumentError, ParseLimitError
from rag.ingest.parse_worker import die_with_parent

# A page whose text layer holds fewer letters and digits than this is read by OCR under
# ocr = "auto" (a scanner's stamp or a lone page number is not the page's text).
MIN_LAYER_CHARS = 20
INSTALL_HINT = "apt-get install tesseract-ocr tesseract-ocr-eng"


@dataclass(frozen=True)
class OcrSettings:
    """`mode`: "auto" reads images and the PDF pages without a text layer, "always" every PDF page
    (ignoring the text layer), "never" nothing. `max_seconds` bounds the OCR of one file, `dpi`
    is the resolution PDF pages are rendered at, `min_confidence` the mean word confidence (0-100)
    under which a page is indexed with a warning, `max_pixels` the largest image read."""

    mode: str = "auto"
    language: str = "eng"
    dpi: int = 300
    max_seconds: float = 1800.0
    min_confidence: float = 50.0
    max_pixels: int = 50_000_000


@dataclass(frozen=True)
class Word:
    """One recognised word: its box in pixels of the page image, and Tesseract's confidence
    (0-100). `block`, `paragraph` and `line` number where it sits in Tesseract's layout."""

    text: str
    left: int
    top: int
    width: int
    height: int
    confidence: float
    block: int
    paragraph: int
    line: int


@dataclass(frozen=True)
class OcrPage:
    """The words of one page image (`number` counts from 1) and the image's size in pixels."""

    number: int
    width: int
    height: int
    words: tuple[Word, ...]

    @property
    def confidence(self) -> float:
        """Mean word confidence, 0-100; 0 for a page with no words."""
        return sum(w.confidence for w in self.words) / len(self.words) if self.words else 0.0

    def lines(self) -> list[str]:
        """The page's text as lines, an empty line between paragraphs."""
        out: list[str] = []
        key = para = None
        for word in self.words:
            if (word.block, word.paragraph) != para and out:
                out.append("")
            if (word.block, word.paragraph, word.line) != key:
                out.append(word.text)
            else:
                out[-1] += " " + word.text
            key, para = (word.block, word.paragraph, word.line), (word.block, word.paragraph)
        return out


@dataclass(frozen=True)
class OcrStarted:
    """Sent from the parser process when OCR of a file begins: `pages` to read. From then on the
    parse may take `max_ocr_seconds` more than `max_parse_seconds`."""

    pages: int


@dataclass(frozen=True)
class OcrProgress:
    """Sent from the parser process after each page read by OCR: page `page` of the file, the
    `done`-th of the `total` pages it OCRs."""

    page: int
    done: int
    total: int


@dataclass(frozen=True)
class OcrNotice:
    """Sent from the parser process: something the user should know about a file that is still read."""

    message: str


@dataclass(frozen=True)
class LowConfidence:
    """Sent from the parser process for a page whose mean word confidence is under the threshold."""

    page: int
    confidence: float
    threshold: float


def tesseract_path() -> str | None:
    return shutil.which("tesseract")


def missing_tesseract(what: str) -> DocumentError:
    return DocumentError(f"{what} needs OCR, but Tesseract is not installed ({INSTALL_HINT}, or set ocr = \"never\" "
                         "to skip such files quietly)")


class Deadline:
    """The time left of one file's OCR budget (`max_ocr_seconds`)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def left(self, done: int, total: int) -> float:
        left = self._end - time.monotonic()
        if left <= 0:
            raise self.exceeded(done, total)
        return left

    def exceeded(self, done: int, total: int) -> ParseLimitError:
        return ParseLimitError(f"OCR took longer than max_ocr_seconds ({self.seconds:g} s) and was stopped after "
                               f"{done} of {total} pages; raise max_ocr_seconds to index it")


def recognize(image, number: int, *, language: str = "eng", dpi: int | None = None,
              timeout: float | None = None) -> OcrPage:
    """The words Tesseract reads on a Pillow image. Raises DocumentError when Tesseract is missing
    or fails, TimeoutError when it runs past `timeout` seconds (it is then killed)."""
    program = tesseract_path()
    if program is None:
        raise missing_tesseract("this file")
    gray = image if image.mode in ("L", "1") else image.convert("L")
    buffer = io.BytesIO()
    gray.save(buffer, "BMP")  # uncompressed: 10x faster to write than PNG, and read as fast
    command = [program, "stdin", "stdout", "-l", language]
    if dpi:
        command += ["--dpi", str(dpi)]
    command.append("tsv")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(command, input=buffer.getvalue(), capture_output=True, env=env, timeout=timeout,
                              preexec_fn=die_with_parent if sys.platform == "linux" else None)
    except subprocess.TimeoutExpired:
        raise TimeoutError from None
    except OSError as exc:
        raise DocumentError(f"cannot run Tesseract ({program}): {exc.strerror}") from None
    if done.returncode != 0:
        raise DocumentError(_failure(done.stderr.decode("utf-8", "replace"), language))
    return OcrPage(number, gray.width, gray.height, tuple(_words(done.stdout.decode("utf-8", "replace"))))


def recognize_pages(images: Iterable, numbers: list[int], settings: OcrSettings, deadline: Deadline, *,
                    on_page: Callable[[object], None] | None = None) -> Iterator[OcrPage]:
    """OCR of each (image, dpi) pair in turn, numbered by `numbers`, within the deadline; after
    each page `on_page` gets an OcrProgress, and first a LowConfidence for a page under the threshold."""
    total = len(numbers)
    if on_page is not None:
        on_page(OcrStarted(total))
    for done, ((image, dpi), number) in enumerate(zip(images, numbers)):
        try:
            page = recognize(image, number, language=settings.language, dpi=dpi, timeout=deadline.left(done, total))
        except TimeoutError:
            raise deadline.exceeded(done, total) from None
        if on_page is not None:
            if page.words and page.confidence < settings.min_confidence:
                on_page(LowConfidence(number, round(page.confidence, 1), settings.min_confidence))
            on_page(OcrProgress(number, done + 1, total))
        yield page


def _words(tsv: str) -> Iterator[Word]:
    # level page_num block_num par_num line_num word_num left top width height conf text
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) != 12 or cells[0] != "5" or not cells[11].strip():
            continue
        try:
            left, top, width, height = (int(c) for c in cells[6:10])
            confidence = max(0.0, float(cells[10]))
            block, paragraph, line = (int(c) for c in cells[2:5])
        except ValueError:
            continue
        yield Word(cells[11].strip(), left, top, width, height, confidence, block, paragraph, line)


def _failure(stderr: str, language: str) -> str:
    if "Failed loading language" in stderr or "Could not initialize tesseract" in stderr:
        return (f"Tesseract has no language data for {language!r} (apt-get install tesseract-ocr-{language.split('+')[0]}"
                ", or set ocr_language)")
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("Estimating resolution")]
    return f"Tesseract could not read the image: {(lines[-1] if lines else 'no reason given')[:160]}"
