"""Configuration precedence: CLI flag > CLINRAG_* environment > clinrag.toml > default."""

from __future__ import annotations

from pathlib import Path

import os
import subprocess
import sys

import pytest

from clinrag.settings import SettingsError, load_settings


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
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value) == ("invalid setting 'chunk.size' = '-5': Input should be greater "
                              "than or equal to 16")


@pytest.fixture
def no_config(tmp_path, monkeypatch):
    """No clinrag.toml and no CLINRAG_* variable but the ones a test sets."""
    for name in list(os.environ):
        if name.startswith("CLINRAG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLINRAG_CONFIG", str(tmp_path / "absent.toml"))
    return tmp_path


def test_a_mistyped_environment_variable_is_refused_by_name(no_config, monkeypatch):
    # Before: pydantic-settings read only the variables it knew, so this changed nothing.
    monkeypatch.setenv("CLINRAG_RETRIEVE__RERANK_TOPN", "30")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value) == (
        "unknown setting 'retrieve.rerank_topn' (environment variable "
        "CLINRAG_RETRIEVE__RERANK_TOPN); did you mean 'retrieve.rerank_top_n'?")
    monkeypatch.delenv("CLINRAG_RETRIEVE__RERANK_TOPN")
    monkeypatch.setenv("CLINRAG_ANSWR__STANCE_MODEL", "default")
    with pytest.raises(SettingsError, match="unknown setting 'answr' .*did you mean 'answer'"):
        load_settings()


def test_mistyped_toml_keys_and_sections_are_refused_by_name(no_config, monkeypatch):
    toml = no_config / "clinrag.toml"
    monkeypatch.setenv("CLINRAG_CONFIG", str(toml))
    toml.write_text("[retrieve]\nk = 3\nrerank_topn = 30\n")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value) == (f"unknown setting 'retrieve.rerank_topn' ({toml}); did you "
                              "mean 'retrieve.rerank_top_n'?")
    toml.write_text("[answr]\nstance_model = 'default'\nverify = false\n")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value) == f"unknown setting 'answr' ({toml}); did you mean 'answer'?"
    toml.write_text("[retrieve]\nk = 3\n")
    assert load_settings().retrieve.k == 3
    toml.write_text("[retrieve\nk = 3\n")
    with pytest.raises(SettingsError, match="is not valid TOML"):
        load_settings()


def test_flags_with_unknown_keys_are_refused(no_config):
    with pytest.raises(SettingsError, match="unknown setting 'retrieve.kk' .flag.; did you "
                       "mean 'retrieve.k'"):
        load_settings({"retrieve": {"kk": 3}})


def test_clinrags_other_variables_are_not_settings(no_config, monkeypatch):
    for name in ("CLINRAG_SHARED_DATA", "CLINRAG_THREADS", "CLINRAG_API_KEYS",
                 "CLINRAG_SERVE_WORKERS", "CLINRAG_CONFIG"):
        monkeypatch.setenv(name, os.environ.get(name, "1"))
    monkeypatch.setenv("CLINRAG_ANSWER__ENDPOINT_API_KEY_ENV", "CLINRAG_OUR_VLLM_KEY")
    monkeypatch.setenv("CLINRAG_OUR_VLLM_KEY", "secret")
    assert load_settings().answer.endpoint_api_key_env == "CLINRAG_OUR_VLLM_KEY"
    monkeypatch.setenv("CLINRAG_OUR_OTHER_KEY", "secret")
    with pytest.raises(SettingsError, match="CLINRAG_OUR_OTHER_KEY"):
        load_settings()


@pytest.mark.parametrize("command, variable", [
    (["clinrag", "search", "metformin"], "CLINRAG_RETRIEVE__RERANK_TOPN"),
    (["ingest", "status"], "CLINRAG_CHUNK__SIZ"),
    (["clinrag", "serve", "--stub"], "CLINRAG_SERVE_WROKERS"),
])
def test_commands_exit_2_with_one_line_naming_the_key(no_config, command, variable):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINRAG_")}
    env.update({variable: "4", "CLINRAG_HOME": str(no_config)})
    program = ("import sys, clinrag.cli, ingest.cli; sys.exit((clinrag.cli.main if "
               f"{command[0]!r} == 'clinrag' else ingest.cli.main)(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", program, *command[1:]], cwd=no_config,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    key = variable.removeprefix("CLINRAG_SERVE_").removeprefix("CLINRAG_").lower()
    assert f"unknown setting '{key.replace('__', '.')}'" in lines[0]
    assert variable in lines[0] and "did you mean" in lines[0]


def test_process_setup_comes_before_the_model_libraries_and_respects_the_user(no_config,
                                                                             monkeypatch):
    """The hub library reads HF_HUB_OFFLINE when it is imported: the command line sets it
    before any stage imports a model library, and a user's own value wins."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CLINRAG_", "HF_", "TRANSFORMERS_"))}
    env.update({"CLINRAG_HOME": str(no_config), "TRANSFORMERS_VERBOSITY": "info"})
    program = ("import sys, os, clinrag.cli; code = clinrag.cli.main(['search', 'x']); "
               "import huggingface_hub.constants as hub, transformers.utils.logging as log; "
               "print(code, hub.HF_HUB_OFFLINE, os.environ['TRANSFORMERS_VERBOSITY'], "
               "log.get_verbosity() == log.INFO)")
    done = subprocess.run([sys.executable, "-c", program], cwd=no_config, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["1", "True", "info", "True"], done.stderr[-2000:]
