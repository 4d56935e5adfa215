"""Adapters: implementations of the ports (file formats, ONNX Runtime, gRPC, SQL, Ray, video)."""
