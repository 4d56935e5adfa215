"""``saferoad serve``: the saferoad.v1 analysis service over gRPC.

Every import inside a function here is deferred for start-up on purpose: ``saferoad --help``
must not load numpy, pydantic, the adapters or the application (tests/test_cli_startup.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from saferoad.entrypoints.cli.common import ConfigOption, SetOption, load_cli_config, user_errors


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
        port: int = typer.Option(50051, "--port", "-p", help="Port (0: any free port)."),
        detector: str | None = typer.Option(
            None, "--detector", help="onnx, grpc or replay (default: perception.detector)."
        ),
        inference_url: str | None = typer.Option(
            None, "--inference-url", help="grpc://host:port/model for --detector grpc (default: inference.url)."
        ),
        tls_cert: Path | None = typer.Option(None, "--tls-cert", help="PEM certificate chain: serve TLS."),
        tls_key: Path | None = typer.Option(None, "--tls-key", help="PEM private key for --tls-cert."),
        token_env: str | None = typer.Option(
            None, "--token-env", help="Require `authorization: Bearer $VAR` on analysis calls."
        ),
        config: Path | None = ConfigOption,
        set_: list[str] | None = SetOption,
    ) -> None:
        """Serve saferoad.v1.AnalysisService: analyse recordings (a server path or an uploaded
        tar/zip) and stream events back as each becomes final.

        Health checking and server reflection are on, so grpcurl can explore it:
        `grpcurl -plaintext 127.0.0.1:50051 describe saferoad.v1.AnalysisService`.
        """
        from saferoad.observability import configure_logging

        configure_logging("INFO")
        with user_errors():
            from saferoad.entrypoints.services.analysis_service import serve_analysis
            from saferoad.entrypoints.services.runner import read_tls_and_token, run_until_signalled

            cfg = load_cli_config(
                config,
                set_,
                {"perception.detector": detector or None, "inference.url": inference_url or None},
            )
            if cfg.perception.detector.type == "grpc":
                from saferoad.adapters.grpc.client import parse_inference_url

                parse_inference_url(getattr(cfg.perception.detector, "url", None) or cfg.inference.url)  # fails now, not per request
            cert, key, token = read_tls_and_token(tls_cert, tls_key, token_env)
            server, _ = serve_analysis(
                cfg,
                host=host,
                port=port,
                tls_cert=cert,
                tls_key=key,
                token=token,
            )
            typer.echo(f"saferoad.v1.AnalysisService (detector: {cfg.perception.detector.type})")
            typer.echo(f"listening on {host}:{server.port}")
            run_until_signalled(server, cfg.inference.shutdown_grace_s)
