"""Retrieval-augmented question answering over your documents, with verified citations.

    >>> from rag import Retriever
    >>> hits = Retriever.load(".rag/index").search("When was the IMU first formed?", k=3)

`Retriever.load` reads no rag.toml or RAG_* variables: it searches with the default
`RetrievalSettings` (pass `settings=` for others) and the embedding model the index's manifest
names, resolved to its installed copy. `Pipeline.load()` reads the configuration
(`Config.load()`, or the `config=` given) and builds its parts through `rag.app.factory`, the
one place a `Config` becomes components:

    >>> from rag import Config, Pipeline
    >>> Pipeline.load(config=Config.load(k=3)).ask("When was the IMU first formed?").text

Both take `collection=` to search a named document collection instead of the default one
(`Collections` lists, creates and removes them; see rag.app.collections).
"""

from rag.core.config import Config
from rag.core.errors import (
    CollectionError,
    CollectionExistsError,
    CollectionNameError,
    CollectionNotFoundError,
    ConfigError,
    DatasetError,
    DocumentError,
    DocumentNotFoundError,
    EndpointError,
    GeneratorError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    ModelNotFoundError,
    QuestionError,
    RagError,
    ReadOnlyError,
)
from rag.core.records import Answer, Chunk, Citation, Document, Hit

__all__ = [
    "Answer", "Chunk", "Citation", "CollectionError", "CollectionExistsError", "CollectionNameError",
    "CollectionNotFoundError", "Collections", "Config", "ConfigError", "DatasetError", "Document", "DocumentError",
    "DocumentInfo", "DocumentNotFoundError",
    "EndpointError", "GeneratorError", "Hit", "IndexCorruptError", "IndexMismatchError", "IndexNotFoundError",
    "Indexer", "ModelNotFoundError", "Pipeline", "QuestionError", "RagError", "ReadOnlyError", "Retriever", "load_documents",
]


def __getattr__(name: str):
    # Lazy: `import rag` must not pay for torch or faiss until they are used.
    if name == "Retriever":
        from rag.retrieval.retriever import Retriever
        return Retriever
    if name == "Indexer":
        from rag.indexing.indexer import Indexer
        return Indexer
    if name == "load_documents":
        from rag.ingest.loaders import load_documents
        return load_documents
    if name == "DocumentInfo":
        from rag.index.library import DocumentInfo
        return DocumentInfo
    if name == "Collections":
        from rag.app.collections import Collections
        return Collections
    if name == "Pipeline":
        from rag.app.pipeline import Pipeline
        return Pipeline
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
