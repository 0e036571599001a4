"""The web app: FastAPI pages and a JSON API over the library, for every role of a PbR contract.

`recoverypbr serve` starts it; `create_app` builds it for tests and servers. See docs/web.md."""
