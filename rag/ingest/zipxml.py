"""The parts of a zip-based document (EPUB, OpenDocument) read as XML, safely.

The archive's declared sizes are checked before this runs (rag.ingest.archives). The XML parser
resolves no entities, loads no DTD and reaches no network, so a part cannot expand an entity a
billion times or make the parser fetch a file or URL.
"""

from __future__ import annotations

import io
import re
import zipfile

from rag.core.errors import DocumentError

_DECLARED = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']")


def open_archive(data: bytes, kind: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise DocumentError(f"unreadable {kind} (not a valid zip archive: {str(exc)[:80]})") from None


def read_part(archive: zipfile.ZipFile, name: str, kind: str) -> bytes:
    try:
        return archive.read(name)
    except KeyError:
        raise DocumentError(f"unreadable {kind}: its part {name[:80]!r} is missing") from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
        # A damaged member, an unknown compression method, or an encrypted (password) zip.
        raise DocumentError(f"unreadable {kind}: its part {name[:80]!r} cannot be unpacked "
                            f"({type(exc).__name__}: {str(exc)[:80]})") from None


def parse_xml(data: bytes, name: str, kind: str):
    """The root element of an XML part (lxml)."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True, remove_pis=True, recover=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise DocumentError(f"unreadable {kind}: its part {name[:80]!r} is not well-formed XML "
                            f"({str(exc)[:80]})") from None
    if root is None:
        raise DocumentError(f"unreadable {kind}: its part {name[:80]!r} is empty")
    return root


def decode_markup(data: bytes) -> str:
    """An (X)HTML part's text: UTF-8 unless a byte-order mark or its XML declaration says otherwise."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    declared = _DECLARED.match(data[:200])
    encoding = declared.group(1).decode("ascii") if declared else "utf-8-sig"
    try:
        return data.decode(encoding, "replace")
    except LookupError:
        return data.decode("utf-8-sig", "replace")
