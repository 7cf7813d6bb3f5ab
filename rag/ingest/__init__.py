"""Per-format text extraction: bytes of one file → text with its structure (pages, headings).

Each format module returns an `Extracted`; `rag.loaders` cleans the text and turns the anchors
into offsets in the final document text.
"""

from .anchors import Extracted, Section, locate, mark
from .formats import extract

__all__ = ["Extracted", "Section", "extract", "locate", "mark"]
