"""Real sample files of each format, written to a given path and sized by a parameter (pages,
rows, slides). The tests, the fault bench and `python -m bench readers` build their files here, so
each format has one builder, kept in its own block below."""

from __future__ import annotations

import textwrap
from pathlib import Path

# --- scanned pages and images (OCR) ---

A4_INCHES = (8.27, 11.69)
# A serif face like most printed pages; Pillow's own font where Debian's fonts are missing.
_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
          "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf")


def _font(size: int):
    from PIL import ImageFont

    for name in _FONTS:
        if Path(name).is_file():
            return ImageFont.truetype(name, size)
    return ImageFont.load_default(size=size)


def page_image(text: str, dpi: int = 200, *, points: float = 12.0, size: tuple[float, float] = A4_INCHES):
    """A white page (A4 by default) with `text` in black, wrapped within one-inch margins, as a
    scanner would give it: a greyscale Pillow image at `dpi`."""
    from PIL import Image, ImageDraw

    width, height = int(size[0] * dpi), int(size[1] * dpi)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = _font(round(points * dpi / 72))
    margin = dpi  # one inch
    line_height = round(points * 1.5 * dpi / 72)
    chars = max(20, int((width - 2 * margin) / (font.getlength("abcdefghij klmnopqrs") / 20)))
    y = margin
    for paragraph in text.split("\n"):
        for line in textwrap.wrap(paragraph, chars) or [""]:
            if y + line_height > height - margin:
                break
            draw.text((margin, y), line, fill=0, font=font)
            y += line_height
    return image


def text_image(path: Path, text: str, *, dpi: int = 200, points: float = 12.0,
               size: tuple[float, float] = A4_INCHES) -> Path:
    """An image file of a page of `text`; its format follows the suffix (.png, .jpg, .tif...)."""
    image = page_image(text, dpi, points=points, size=size)
    path = Path(path)
    image.save(path, dpi=(dpi, dpi))
    return path


def scanned_pdf(path: Path, pages: list[str], dpi: int = 200) -> Path:
    """An image-only PDF (no text layer), one page image a string of `pages`, like a scanner's."""
    images = [page_image(text, dpi) for text in pages]
    path = Path(path)
    images[0].save(path, "PDF", resolution=float(dpi), save_all=True, append_images=images[1:])
    return path


def multipage_tiff(path: Path, pages: list[str], dpi: int = 200) -> Path:
    """A multi-frame TIFF, one frame a page."""
    images = [page_image(text, dpi) for text in pages]
    path = Path(path)
    images[0].save(path, "TIFF", dpi=(dpi, dpi), save_all=True, append_images=images[1:], compression="tiff_lzw")
    return path


def noise_image(path: Path, *, width: int = 1200, height: int = 800, seed: int = 3) -> Path:
    """Rows of random pen strokes shaped like words but holding no letters: a ruined scan, which
    OCR reads as many words of very low confidence (a mean of about 30 out of 100)."""
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for y in range(40, height - 40, 40):
        x = 40
        while x < width - 50:
            w = rng.randrange(8, 60)
            for _ in range(rng.randrange(2, 6)):
                draw.line([(x + rng.randrange(w), y + rng.randrange(25)), (x + rng.randrange(w), y + rng.randrange(25))],
                          fill=0, width=2)
            x += w + rng.randrange(8, 20)
    image.save(Path(path))
    return Path(path)


def mixed_pdf(path: Path, text_page: str, scanned_page: str, dpi: int = 200) -> Path:
    """A two-page PDF: page 1 with a text layer, page 2 a scanned image only."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 7, text_page)
    pdf.add_page()
    image = page_image(scanned_page, dpi)
    pdf.image(image, x=0, y=0, w=210, h=297)
    Path(path).write_bytes(bytes(pdf.output()))
    return Path(path)
