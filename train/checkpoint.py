"""Checkpoints: everything needed to resume training exactly, and the weights that export reads.

One file holds the model, its EMA copy, the optimizer moments, the step, both configs and the data
stream's position. Compact mode stores the training weights and optimizer moments in bf16 and the EMA in
fp16 (38 MiB for the 5M-parameter network, against about 77 MiB in fp32); fp32 copies are rebuilt from
them on resume.

The same checkpoint can also be written as a folder of files under a size cap (:func:`save_split`): the
form in which the state of a training run is committed to git and carried between GPU windows, whose
file limits are 16 MiB. :func:`load` reads either form.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trm_sdk.network import TRM, TRMConfig

from .optim import ChainedOptimizer

FORMAT_VERSION = 1
_COMPILE_PREFIX = "_orig_mod."


def _walk(obj: Any, leaf: Any) -> Any:
    """``obj`` with ``leaf`` applied to every value inside its dicts, lists and tuples."""
    if isinstance(obj, dict):
        return {k: _walk(v, leaf) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_walk(v, leaf) for v in obj)
    return leaf(obj)


def _to_safe(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value).copy())
    if isinstance(value, np.generic):
        return value.item()
    return value


def _safe(obj: Any) -> Any:
    """``obj`` with numpy arrays as tensors and numpy scalars as Python numbers, so the checkpoint loads
    with ``torch.load(weights_only=True)``: no pickled code runs when a checkpoint is read."""
    return _walk(obj, _to_safe)


def _numpy(obj: Any) -> Any:
    """The data stream's state as it was saved: tensors back to numpy arrays."""
    return _walk(obj, lambda v: v.numpy() if torch.is_tensor(v) else v)


def _torch_load(path: Path) -> Any:
    """``torch.load`` that never unpickles code: a hostile file is refused, not run."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ValueError(
            f"{path} holds objects that a safe load refuses (only tensors, numbers, strings and containers "
            f"are read): it is not a checkpoint this trm-sdk wrote, or it was tampered with ({exc})"
        ) from None


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
    optimizer: torch.optim.Optimizer | ChainedOptimizer | None,
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
        else (
            _compact_optimizer(optimizer.state_dict(), torch.bfloat16) if compact else optimizer.state_dict()
        ),
        "step": step,
        "train_config": train_config,
        "data_state": _safe(data_state),
        "info": _safe(info),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(body, tmp)
    tmp.replace(path)
    return path


SPLIT_INDEX = "index.json"
MAX_PART_BYTES = 15 * 2**20  # under the 16 MiB that a GPU window may bring back per file


def _tensors_of(body: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Every tensor of a checkpoint under a flat name: model/KEY, ema/KEY, optimizer/INDEX/KEY."""
    flat = {f"{part}/{k}": v for part in ("model", "ema") for k, v in body[part].items()}
    if body["optimizer"] is not None:
        for idx, entry in body["optimizer"]["state"].items():
            flat.update({f"optimizer/{idx}/{k}": v for k, v in entry.items() if torch.is_tensor(v)})
    return flat


def _put_tensor(body: dict[str, Any], name: str, value: torch.Tensor) -> None:
    part, _, rest = name.partition("/")
    if part == "optimizer":
        idx, _, key = rest.partition("/")
        state = body["optimizer"]["state"]
        state.setdefault(int(idx), {})[key] = value
    else:
        body[part][rest] = value


def save_split(body: dict[str, Any], folder: str | Path, max_bytes: int = MAX_PART_BYTES) -> list[Path]:
    """Write a loaded checkpoint ``body`` as a folder of files of at most ``max_bytes`` each.

    meta.pt holds everything but the tensors; part-N.pt hold the tensors; index.json lists every file
    with its size and sha256, so a folder mixed from two saves is refused on load. The folder is
    replaced whole: written beside, then swapped in.
    """
    folder = Path(folder)
    tensors = _tensors_of(body)
    meta = {**body, "model": {}, "ema": {}}
    if body["optimizer"] is not None:
        state = {
            idx: {k: v for k, v in entry.items() if not torch.is_tensor(v)}
            for idx, entry in body["optimizer"]["state"].items()
        }
        meta["optimizer"] = {**body["optimizer"], "state": state}
    room = max_bytes - min(2**16, max_bytes // 4)  # leave room for torch.save's own framing
    parts: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, value in tensors.items():
        nbytes = value.numel() * value.element_size()
        if nbytes > room:
            raise ValueError(f"tensor {name} ({nbytes:,} bytes) does not fit in one file of {max_bytes:,}")
        if size + nbytes > room and parts[-1]:
            parts.append({})
            size = 0
        parts[-1][name] = value
        size += nbytes
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save(_safe(meta), tmp / "meta.pt")
    for i, part in enumerate(parts):
        torch.save(part, tmp / f"part-{i}.pt")
    files = sorted(p for p in tmp.iterdir() if p.suffix == ".pt")
    for f in files:
        if f.stat().st_size > max_bytes:
            raise ValueError(f"{f.name} came out at {f.stat().st_size:,} bytes, over {max_bytes:,}")
    index = {
        "format": FORMAT_VERSION,
        "step": body["step"],
        "files": {f.name: {"bytes": f.stat().st_size, "sha256": _sha256(f)} for f in files},
    }
    (tmp / SPLIT_INDEX).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.replace(old)
    tmp.replace(folder)
    shutil.rmtree(old, ignore_errors=True)
    return sorted(folder.iterdir())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_split(folder: Path) -> dict[str, Any]:
    index_path = folder / SPLIT_INDEX
    if not index_path.is_file():
        raise FileNotFoundError(f"{folder} is a folder without {SPLIT_INDEX}: not a split checkpoint")
    index = json.loads(index_path.read_text(encoding="utf-8"))
    for name, entry in index["files"].items():
        f = folder / name
        if not f.is_file() or _sha256(f) != entry["sha256"]:
            raise ValueError(f"{f} is missing or does not match {index_path}: the folder is incomplete")
    body = _torch_load(folder / "meta.pt")
    for name in sorted(index["files"]):
        if name.startswith("part-"):
            for key, value in _torch_load(folder / name).items():
                _put_tensor(body, key, value)
    return body


def load(path: str | Path) -> dict[str, Any]:
    """A checkpoint from its file, or from the folder that :func:`save_split` wrote."""
    path = Path(path)
    if path.is_dir():
        body = _load_split(path)
    elif not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    else:
        body = _torch_load(path)
    if not isinstance(body, dict) or body.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path} is not a trm-sdk checkpoint of format {FORMAT_VERSION}")
    if body.get("data_state") is not None:
        body["data_state"] = _numpy(body["data_state"])
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
