"""``saferoad serve-model``: serve a model over the KServe v2 / Open Inference Protocol (gRPC).

Every import inside a function here is deferred for start-up on purpose: ``saferoad --help``
must not load numpy, pydantic, the adapters or the application (tests/test_cli_startup.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from saferoad.entrypoints.cli.common import ConfigOption, SetOption, load_cli_config, user_errors


def register(app: typer.Typer) -> None:
    @app.command("serve-model")
    def serve_model(
        model: list[str] = typer.Option(
            ...,
            "--model",
            "-m",
            help="A model card (yolox-nano, path/card.toml), an ONNX file, or module:attr of a "
            "Python object with predict(inputs) -> outputs. Repeat to serve several.",
        ),
        name: list[str] | None = typer.Option(
            None, "--name", help="Model name clients use (default: the card's name, the file stem or attr); one per --model."
        ),
        transport_dtype: str = typer.Option(
            "auto",
            "--transport-dtype",
            help="How an ONNX model's float input travels: auto (UINT8 when the model card says the "
            "input is raw 0-255 pixels without normalisation, e.g. yolox-nano; else the model's "
            "dtype), model (the model's dtype, e.g. FP32), or UINT8 (cast to the model's float in "
            "the server). ModelMetadata reports the choice; see docs/inference.md.",
        ),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
        port: int = typer.Option(8001, "--port", "-p", help="Port (Triton's gRPC default 8001; 0: any free port)."),
        tls_cert: Path | None = typer.Option(None, "--tls-cert", help="PEM certificate chain: serve TLS."),
        tls_key: Path | None = typer.Option(None, "--tls-key", help="PEM private key for --tls-cert."),
        token_env: str | None = typer.Option(
            None, "--token-env", help="Require `authorization: Bearer $VAR` on inference calls (VAR names an environment variable)."
        ),
        config: Path | None = ConfigOption,
        set_: list[str] | None = SetOption,
    ) -> None:
        """Serve models to saferoad's remote detector, tritonclient or any KServe v2 gRPC client.

        Health checking (grpc.health.v1) and server reflection are on. Models with a variable
        first dimension get dynamic batching (inference.max_batch_size, max_batch_delay_ms).
        SIGTERM/SIGINT stop it gracefully (inference.shutdown_grace_s).
        """
        from saferoad.observability import configure_logging

        configure_logging("INFO")
        with user_errors():
            from saferoad.adapters.grpc.models import load_model
            from saferoad.entrypoints.services.model_server import serve_models
            from saferoad.entrypoints.services.runner import read_tls_and_token, run_until_signalled

            full = load_cli_config(config, set_)
            cfg = full.inference
            names = list(name or [])
            if names and len(names) != len(model):
                raise ValueError(f"give one --name per --model ({len(model)} models, {len(names)} names)")
            cert, key, token = read_tls_and_token(tls_cert, tls_key, token_env)
            threads = full.perception.intra_op_threads  # the same session options as a local run
            models = [
                load_model(
                    spec, names[i] if names else None, intra_op_threads=threads,
                    transport_dtype=transport_dtype,
                )
                for i, spec in enumerate(model)
            ]
            server, _ = serve_models(
                models,
                host=host,
                port=port,
                max_batch_size=cfg.max_batch_size,
                max_batch_delay_s=cfg.max_batch_delay_ms / 1000.0,
                max_workers=cfg.server_workers,
                max_message_bytes=cfg.max_message_mb * 1024 * 1024,
                tls_cert=cert,
                tls_key=key,
                token=token,
                shared_memory=cfg.serve_shared_memory,
            )
            scheme = "grpcs" if tls_cert else "grpc"
            for m in models:
                typer.echo(f"serving {scheme}://{host}:{server.port}/{m.name}", nl=True)
            typer.echo(f"listening on {host}:{server.port}")
            run_until_signalled(server, cfg.shutdown_grace_s)
