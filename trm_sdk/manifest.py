"""A model directory's manifest and the runtime contract it describes, in one place.

The contract: the files of a model folder, the inputs and outputs of its graphs, the precisions a
backend may run in. Export writes it, every backend reads it, and both import the names from here.
The lifecycle: :func:`write_manifest` at export, :func:`update` for what is measured later (``trm eval``,
``trm calibrate``), :func:`load_manifest` at run time. The runtime trusts nothing it has not checked:
each file named here is hashed on load, so a truncated download or a hand-edited graph fails with a
clear message instead of producing wrong answers.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ModelError
from .limits import MAX_HIDDEN, MAX_SEQ_LEN, MAX_STEPS

__all__ = [
    "FILES",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "PRECISIONS",
    "STEP_FILE",
    "STEP_INPUTS",
    "STEP_OUTPUTS",
    "UNROLLED_FILE",
    "UNROLLED_INPUTS",
    "UNROLLED_OUTPUTS",
    "WEIGHTS_FILE",
    "Manifest",
    "load_manifest",
    "sha256_file",
    "update",
    "write_manifest",
]

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"

# The files of a model folder, by role.
STEP_FILE = "step.onnx"  # one supervision step; what the CPU backend runs and TensorRT builds from
UNROLLED_FILE = "unrolled.onnx"  # all N_sup steps with halting, for runtimes that cannot loop
WEIGHTS_FILE = "weights.npz"  # the step graph's weights under the network's names (CUDA backend)
FILES = {"step": STEP_FILE, "unrolled": UNROLLED_FILE, "weights": WEIGHTS_FILE}

# The graphs' interfaces: (tokens, y, z, first) -> (y_out, z_out, logits, q_halt) for one step, where
# first=true starts a puzzle from the initial state; (tokens, halt_threshold, max_steps) -> (logits,
# q_halt, steps) for the unrolled graph.
STEP_INPUTS = ("tokens", "y", "z", "first")
STEP_OUTPUTS = ("y_out", "z_out", "logits", "q_halt")
UNROLLED_INPUTS = ("tokens", "halt_threshold", "max_steps")
UNROLLED_OUTPUTS = ("logits", "q_halt", "steps")

PRECISIONS = ("fp32", "fp16", "bf16")  # what the GPU backends compute in; the CPU backend runs fp32


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Manifest:
    """The parsed ``manifest.json`` of one exported model. ``raw`` keeps every field, known or not."""

    directory: Path
    task: str
    encoding: dict[str, Any]
    model: dict[str, Any]  # the TRMConfig the graphs were exported from
    halting: dict[str, Any]  # default threshold and max_steps
    files: dict[str, dict[str, Any]]  # role ("step", "unrolled") -> {"path", "sha256", "bytes"}
    raw: dict[str, Any] = field(repr=False)

    @property
    def state_shape(self) -> tuple[int, int]:
        """(positions, hidden) of one puzzle's y and z."""
        return (int(self.model["seq_len"]) + int(self.model["n_prefix"]), int(self.model["hidden"]))

    @property
    def seq_len(self) -> int:
        return int(self.model["seq_len"])

    @property
    def N_sup(self) -> int:
        return int(self.model["N_sup"])

    @property
    def max_steps(self) -> int:
        """The supervision steps a solve takes at most by default: the model's trained N_sup."""
        return int(self.halting.get("max_steps", self.N_sup))

    def path(self, role: str) -> Path:
        """The verified path of the file that plays ``role``; raises ModelError if absent or corrupt."""
        entry = self.files.get(role)
        if entry is None:
            raise ModelError(
                f"model {self.directory} has no {role!r} graph (it has: {', '.join(self.files)})"
            )
        path = self.directory / entry["path"]
        if not path.is_file():
            raise ModelError(f"model file missing: {path} (listed in {self.directory / MANIFEST_NAME})")
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            raise ModelError(
                f"model file corrupt: {path} has sha256 {actual[:12]}…, the manifest expects "
                f"{entry['sha256'][:12]}…; reinstall trm-sdk or re-export the model"
            )
        return path


_REQUIRED = ("format", "task", "encoding", "model", "halting", "files")


def load_manifest(directory: str | Path, *, verify: bool = True) -> Manifest:
    """Read and check a model folder's manifest: with ``verify`` (the default, and what a Solver uses) its
    whole schema and every file's sha256; without, only that its sections have the right types."""
    directory = Path(directory)
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise ModelError(f"no {MANIFEST_NAME} in {directory}: not an exported trm-sdk model directory")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
    missing = [key for key in _REQUIRED if key not in raw] if isinstance(raw, dict) else list(_REQUIRED)
    if missing:
        raise ModelError(f"{path} lacks required field(s): {', '.join(missing)}")
    if raw["format"] != FORMAT_VERSION:
        raise ModelError(
            f"{path} has manifest format {raw['format']!r}; this trm-sdk reads format {FORMAT_VERSION}: "
            "upgrade trm-sdk or re-export the model"
        )
    _validate(raw, path, full=verify)
    manifest = Manifest(
        directory=directory,
        task=raw["task"],
        encoding=raw["encoding"],
        model=raw["model"],
        halting=raw["halting"],
        files=raw["files"],
        raw=raw,
    )
    if verify:
        for role in manifest.files:
            manifest.path(role)
    return manifest


