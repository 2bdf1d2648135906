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
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ModelError, OutOfMemoryError
from .limits import MAX_HIDDEN, MAX_MODEL_FILE_BYTES, MAX_ROW_ELEMENTS, MAX_SEQ_LEN, MAX_STEPS

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
    "external_tensors",
    "jsonable",
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
        """The verified path of the file that plays ``role``; raises ModelError if absent or corrupt.

        For runtimes that must open the file by name (TensorRT, the CUDA backend's weights). The file
        can change after this check; :meth:`read` cannot, so prefer it where a runtime takes bytes.
        """
        return self._verified(role)[0]

    def read(self, role: str) -> bytes:
        """The verified bytes of the file that plays ``role``: read once, hashed, and returned, so what
        a runtime is handed is exactly what was checked (a path would be reopened, and could have been
        swapped in between)."""
        return self._verified(role)[1]

    def _verified(self, role: str) -> tuple[Path, bytes]:
        entry = self.files.get(role)
        if entry is None:
            raise ModelError(
                f"model {self.directory} has no {role!r} graph (it has: {', '.join(self.files)})"
            )
        path = self.directory / entry["path"]
        data = _read_bounded(path, self.directory)
        actual = hashlib.sha256(data).hexdigest()
        if actual != entry["sha256"]:
            raise ModelError(
                f"model file corrupt: {path} has sha256 {actual[:12]}…, the manifest expects "
                f"{entry['sha256'][:12]}…; reinstall trm-sdk or re-export the model"
            )
        if path.suffix == ".onnx":
            # The hash covers this file only: weights kept beside it as external data would be
            # unchecked (zeroed, they still pass) and are opened by a name the graph chooses.
            outside = external_tensors(data)
            if outside:
                raise ModelError(
                    f"{path} keeps {len(outside)} tensor(s) in external data files ({', '.join(outside[:3])}"
                    f"{', …' if len(outside) > 3 else ''}), which the manifest cannot vouch for; re-export "
                    "the model with its weights inside the graph"
                )
        return path, data


