"""Images (.png, .jpg, .tif) → text by OCR; each frame of a multi-frame TIFF is a page.

An image's size is read from its header before a pixel is decoded, and one larger than
`max_image_pixels` is refused: a 50 KB PNG can declare 100,000 × 100,000 pixels, 10 GB decoded.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

from rag.core.errors import DocumentError, ParseLimitError
from rag.ingest.anchors import Extracted
from rag.ingest.ocr import Deadline, OcrSettings, missing_tesseract, recognize_pages, tesseract_path
from rag.ingest.pdf import join_pages

# Resolutions an image may claim that are believable for a scan; others are left to Tesseract.
_DPI_RANGE = (70, 1200)


def extract_image(data: bytes, settings: OcrSettings, on_page: Callable[[object], None] | None = None) -> Extracted:
    if settings.mode == "never":
        raise DocumentError('an image, and OCR is off (ocr = "never"); not read')
    if tesseract_path() is None:
        raise missing_tesseract("an image")
    image, frames = open_image(data, settings)
    numbers = list(range(1, frames + 1))
    pages = list(recognize_pages(_frames(image, frames, settings), numbers, settings, Deadline(settings.max_seconds),
                                 on_page=on_page))
    lines = [page.lines() for page in pages]
    if not any(line for page in lines for line in page):
        raise DocumentError("no text found in the image by OCR")
    text, sections = join_pages(lines)
    confidence = sum(p.confidence for p in pages) / len(pages)
    return Extracted(text, None, {"ocr_pages": numbers, "ocr_confidence": round(confidence, 1)},
                     pages=frames if frames > 1 else 0, sections=tuple(sections))


def open_image(data: bytes, settings: OcrSettings) -> tuple[object, int]:
    """The image (a Pillow image, no pixel decoded yet) and its number of frames; refused when
    damaged or larger than `settings.max_pixels`."""
    try:
        from PIL import Image
    except ImportError:
        raise DocumentError("reading images needs Pillow (pip install 'rag[ocr]')") from None

    # The header is read with Pillow's own guard off, so that the refusal can give the size; the
    # size is checked right after, before any pixel is decoded.
    Image.MAX_IMAGE_PIXELS = None
    try:
        image = Image.open(io.BytesIO(data))
        frames = getattr(image, "n_frames", 1)
    except Image.UnidentifiedImageError:
        raise DocumentError("unreadable image: damaged, or not an image of its type") from None
    except Exception as exc:  # noqa: BLE001 - a damaged image makes Pillow raise many things
        raise DocumentError(f"unreadable image: {type(exc).__name__}: {str(exc)[:120]}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = settings.max_pixels
    _check_size(image.size, settings)
    return image, frames


def upright_frame(image, n: int, frames: int, settings: OcrSettings) -> tuple[object, int | None]:
    """Frame `n` (from 0) of an image from open_image, turned the way OCR reads it, with the
    resolution it claims (None when unbelievable)."""
    from PIL import ImageOps

    try:
        image.seek(n)
        _check_size(image.size, settings)
        dpi = image.info.get("dpi")
        # A phone's photo is stored sideways with a note of how to turn it; OCR reads it upright.
        frame = ImageOps.exif_transpose(image) if frames == 1 else image
        frame.load()
    except ParseLimitError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt pixel data
        where = f" (page {n + 1})" if frames > 1 else ""
        raise DocumentError(f"unreadable image{where}: {type(exc).__name__}: {str(exc)[:120]}") from None
    return frame, _dpi(dpi)


def _frames(image, frames: int, settings: OcrSettings) -> Iterator[tuple[object, int | None]]:
    """Each frame as a greyscale image, with the resolution it claims (None when unbelievable)."""
    for n in range(frames):
        frame, dpi = upright_frame(image, n, frames, settings)
        yield frame.convert("L"), dpi


def _dpi(value) -> int | None:
    try:
        dpi = round(float(value[0]))
    except (TypeError, ValueError, IndexError):
        return None
    return dpi if _DPI_RANGE[0] <= dpi <= _DPI_RANGE[1] else None


def _check_size(size: tuple[int, int], settings: OcrSettings) -> None:
    if size[0] * size[1] > settings.max_pixels:
        raise ParseLimitError(f"image of {size[0]:,} x {size[1]:,} pixels, over max_image_pixels "
                              f"({settings.max_pixels:,}; a decompression bomb?); not read; raise max_image_pixels "
                              "to read it")
