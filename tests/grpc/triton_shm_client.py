"""Run by test_grpc_conformance.py in its own process (see triton_conformance_client.py for
why): the official ``tritonclient`` with ``tritonclient.utils.shared_memory`` — Triton's
system shared-memory extension — against saferoad's model server.

Usage: python triton_shm_client.py PORT INPUT.npy OUTPUT.npz
Creates an input and an output region, registers them, runs ModelInfer with the input and
the output in shared memory, then the error cases; prints one JSON object with what it saw.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.utils.shared_memory as shm
from tritonclient.utils import InferenceServerException, triton_to_np_dtype


def _error(call: object) -> dict[str, str] | str:
    try:
        call()  # type: ignore[operator]
    except InferenceServerException as err:
        return {"status": str(err.status()), "message": str(err.message())}
    return "accepted"


def main() -> None:
    port, in_path, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
    client = grpcclient.InferenceServerClient(url=f"127.0.0.1:{port}")
    report: dict[str, object] = {"extensions": client.get_server_metadata(as_json=True)["extensions"]}
    meta = client.get_model_metadata("yolox-nano", as_json=True)
    datatype = meta["inputs"][0]["datatype"]
    x = np.load(in_path).astype(triton_to_np_dtype(datatype))
    out_bytes = 1 * 3549 * 85 * 4
    pid = os.getpid()
    in_handle = shm.create_shared_memory_region("input_data", f"/triton_conf_in_{pid}", x.nbytes)
    out_handle = shm.create_shared_memory_region("output_data", f"/triton_conf_out_{pid}", out_bytes)
    try:
        shm.set_shared_memory_region(in_handle, [x])
        client.register_system_shared_memory("input_data", f"/triton_conf_in_{pid}", x.nbytes)
        client.register_system_shared_memory("output_data", f"/triton_conf_out_{pid}", out_bytes)
        status = client.get_system_shared_memory_status(as_json=True)
        report["status"] = sorted(r["name"] for r in status.get("regions", {}).values())
        inp = grpcclient.InferInput("images", list(x.shape), datatype)
        inp.set_shared_memory("input_data", x.nbytes)
        out = grpcclient.InferRequestedOutput("output")
        out.set_shared_memory("output_data", out_bytes)
        result = client.infer("yolox-nano", [inp], outputs=[out], request_id="shm-1")
        response = result.get_response(as_json=True)
        report["response_id"] = response.get("id")
        report["output_parameters"] = response["outputs"][0].get("parameters", {})
        report["raw_output_contents"] = len(result.get_response().raw_output_contents)
        got = shm.get_contents_as_numpy(out_handle, triton_to_np_dtype("FP32"), [1, 3549, 85])
        np.savez(out_path, output=np.array(got))

        small = grpcclient.InferRequestedOutput("output")
        small.set_shared_memory("output_data", 1024)
        report["output_too_small"] = _error(lambda: client.infer("yolox-nano", [inp], outputs=[small]))
        short = grpcclient.InferInput("images", list(x.shape), datatype)
        short.set_shared_memory("input_data", x.nbytes - 1)
        report["wrong_byte_size"] = _error(lambda: client.infer("yolox-nano", [short]))
        report["bad_key"] = _error(
            lambda: client.register_system_shared_memory("ghost", "/no_such_triton_region", 16)
        )
        client.unregister_system_shared_memory("input_data")
        report["unregistered"] = _error(lambda: client.infer("yolox-nano", [inp], outputs=[out]))
        client.unregister_system_shared_memory()
        report["status_after"] = client.get_system_shared_memory_status(as_json=True).get("regions", {})
        report["live_after"] = client.is_server_live() and client.is_model_ready("yolox-nano")
    finally:
        shm.destroy_shared_memory_region(in_handle)
        shm.destroy_shared_memory_region(out_handle)
        client.close()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
