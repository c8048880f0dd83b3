"""Configuration precedence: CLI flag > CLINRAG_* environment > clinrag.toml > default."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from clinrag.settings import load_settings


def test_precedence(tmp_path, monkeypatch):
    toml = tmp_path / "clinrag.toml"
    toml.write_text('home = "from-toml"\n[chunk]\nsize = 111\noverlap = 7\n[embed]\nbatch_size = 8\n')
    monkeypatch.setenv("CLINRAG_CONFIG", str(toml))
    monkeypatch.setenv("CLINRAG_CHUNK__OVERLAP", "9")
    settings = load_settings({"embed": {"batch_size": 16, "device": None}})
    assert settings.chunk.size == 111          # toml over default
    assert settings.chunk.overlap == 9         # env over toml
    assert settings.embed.batch_size == 16     # CLI over toml
    assert settings.embed.device == "auto"     # None means "flag not given"
    assert settings.home == Path("from-toml")
    assert settings.index_dir == Path("from-toml") / "index"
    monkeypatch.setenv("CLINRAG_HOME", "/srv/clinrag")
    assert load_settings().index_dir == Path("/srv/clinrag/index")


def test_invalid_values_are_named(monkeypatch):
    monkeypatch.setenv("CLINRAG_CHUNK__SIZE", "-5")
    with pytest.raises(ValidationError) as err:
        load_settings()
    assert "chunk.size" in str(err.value) or "size" in str(err.value)
