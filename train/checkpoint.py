"""Checkpoints: everything needed to resume training exactly, and the weights that export reads.

One file holds the model, its EMA copy, the optimizer moments, the step, both configs and the data
stream's position. Compact mode stores the training weights and optimizer moments in bf16 and the EMA in
fp16 (38 MiB for the 5M-parameter network, against about 77 MiB in fp32); fp32 copies are rebuilt from
them on resume.

The same checkpoint can also be written as a folder of files under a size cap (:func:`save_split`): the
form in which the state of a training run is committed to git and carried between GPU windows, whose
file limits are 16 MiB. :func:`load` reads either form.

A run's state goes in and out here: :func:`restore` puts a loaded checkpoint back into a run's model and
optimizer after checking that the run may continue it, and :func:`exported_weights` gives a fresh run the
weights of an exported model (``trm-train --init-from``), the closest thing to resuming once the state is
gone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trm_sdk import training_log
from trm_sdk.manifest import load_manifest
from trm_sdk.network import RECURSION_FIELDS, TRM, TRMConfig, load_network

from . import curve
from .optim import ChainedOptimizer

log = logging.getLogger("trm_sdk.train")

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
    split_dir: str | Path | None = None,
) -> Path:
    """Write atomically (temp file, then rename) so a window that closes mid-save leaves the old file.

    ``split_dir``: also write the same checkpoint there as a folder of parts (:func:`save_split`), the
    form that is committed and that a GPU window brings back.
    """
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
    if split_dir is not None:
        save_split(load(path), split_dir)  # read back: the parts hold exactly what the file holds
    return path


SPLIT_INDEX = "index.json"
_PART_NAME = re.compile(r"meta\.pt|part-[0-9]{1,6}\.pt")  # the only names a split checkpoint holds
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
    files = index.get("files") if isinstance(index, dict) else None
    if not isinstance(files, dict) or "meta.pt" not in files:
        raise ValueError(f"{index_path} lists no checkpoint files: the folder is not a split checkpoint")
    root = folder.resolve()
    for name in files:
        # Only the names save_split writes, each a file of this folder: an index naming ../x.pt or a
        # link out of the folder would otherwise have torch.load read whatever it points to.
        f = folder / name if isinstance(name, str) and _PART_NAME.fullmatch(name) else None
        if f is None or not f.resolve().is_relative_to(root):
            raise ValueError(f"{index_path} names {name!r}, which is not a part of this folder")
    for name, entry in files.items():
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


def restore(
    body: dict[str, Any],
    model: TRM,
    optimizer: torch.optim.Optimizer | ChainedOptimizer,
    *,
    optimizer_name: str,
    ema_device: torch.device | None,
) -> dict[str, torch.Tensor] | None:
    """Put a loaded checkpoint's weights and optimizer moments into a run's ``model`` and ``optimizer``,
    in fp32, after checking that this run can continue that one; return its EMA in fp32 on ``ema_device``
    (None where ``ema_device`` is None: a process that neither evaluates nor saves keeps no EMA).

    The network's shape must be the saved one's and the optimizer the same (its moments belong to it);
    only the recursion (``RECURSION_FIELDS``) may differ, as a deeper or shallower run of the same weights.
    """
    saved_optimizer = body["train_config"].get("optimizer", "adamw")
    if saved_optimizer != optimizer_name:
        raise ValueError(
            f"the run was saved with optimizer {saved_optimizer!r}, not {optimizer_name!r}: its "
            "moments belong to it; resume with the same optimizer"
        )
    # Compared as configs, so a key added since the save (at its default) is not a difference.
    saved = TRMConfig.from_dict(body["model_config"])
    changed = saved.weight_changes(model.cfg)
    if changed:
        raise ValueError(
            f"{', '.join(changed)} cannot change on resume: the weights depend on it; only the "
            f"recursion ({', '.join(RECURSION_FIELDS)}) may"
        )
    for name in RECURSION_FIELDS:
        if getattr(saved, name) != getattr(model.cfg, name):
            log.info(
                "resuming with %s=%s (the run had %s)", name, getattr(model.cfg, name), getattr(saved, name)
            )
    model.load_state_dict(
        {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in body["model"].items()}
    )
    if body["optimizer"] is not None:
        optimizer.load_state_dict(body["optimizer"])
        for state in optimizer.state.values():
            for k, v in state.items():
                if torch.is_tensor(v) and v.is_floating_point():
                    state[k] = v.to(torch.float32)
    if ema_device is None:
        return None
    return {
        k: v.to(ema_device, torch.float32) if v.is_floating_point() else v.to(ema_device)
        for k, v in body["ema"].items()
    }


def exported_weights(
    model_dir: str | Path, task: str, cfg: TRMConfig
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An exported model's weights (its ``weights.npz``) in fp32 for a fresh run of ``task`` whose network
    is ``cfg``, and the record of where they came from, which the run's checkpoints keep (``init_from``).

    For when a shipped model is worth improving but its resumable state is gone: there are no optimizer
    moments, step or data position to restore, only weights. Only the recursion may differ from the model's.
    ``model_dir`` may also be a checkpoint of the reference TRM code (see :func:`init_network`).
    """
    if is_reference(model_dir):
        return _reference_weights(Path(model_dir), task, cfg)
    manifest = load_manifest(model_dir)  # ModelError on a folder that is not an exported model
    if manifest.task != task:
        raise ValueError(f"{model_dir} is a {manifest.task} model; this run trains {task}")
    changed = TRMConfig.from_dict(manifest.model).weight_changes(cfg)
    if changed:
        raise ValueError(
            f"{model_dir}'s network differs from this run's in {', '.join(changed)}; "
            "only the recursion (T, n, N_sup) may be set with --init-from"
        )
    network = load_network(manifest, torch.device("cpu"), torch.float32)
    # The manifest's training card with its log put back: the curve lives in training_log.json.
    training = training_log.full_record(
        manifest.raw.get("training", {}), training_log.read(manifest.directory)
    )
    source = {
        "model": str(manifest.directory),
        "weights_sha256": manifest.files["weights"]["sha256"],
        "source_step": training.get("step"),
        # its minutes and curve, so this run's curve continues that model's (train/curve.py)
        **curve.source_record(training),
    }
    return network.state_dict(), source


def is_reference(path: str | Path) -> bool:
    """Whether ``path`` is a checkpoint of the reference TRM code (its ``step_N`` file, or their folder,
    with ``all_config.yaml`` beside them) rather than an exported model folder."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    return (folder / "all_config.yaml").is_file() and not (folder / "manifest.json").is_file()


def init_network(source: str | Path, task: str) -> dict[str, Any]:
    """The network config of an ``--init-from`` source: an exported model's, or the one a reference
    checkpoint maps onto (:mod:`trm_sdk.train.reference`), so that users can fine-tune those too."""
    if not is_reference(source):
        return dict(load_manifest(source).model)
    from .reference import read_reference, reference_config

    return reference_config(read_reference(source), task)[0].to_dict()


def _reference_weights(
    path: Path, task: str, cfg: TRMConfig
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from .reference import load_reference

    network, _, provenance = load_reference(path, task)
    changed = network.cfg.weight_changes(cfg)
    if changed:
        raise ValueError(
            f"{path}'s network differs from this run's in {', '.join(changed)}; "
            "only the recursion (T, n, N_sup) may be set with --init-from"
        )
    source = {
        "model": str(path),
        "format": provenance["format"],
        "weights_sha256": provenance["sha256"],
        "source_step": provenance["step"],
    }
    return network.state_dict(), source
