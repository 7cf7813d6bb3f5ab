"""The HTTP API under /v1 (FastAPI): OpenAI-compatible chat completions and models, and native
routes for search, collections and documents. `rag.api.server` serves it beside the page."""
