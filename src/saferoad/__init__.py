"""saferoad: an AI drive recorder for fleets.

The package is laid out as ports and adapters (see DEVELOPERS.md):

- ``saferoad.domain``: pure, typed, deterministic logic (no I/O, no frameworks);
- ``saferoad.ports``: the small protocols the application needs from the world;
- ``saferoad.adapters``: implementations of the ports (files, ONNX Runtime, gRPC, SQL, Ray);
- ``saferoad.application``: use cases that wire domain and ports together (analyze, evaluate, ...);
- ``saferoad.entrypoints``: the CLI and the services, kept thin.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
