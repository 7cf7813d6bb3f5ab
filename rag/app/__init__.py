"""The application: the pipeline from question to answer, the service the page and the CLI share,
and the factory that turns a `Config` into components."""
