"""Import a checkpoint of the reference TRM code as a model folder: read and mapped onto our network by
:mod:`trm_sdk.train.reference` (training reads the same checkpoints for ``--init-from``), then written by
the ordinary export, parity check included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from trm_sdk.manifest import Manifest, load_manifest, update
from trm_sdk.train.reference import load_reference

from .defaults import DEFAULT_N_VERIFY, DEFAULT_OPSET
from .exporter import export_onnx

__all__ = ["import_reference"]


def import_reference(
    path: str | Path,
    out_dir: str | Path,
    *,
    task: str | None = None,
    precision: str = "float16",
    verify_data: Sequence[str | Path] = (),
    n_verify: int | None = None,
    levels: Sequence[str] | None = None,
    opset: int | None = None,
    progress: bool | Callable[[str], None] = True,
) -> Manifest:
    """Import a reference checkpoint into the model folder ``out_dir``, as :func:`export_onnx` writes it.

    The manifest halts as the reference evaluates (every one of ``halt_max_steps`` steps: threshold 1.0,
    no verified stop); ``trm calibrate --stop-on-verified`` then chooses the verified stop and the views.
    ``precision`` is the weights' storage: "float16" (the runtime contract, as every export) or
    "float32" (the reference's numbers exactly, to check parity or keep the last digits).
    """
    model, task, provenance = load_reference(path, task)
    body = {
        "task": task,
        "step": provenance["step"],
        "info": {"trained_with": "the reference TRM code (SamsungSAILMontreal/TinyRecursiveModels)"},
    }
    out = Path(out_dir)
    export_onnx(
        model,
        out,
        body=body,
        task=task,
        precision=precision,
        verify_data=verify_data,
        n_verify=DEFAULT_N_VERIFY if n_verify is None else n_verify,
        levels=levels,
        opset=DEFAULT_OPSET if opset is None else opset,
        progress=progress,
    )
    halting = {
        "threshold": 1.0,
        "stop_on_verified": False,
        "max_steps": model.cfg.N_sup,
        "rule": "every step, as the reference evaluates; choose a stop with trm calibrate --stop-on-verified",
    }
    update(out, {"halting": halting, "source_checkpoint": provenance})
    return load_manifest(out)
