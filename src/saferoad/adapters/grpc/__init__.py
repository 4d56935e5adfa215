"""gRPC adapters: the KServe v2 / Open Inference Protocol model server and client
(``saferoad serve-model``, ``grpc://host:port/model`` backends) and saferoad's own analysis
service ``saferoad.v1`` (``saferoad serve``).

The Python stubs in ``generated/`` are made by ``scripts/gen-protos.sh`` from ``protos/``.
They register the protobuf package ``inference`` (the protocol's own name), as do
``tritonclient``'s stubs: the two cannot be imported into one process (protobuf refuses a
duplicate symbol), so use tritonclient in a separate process from saferoad's gRPC modules.
"""
