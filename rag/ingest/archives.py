"""Refuse a zip-based file (Word, and any other format stored as a zip of XML parts) whose parts
would unpack to far more than it weighs, before any of it is unpacked.

A zip's central directory declares every member's compressed and uncompressed size. Python's
zipfile never inflates a member past its declared size (it stops there and the CRC check fails),
so the declared sizes bound what a parser can be handed: checking them is enough, and costs only
reading the directory at the end of the file.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from rag.core.errors import ParseLimitError

_MB = 2**20
# Members smaller than this are not judged by their ratio: a few KB of repeated XML (styles, an
# empty header) compress 200-fold and are harmless.
RATIO_FROM_BYTES = 1 * _MB


@dataclass(frozen=True)
class ZipLimits:
    """`max_unzipped_mb`: all members together, unpacked; `max_ratio`: unpacked / packed size of
    each member (over RATIO_FROM_BYTES) and of the whole. Office text compresses 5-30 fold;
    a bomb 200-1000 fold."""

    max_unzipped_mb: int = 256
    max_ratio: int = 100


def check_zip(data: bytes, limits: ZipLimits) -> None:
    """Raise ParseLimitError naming the setting when the archive would unpack past a limit.
    A file that is not a readable zip passes: its parser says what is wrong with it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return
    total = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members)
    if total > limits.max_unzipped_mb * _MB:
        raise ParseLimitError(f"unpacks to {total / _MB:,.0f} MB, more than max_unzipped_mb "
                              f"({limits.max_unzipped_mb:,} MB); not read (a decompression bomb?)")
    for member in members:
        if member.file_size > RATIO_FROM_BYTES and member.file_size > limits.max_ratio * max(member.compress_size, 1):
            raise ParseLimitError(_ratio_message(member.filename, member.file_size, member.compress_size, limits))
    if total > RATIO_FROM_BYTES and total > limits.max_ratio * max(packed, 1):
        raise ParseLimitError(_ratio_message("", total, packed, limits))


def _ratio_message(name: str, size: int, packed: int, limits: ZipLimits) -> str:
    part = f"its part {name[:80]!r}" if name else "it"
    return (f"{part} unpacks {size / max(packed, 1):,.0f}-fold ({packed / _MB:.1f} MB to {size / _MB:,.0f} MB), "
            f"more than max_zip_ratio ({limits.max_ratio}); not read (a decompression bomb?)")
