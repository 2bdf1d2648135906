"""Checkpoints: everything needed to resume training exactly, and the weights that export reads.

One file holds the model, its EMA copy, the optimizer moments, the step, both configs and the data
stream's position. Compact mode stores the training weights and optimizer moments in bf16 and the EMA in
fp16 (38 MiB for the 5M-parameter network, against about 77 MiB in fp32); fp32 copies are rebuilt from
them on resume.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .model import TRM, TRMConfig

FORMAT_VERSION = 1
_COMPILE_PREFIX = "_orig_mod."


def clean_state_dict(
    state: dict[str, torch.Tensor], dtype: torch.dtype | None = None
) -> dict[str, torch.Tensor]:
    """Strip torch.compile's prefix and optionally cast floating tensors (bf16 for compact storage)."""
    out = {}
    for key, value in state.items():
        key = key.replace(_COMPILE_PREFIX, "")
        value = value.detach().cpu()
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        out[key] = value
    return out


def _compact_optimizer(state: dict[str, Any], dtype: torch.dtype) -> dict[str, Any]:
    packed = {"param_groups": state["param_groups"], "state": {}}
    for idx, entry in state["state"].items():
        packed["state"][idx] = {
            k: (v.detach().cpu().to(dtype) if torch.is_tensor(v) and v.is_floating_point() and v.dim() else v)
            for k, v in entry.items()
        }
    return packed


def save(
    path: str | Path,
    *,
    task: str,
    model: TRM,
    ema: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer | None,
    step: int,
    train_config: dict[str, Any],
    data_state: dict[str, Any] | None,
    info: dict[str, Any],
    compact: bool = True,
) -> Path:
    """Write atomically (temp file, then rename) so a window that closes mid-save leaves the old file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dtype = torch.bfloat16 if compact else None
    body = {
        "format": FORMAT_VERSION,
        "task": task,
        "model_config": model.cfg.to_dict(),
        "model": clean_state_dict(model.state_dict(), dtype),
        # fp16 for the EMA: it is what gets exported, and fp16 keeps 3 more mantissa bits than bf16.
        "ema": clean_state_dict(ema, torch.float16 if compact else None),
        "optimizer": None
        if optimizer is None
        else (_compact_optimizer(optimizer.state_dict(), dtype) if compact else optimizer.state_dict()),
        "step": step,
        "train_config": train_config,
        "data_state": data_state,
        "info": info,
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(body, tmp)
    tmp.replace(path)
    return path


def load(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    body = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(body, dict) or body.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path} is not a trm-sdk checkpoint of format {FORMAT_VERSION}")
    return body


def load_model(path: str | Path, weights: str = "ema") -> tuple[TRM, dict[str, Any]]:
    """The network of a checkpoint in fp32 and eval mode, with ``weights`` = "ema" (default) or "model"."""
    if weights not in ("ema", "model"):
        raise ValueError(f"weights must be 'ema' or 'model', not {weights!r}")
    body = load(path)
    model = TRM(TRMConfig.from_dict(body["model_config"]))
    state = {k: v.float() if v.is_floating_point() else v for k, v in body[weights].items()}
    model.load_state_dict(state)
    model.eval()
    return model, body
