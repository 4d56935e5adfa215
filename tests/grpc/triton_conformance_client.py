"""Run by test_grpc_conformance.py in its own process (tritonclient's stubs and saferoad's
both register the protobuf package ``inference``, so they cannot share a process).

Usage: python triton_conformance_client.py PORT INPUT.npy OUTPUT.npz
Talks to saferoad's model server with the official ``tritonclient.grpc`` client and prints
one JSON object with what it saw; the output tensor goes to OUTPUT.npz.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException, triton_to_np_dtype


def main() -> None:
    port, in_path, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
    client = grpcclient.InferenceServerClient(url=f"127.0.0.1:{port}")
    report: dict[str, object] = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready("yolox-nano"),
        "unknown_model_ready": client.is_model_ready("no-such-model"),
    }
    server = client.get_server_metadata(as_json=True)
    report["server_name"] = server["name"]
    meta = client.get_model_metadata("yolox-nano", as_json=True)
    report["metadata"] = meta
    x = np.load(in_path)
    datatype = meta["inputs"][0]["datatype"]  # as a KServe client should: what the server takes
    x = x.astype(triton_to_np_dtype(datatype))
    inp = grpcclient.InferInput("images", list(x.shape), datatype)
    inp.set_data_from_numpy(x)
    result = client.infer(
        "yolox-nano", [inp], outputs=[grpcclient.InferRequestedOutput("output")], request_id="r-1"
    )
    out = result.as_numpy("output")
    response = result.get_response(as_json=True)
    report["response_id"] = response.get("id")
    report["response_model"] = response.get("model_name")
    np.savez(out_path, output=out)
    bad = grpcclient.InferInput("images", list(x.shape), "FP64")
    bad.set_data_from_numpy(x.astype(np.float64))
    try:
        client.infer("yolox-nano", [bad])
        report["wrong_dtype"] = "accepted"
    except InferenceServerException as err:
        report["wrong_dtype"] = {"status": err.status(), "message": err.message()}
    try:
        client.get_model_metadata("no-such-model")
        report["unknown_model"] = "accepted"
    except InferenceServerException as err:
        report["unknown_model"] = {"status": err.status(), "message": err.message()}
    # Triton's streaming API: start_stream(callback) + async_stream_infer (ModelStreamInfer)
    import queue

    got: queue.Queue[tuple[object, object]] = queue.Queue()
    client.start_stream(callback=lambda result, error: got.put((result, error)))
    client.async_stream_infer("yolox-nano", [inp], request_id="s-1")
    client.async_stream_infer("yolox-nano", [bad], request_id="s-2")
    client.async_stream_infer(
        "yolox-nano", [inp], outputs=[grpcclient.InferRequestedOutput("output")], request_id="s-3"
    )
    stream: list[dict[str, object]] = []
    for k in range(3):
        result, error = got.get(timeout=60)
        if error is not None:
            assert isinstance(error, InferenceServerException)
            stream.append({"error": error.message()})
        else:
            assert isinstance(result, grpcclient.InferResult)
            response = result.get_response(as_json=True)
            stream.append({"id": response.get("id")})
            np.savez(out_path.replace(".npz", f"-stream{k}.npz"), output=result.as_numpy("output"))
    client.stop_stream()
    report["stream"] = stream
    report["live_after_stream"] = client.is_server_live()
    client.close()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
