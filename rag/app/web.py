"""What the web page (ui/) uses from the layers below the app, besides the service: the page
imports `rag.app` and `rag.core` only, so what it shows never depends on how a stage is built."""

from rag.generators.citations import left_out
from rag.index.library import DocumentInfo, format_time
from rag.indexing.uploads import MAX_UPLOAD_BYTES
from rag.ingest.formats import UPLOADABLE
from rag.safety.bidi import without_bidi
from rag.safety.endpoints import allowed_endpoints
from rag.safety.redact import redact
from rag.text.language import language_note

__all__ = ["MAX_UPLOAD_BYTES", "UPLOADABLE", "DocumentInfo", "allowed_endpoints", "format_time", "language_note", "left_out",
           "redact", "without_bidi"]