def _read_bounded(path: Path, directory: Path) -> bytes:
    """A model file's bytes; a missing, non-regular or oversized file is a ModelError, not a hang."""
    try:
        with open(path, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ModelError(f"model file {path} is not a regular file; re-export the model")
            if info.st_size > MAX_MODEL_FILE_BYTES:
                raise ModelError(
                    f"model file {path} holds {info.st_size:,} bytes, more than the {MAX_MODEL_FILE_BYTES:,} "
                    "a model file may"
                )
            return f.read(MAX_MODEL_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ModelError(f"model file missing: {path} (listed in {directory / MANIFEST_NAME})") from None
    except (IsADirectoryError, NotADirectoryError):
        raise ModelError(f"model file {path} is not a regular file; re-export the model") from None
    except MemoryError as exc:
        raise OutOfMemoryError(f"cannot read model file {path} into memory") from exc
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from exc


# ---------------------------------------------------------------------------------------------------------
# ONNX's protobuf, just deep enough to find tensors whose data lives outside the graph file. The runtime
# must not need the onnx package, and this walk needs only the field numbers of onnx.proto (stable
# since IR version 3): where tensors can sit (initializers, sparse initializers, node attributes, the
# graphs of If/Loop/Scan bodies, functions) and how a tensor says its data is external.
_MODEL_GRAPH, _MODEL_FUNCTIONS = 7, 25
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_SPARSE = 1, 5, 15
_FUNCTION_NODE = 7
_NODE_ATTRIBUTE = 5
_ATTR_TENSOR, _ATTR_GRAPH, _ATTR_TENSORS, _ATTR_GRAPHS, _ATTR_SPARSE, _ATTR_SPARSES = 5, 6, 10, 11, 22, 23
_SPARSE_VALUES, _SPARSE_INDICES = 1, 2
_TENSOR_NAME, _TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION = 8, 13, 14
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL
_MAX_NESTING = 64  # subgraphs inside subgraphs; real models nest a few levels


def _varint(buf: memoryview, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _fields(buf: memoryview) -> Any:
    """(field number, value) of one protobuf message: varints as ints, length-delimited as views."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
            yield number, value
        elif wire == 2:
            size, i = _varint(buf, i)
            if i + size > len(buf):
                raise ValueError("a field runs past the end of its message")
            yield number, buf[i : i + size]
            i += size
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise ValueError(f"wire type {wire}, which ONNX does not use")


def _scan_tensor(buf: memoryview, found: list[str]) -> None:
    name, external = "", False
    for number, value in _fields(buf):
        if number == _TENSOR_NAME and isinstance(value, memoryview):
            name = bytes(value).decode("utf-8", "replace")
        elif number == _TENSOR_EXTERNAL_DATA or (number == _TENSOR_DATA_LOCATION and value == _EXTERNAL):
            external = True
    if external:
        found.append(name or "(unnamed)")


def _scan_sparse(buf: memoryview, found: list[str]) -> None:
    for number, value in _fields(buf):
        if number in (_SPARSE_VALUES, _SPARSE_INDICES) and isinstance(value, memoryview):
            _scan_tensor(value, found)


def _scan_nodes(nodes: list[memoryview], found: list[str], depth: int) -> None:
    for node in nodes:
        for number, attribute in _fields(node):
            if number != _NODE_ATTRIBUTE or not isinstance(attribute, memoryview):
                continue
            for key, value in _fields(attribute):
                if not isinstance(value, memoryview):
                    continue
                if key in (_ATTR_TENSOR, _ATTR_TENSORS):
                    _scan_tensor(value, found)
                elif key in (_ATTR_SPARSE, _ATTR_SPARSES):
                    _scan_sparse(value, found)
                elif key in (_ATTR_GRAPH, _ATTR_GRAPHS):
                    _scan_graph(value, found, depth + 1)


def _scan_graph(buf: memoryview, found: list[str], depth: int) -> None:
    if depth > _MAX_NESTING:
        raise ValueError(f"subgraphs nested more than {_MAX_NESTING} deep")
    nodes = []
    for number, value in _fields(buf):
        if not isinstance(value, memoryview):
            continue
        if number == _GRAPH_INITIALIZER:
            _scan_tensor(value, found)
        elif number == _GRAPH_SPARSE:
            _scan_sparse(value, found)
        elif number == _GRAPH_NODE:
            nodes.append(value)
    _scan_nodes(nodes, found, depth)


def external_tensors(graph: bytes) -> list[str]:
    """The names of the tensors in an ONNX model (its bytes) whose data lives in external files.

    Raises ModelError for bytes that are not a protobuf message at all; deeper problems are left to
    ONNX Runtime, which parses the whole model next.
    """
    found: list[str] = []
    if b"location" not in graph:
        # Every external tensor names its file under the key "location" (a runtime cannot find the
        # data otherwise), so without those bytes there is none, and the walk (0.1 s for a large
        # unrolled graph) is skipped.
        return found
    try:
        for number, value in _fields(memoryview(graph)):
            if not isinstance(value, memoryview):
                continue
            if number == _MODEL_GRAPH:
                _scan_graph(value, found, 0)
            elif number == _MODEL_FUNCTIONS:
                _scan_nodes([v for k, v in _fields(value) if k == _FUNCTION_NODE], found, 0)
    except ValueError as exc:
        raise ModelError(f"not a readable ONNX model: {exc}") from None
    return found


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
    if not isinstance(raw.get("task_source", {}), dict):
        raise fail("task_source", f"must be an object, got {type(raw['task_source']).__name__}")
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
    model = raw["model"]
    for what, size in (
        ("(seq_len + n_prefix) x hidden", (model["seq_len"] + model["n_prefix"]) * model["hidden"]),
        ("seq_len x vocab_size", model["seq_len"] * model.get("vocab_size", 1)),
    ):
        if size > MAX_ROW_ELEMENTS:  # each factor is in range, but one puzzle's buffers would not be
            raise fail("model", f"sizes {what} = {size:,} values a puzzle, more than {MAX_ROW_ELEMENTS:,}")
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


def jsonable(value: Any) -> Any:
    """``value`` as JSON can hold it: what goes into a manifest comes from checkpoints and configs, which
    may hold numpy scalars and arrays, tensors, tuples or paths."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "tolist"):  # numpy scalars and arrays, torch tensors
        return jsonable(value.tolist())
    return str(value)


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
