"""Remote inference (KServe v2 / Triton gRPC) and the services."""

from __future__ import annotations

from pydantic import Field

from saferoad.config.base import Section


class InferenceConfig(Section):
    """Remote inference (KServe v2 / Triton gRPC) and the services."""

    url: str = Field(
        "",
        description=(
            "Model server for `perception.detector = \"grpc\"`: `grpc://host:port/model[/version]`, "
            "or `grpcs://...` for TLS. Any KServe v2 / Open Inference Protocol gRPC server "
            "(`saferoad serve-model`, Triton, KServe, MLServer)."
        ),
    )
    timeout_s: float = Field(
        2.0, gt=0, description="Deadline of one inference attempt, in seconds."
    )
    retry_max_attempts: int = Field(
        8,
        ge=1,
        description=(
            "Attempts per call (first + retries) for transient errors only: UNAVAILABLE, and "
            "DEADLINE_EXCEEDED (inference is idempotent). With the backoff defaults, 8 attempts "
            "ride out about 7 s of a server restart."
        ),
    )
    retry_initial_backoff_s: float = Field(
        0.1,
        gt=0,
        description="First retry delay; each next one is multiplied by `retry_multiplier` (gRPC's A6 retry design: exponential backoff with jitter).",
    )
    retry_max_backoff_s: float = Field(2.0, gt=0, description="Longest delay between two attempts.")
    retry_multiplier: float = Field(2.0, ge=1.0, description="Backoff growth factor between attempts.")
    tls_root_certs: str = Field(
        "",
        description="PEM file of the CA that signed the model server's certificate (`grpcs://`); empty: the system's roots.",
    )
    tls_server_name: str = Field(
        "", description="Expected name in the server's certificate when it differs from the URL host; empty: the host."
    )
    token_env: str = Field(
        "SAFEROAD_INFERENCE_TOKEN",
        description="Environment variable holding a bearer token sent as `authorization: Bearer ...` (kept out of config files); unset or empty: no token.",
    )
    shared_memory: bool = Field(
        False,
        description=(
            "Pass tensors to the model server through POSIX shared memory instead of the socket "
            "(Triton's system shared-memory extension, which `serve-model` and Triton offer): only "
            "for a server on the same machine, running as the same user. The client creates its "
            "regions once and reuses them; results are bit-identical to the socket path."
        ),
    )
    stream: bool = Field(
        False,
        description=(
            "Send inference requests over one persistent bidirectional stream per calling thread "
            "(Triton's `ModelStreamInfer`, which `serve-model` and Triton offer) instead of one "
            "`ModelInfer` call each: saves the per-call set-up (about 0.5 ms on loopback). Same "
            "deadline, retries and results; a broken stream is reopened. Each open stream holds "
            "one of the server's `server_workers` threads."
        ),
    )
    serve_shared_memory: bool = Field(
        True,
        description=(
            "`serve-model`: offer Triton's system shared-memory extension (as Triton does). Any "
            "caller of the inference RPCs may then have the server map a `/dev/shm` object its "
            "user can open; require a token (`--token-env`) on a server others reach, or set "
            "false: ServerMetadata stops listing it and its RPCs answer UNIMPLEMENTED."
        ),
    )
    max_message_mb: int = Field(
        64,
        ge=1,
        description="Largest gRPC message sent or received, client and servers (gRPC's own default is 4 MB receive; a 1280x720 FP32 tensor is 11 MB).",
    )
    max_batch_size: int = Field(
        8,
        ge=1,
        description="`serve-model`: most requests' rows joined into one model run by the dynamic batcher (models with a variable first dimension only). 1 turns batching off.",
    )
    max_batch_delay_ms: float = Field(
        2.0,
        ge=0,
        description="`serve-model`: longest wait for more requests after the first one of a batch (Triton's `max_queue_delay_microseconds`).",
    )
    server_workers: int = Field(
        16,
        ge=1,
        description="Threads serving gRPC calls in `serve-model` and `serve`. In `serve-model` each open ModelStreamInfer stream holds one; all but a quarter of them (at least 2) may be streams, more are refused with RESOURCE_EXHAUSTED.",
    )
    shutdown_grace_s: float = Field(
        10.0,
        ge=0,
        description="On SIGTERM/SIGINT the servers stop taking calls and give calls in flight this long to finish.",
    )
    max_upload_mb: int = Field(
        4096, ge=1, description="`serve`: largest recording archive AnalyzeUpload accepts."
    )
    max_concurrent_analyses: int = Field(
        2,
        ge=1,
        description="`serve`: analyses run at once; further calls get RESOURCE_EXHAUSTED (2 matches the 2-core vehicle computer).",
    )
    analyze_path_roots: list[str] = Field(
        default_factory=list,
        description=(
            "`serve`: folders whose recordings AnalyzePath may read; a path outside them (after "
            "following symbolic links) is PERMISSION_DENIED. Empty: any folder the server can read, "
            "fit only for a server on loopback; set it on one that others reach."
        ),
    )
