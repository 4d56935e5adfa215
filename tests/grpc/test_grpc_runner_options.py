"""The serve commands' shared TLS/token option checks (runner.read_tls_and_token)."""

from __future__ import annotations

from pathlib import Path

import pytest

from saferoad.entrypoints.services.runner import read_tls_and_token


def test_tls_pair_and_token_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_bytes(b"CERT")
    key.write_bytes(b"KEY")
    monkeypatch.setenv("SAFEROAD_TEST_TOKEN", "s3cret")
    assert read_tls_and_token(cert, key, "SAFEROAD_TEST_TOKEN") == (b"CERT", b"KEY", "s3cret")
    assert read_tls_and_token(None, None, None) == (None, None, None)


def test_tls_cert_without_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="go together"):
        read_tls_and_token(tmp_path / "c.pem", None, None)
    with pytest.raises(ValueError, match="go together"):
        read_tls_and_token(None, tmp_path / "k.pem", None)


def test_unset_token_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAFEROAD_TEST_TOKEN", raising=False)
    with pytest.raises(ValueError, match="SAFEROAD_TEST_TOKEN"):
        read_tls_and_token(None, None, "SAFEROAD_TEST_TOKEN")
    monkeypatch.setenv("SAFEROAD_TEST_TOKEN", "")
    with pytest.raises(ValueError, match="unset or empty"):
        read_tls_and_token(None, None, "SAFEROAD_TEST_TOKEN")