def _validate(raw: dict[str, Any], path: Path, full: bool = True) -> None:
    """The schema of a manifest: types and ranges of what the runtime reads, and file paths confined to
    the model folder. Every violation is a ModelError naming the field, so nothing later meets a ``None``
    where it expects a dict or sizes a buffer from an absurd number."""

    def fail(field: str, problem: str) -> ModelError:
        return ModelError(f"{path}: {field} {problem}; re-export the model (or reinstall trm-sdk)")

    if not isinstance(raw["task"], str) or not raw["task"]:
        raise fail("task", f"must be a task name, got {raw['task']!r}")
    for section in ("encoding", "model", "halting", "files"):
        if not isinstance(raw[section], dict):
            raise fail(section, f"must be an object, got {type(raw[section]).__name__}")
    if not full:  # a manifest read for its recorded results (trm compare): the sections' types suffice
        return
    bounds = {"seq_len": MAX_SEQ_LEN, "hidden": MAX_HIDDEN, "n_prefix": MAX_SEQ_LEN, "N_sup": MAX_STEPS}
    for key, bound in (*bounds.items(), ("vocab_size", 1 << 16)):
        value = raw["model"].get(key)
        if value is None and key == "vocab_size":
            continue
        low = 0 if key == "n_prefix" else 1
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= bound:
            raise fail(f"model.{key}", f"must be an integer from {low} to {bound}, got {value!r}")
    for key in ("seq_len", "vocab_size"):
        if key in raw["encoding"] and key in raw["model"] and raw["encoding"][key] != raw["model"][key]:
            raise fail(
                f"encoding.{key}", f"is {raw['encoding'][key]!r} but model.{key} is {raw['model'][key]!r}"
            )
    if not raw["files"]:
        raise fail("files", "lists no file")
    root = path.parent.resolve()
    for role, entry in raw["files"].items():
        where = f"files.{role}"
        if not isinstance(entry, dict):
            raise fail(where, f"must be an object with path and sha256, got {entry!r}")
        name, digest = entry.get("path"), entry.get("sha256")
        if not isinstance(name, str) or not name:
            raise fail(f"{where}.path", f"must be a file name, got {name!r}")
        if Path(name).is_absolute() or not (root / name).resolve().is_relative_to(root):
            raise fail(f"{where}.path", f"must name a file inside the model folder, got {name!r}")
        if (
            not isinstance(digest, str)
            or len(digest) != 64
            or not all(c in "0123456789abcdef" for c in digest)
        ):
            raise fail(f"{where}.sha256", f"must be 64 lowercase hex digits, got {digest!r}")
    io = raw.get("io", {}).get("step") if isinstance(raw.get("io"), dict) else None
    if isinstance(io, dict):  # the recorded interface must be the runtime's contract
        for kind, expected in (("inputs", STEP_INPUTS), ("outputs", STEP_OUTPUTS)):
            names = tuple(a.get("name") for a in io.get(kind, []) if isinstance(a, dict))
            if names != expected:
                raise fail(
                    f"io.step.{kind}",
                    f"are {', '.join(map(str, names))}; the runtime needs {', '.join(expected)}",
                )


def file_entry(directory: Path, name: str) -> dict[str, Any]:
    path = directory / name
    return {"path": name, "sha256": sha256_file(path), "bytes": path.stat().st_size}


def _write(path: Path, body: dict[str, Any]) -> None:
    # Written beside and renamed over, so a crash never leaves a half-written manifest behind.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(body, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def write_manifest(directory: str | Path, fields: dict[str, Any]) -> Path:
    """Write ``manifest.json``; ``fields['files']`` maps role -> file name and is hashed here."""
    directory = Path(directory)
    body = dict(fields)
    body["format"] = FORMAT_VERSION
    body["files"] = {role: file_entry(directory, name) for role, name in fields["files"].items()}
    path = directory / MANIFEST_NAME
    _write(path, body)
    return path


def update(directory: str | Path, changes: dict[str, Any]) -> Path:
    """Merge measured results into a model's manifest: each top-level section in ``changes`` is merged
    key by key into the one there (a dict), or replaces it (anything else).

    Only results change this way; the files, the contract and the network are export's, so a change
    that touches ``format``, ``files``, ``task``, ``encoding`` or ``model`` is refused.
    """
    frozen = {"format", "files", "task", "encoding", "model"}.intersection(changes)
    if frozen:
        raise ValueError(f"update may not change {', '.join(sorted(frozen))}: re-export the model instead")
    manifest = load_manifest(directory)  # refuses a folder that is not a model
    body = dict(manifest.raw)
    for key, value in changes.items():
        old = body.get(key)
        body[key] = {**old, **value} if isinstance(old, dict) and isinstance(value, dict) else value
    path = manifest.directory / MANIFEST_NAME
    _write(path, body)
    return path
