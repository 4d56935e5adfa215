"""Long-running services that drive saferoad: ``saferoad serve`` (the saferoad.v1 analysis
service, :mod:`.analysis_service`), ``saferoad serve-model`` (the KServe v2 model server,
:mod:`.model_server`) and the foreground runner both use (:mod:`.runner`). They are entry
points: they receive requests and call the application; the gRPC wire, tensors, server
hosting and client they use stay driven adapters under :mod:`saferoad.adapters.grpc`."""
