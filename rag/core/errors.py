"""One exception hierarchy; every message says what to do next."""

from __future__ import annotations


class RagError(Exception):
    """Base class for errors a user can act on. The CLI prints them without a traceback."""


class ConfigError(RagError):
    """A setting is missing, malformed or names something that does not exist."""


class ModelNotFoundError(ConfigError):
    """The configured embedding model cannot be found locally."""


class NotOwnedError(ConfigError):
    """A directory the tool would write into holds things it did not create."""


class QuestionError(RagError):
    """The question cannot be used (empty, too long, undecodable)."""


class QueryError(RagError):
    """A search argument is invalid: `k`, `mode` or a filter such as `doc_ids`."""


class DocumentError(RagError):
    """A document could not be read or holds no text."""


class ParseLimitError(DocumentError):
    """Reading a file would cost more than a limit allows (its memory, its unpacked size); the
    message names the setting to raise."""


class IndexNotFoundError(RagError):
    """No index exists where one was expected."""


class IndexMismatchError(RagError):
    """The index was built with other settings than the ones configured."""


class IndexCorruptError(RagError):
    """The index directory is incomplete, truncated or from an unknown format version."""


class IndexWriteError(RagError):
    """The index or an upload could not be written (read-only, disk full); the previous state is kept."""


class DatasetError(RagError):
    """An evaluation dataset is malformed."""


class GeneratorError(RagError):
    """A generator failed to produce an answer."""


class EndpointError(GeneratorError):
    """A hosted model endpoint is unreachable, slow, or answered something unusable."""


class EndpointNotAllowedError(ConfigError):
    """A hosted endpoint was chosen that the operator did not allow the API key to be sent to."""


class DocumentNotFoundError(RagError):
    """No indexed document has the given id."""


class OriginalNotFoundError(DocumentNotFoundError):
    """A document is indexed, but no file can be served as its original: a web page or a line of
    a .jsonl corpus has none, and a file gone or changed since indexing is not it any more."""


class SpanError(RagError):
    """A span or page asked of a document lies outside it (start/end offsets, a page number)."""


class ReadOnlyError(RagError):
    """A change was asked of a deployment that only serves answers."""


class AccessError(RagError):
    """A principal (API key or page user) asked for something its role does not allow."""


class CollectionError(RagError):
    """A document collection cannot be used as asked (rag.app.collections)."""


class CollectionNotFoundError(CollectionError):
    """No collection has the given name."""


class CollectionExistsError(CollectionError):
    """A collection of that name already exists."""


class CollectionNameError(CollectionError):
    """A collection name that is not allowed (its characters, its length)."""
