"""Checkpoints of the reference TRM code (SamsungSAILMontreal/TinyRecursiveModels), as our network.

Most TRM weights that circulate were trained with the paper's own code and saved by its ``pretrain.py``:
a folder holding ``all_config.yaml`` and ``step_N`` files, each the ``torch.save`` of a state dict under
``_orig_mod.model.inner.*``. Nothing else runs them outside that code, so this module maps them onto
:class:`trm_sdk.network.TRM`, which computes the same function when configured as below. From there the
ordinary export writes the model folder, and every runtime, the web page and fine-tuning take it as they
take our own.

How the reference's options map onto :class:`TRMConfig`:

- ``L_layers`` blocks -> ``n_blocks``; ``H_cycles`` -> ``T``; ``L_cycles`` -> ``n``; ``halt_max_steps``
  -> ``N_sup``. (Its ``H_layers`` is ignored by the reference itself.)
- ``mlp_t`` -> mixer ``"mlp"`` over sequence + prefix, with ``mix_norm="sequence"``: the reference
  normalises that residual across positions. Otherwise attention, with ``pos_encodings`` -> ``positions``.
- The puzzle embedding of identifier 0, padded with zeros to ``puzzle_emb_len`` positions, -> the prefix.
  The reference multiplies the whole input (prefix and tokens) by sqrt(hidden); our network scales the
  tokens itself, so the prefix (and a learned position table) is stored already scaled.
- ``H_init``/``L_init`` -> ``y_init``/``z_init``; the SwiGLU widths agree (multiples of 256).
- The Q head's row 0 (halt) -> our one-output halting head, read at position 0 as there. A run trained
  with ``no_ACT_continue: false`` halts where q_halt > q_continue, so its head becomes row 0 - row 1.

The Sudoku and Maze token layouts of the reference's datasets are ours, token for token; any other
layout, and any configuration this mapping does not cover, is refused with a line saying what is.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trm_sdk.errors import TRMError
from trm_sdk.manifest import jsonable
from trm_sdk.network import TRM, TRMConfig
from trm_sdk.tasks import get_task, task_names

__all__ = [
    "CONFIG_NAME",
    "REFERENCE_ARCH",
    "ReferenceCheckpoint",
    "ReferenceError",
    "load_reference",
    "read_reference",
    "reference_config",
    "reference_layouts",
    "reference_state",
]

REFERENCE_ARCH = "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1"
CONFIG_NAME = "all_config.yaml"
POS_ENCODINGS = ("rope", "learned", "none")
SWIGLU_MULTIPLE = 256  # the reference rounds every SwiGLU's inner width up to this
_PREFIXES = ("_orig_mod.model.inner.", "model.inner.", "inner.")  # compiled loss wrapper, or not
_STEP_FILE = re.compile(r"step_(\d+)$")
_SUPPORTED = (
    f"supported: arch.name {REFERENCE_ARCH} (TRM) with one puzzle identifier (Sudoku, Maze), "
    f"puzzle_emb_ndim > 0 and pos_encodings {', '.join(POS_ENCODINGS)}"
)


def reference_layouts() -> dict[str, dict[str, Any]]:
    """The reference datasets' token layouts, by task, for the tasks that declare one
    (``Task.reference_encoding()``). Each must equal our codec's encoding key for key, so that imported
    weights read our tokens as theirs; a difference is refused."""
    layouts = {}
    for name in task_names():
        try:
            layout = get_task(name).reference_encoding()
        except TRMError:  # a plugin that does not load has no layout to offer; loading it by name says why
            continue
        if layout is not None:
            layouts[name] = layout
    return layouts


class ReferenceError(TRMError, ValueError):
    """A reference checkpoint that cannot be read, or whose configuration this importer does not map."""


@dataclass(frozen=True)
class ReferenceCheckpoint:
    """A reference checkpoint as read from disk: its ``arch`` config and state dict (prefix stripped)."""

    path: Path  # the state-dict file (step_N)
    config_path: Path
    arch: dict[str, Any]
    state: dict[str, torch.Tensor]
    sha256: str
    step: int | None  # N of step_N, where the name says it

    def provenance(self) -> dict[str, Any]:
        """Where the weights came from, for the manifest: the file, its sha256 and the whole arch config."""
        return {
            "format": "reference-trm",
            "code": "SamsungSAILMontreal/TinyRecursiveModels",
            "file": self.path.name,
            "sha256": self.sha256,
            "step": self.step,
            "config_file": self.config_path.name,
            "config": jsonable(self.arch),
        }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _locate(path: Path) -> tuple[Path, Path]:
    """(state-dict file, all_config.yaml): a ``step_N`` file, or the folder (its highest step)."""
    if path.is_dir():
        steps = [p for p in path.iterdir() if p.is_file() and _STEP_FILE.search(p.name)]
        if not steps:
            raise ReferenceError(
                f"{path} holds no step_N checkpoint file (what the reference's pretrain.py saves)"
            )
        path = max(steps, key=lambda p: int(_STEP_FILE.search(p.name).group(1)))  # type: ignore[union-attr]
    elif not path.is_file():
        raise ReferenceError(f"reference checkpoint not found: {path}")
    config = path.parent / CONFIG_NAME
    if not config.is_file():
        raise ReferenceError(f"{config} not found: the reference writes it beside its step_N files")
    return path, config


def _read_arch(config: Path) -> dict[str, Any]:
    try:
        import yaml
    except ImportError as exc:
        raise ReferenceError(
            "reading a reference checkpoint needs PyYAML: pip install 'trm-sdk[export]'"
        ) from exc
    try:
        body = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ReferenceError(f"cannot read {config}: {exc}") from None
    arch = body.get("arch") if isinstance(body, dict) else None
    if not isinstance(arch, dict):
        raise ReferenceError(f"{config} has no 'arch' section: is it the reference's all_config.yaml?")
    return arch


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    try:  # weights_only: a checkpoint from the internet must not run code when read
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and runtime errors alike mean "not a state dict we can read"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReferenceError(f"cannot load {path} as a state dict with weights_only=True: {first}") from None
    if not isinstance(raw, dict) or not all(torch.is_tensor(v) for v in raw.values()):
        raise ReferenceError(f"{path} is not a state dict of tensors, as the reference's pretrain.py saves")
    state = {}
    for key, value in raw.items():
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix) :]
                break
        state[key] = value
    return state


def read_reference(path: str | Path) -> ReferenceCheckpoint:
    """Read a reference checkpoint safely: ``step_N`` (or its folder) and the all_config.yaml beside it."""
    file, config = _locate(Path(path))
    match = _STEP_FILE.search(file.name)
    return ReferenceCheckpoint(
        path=file,
        config_path=config,
        arch=_read_arch(config),
        state=_read_state(file),
        sha256=_sha256(file),
        step=int(match.group(1)) if match else None,
    )


# --------------------------------------------------------------------------------------------------
# The configuration


def _arch_value(arch: dict[str, Any], key: str, kind: type, default: Any = None) -> Any:
    value = arch.get(key, default)
    if value is None:
        raise ReferenceError(f"all_config.yaml: arch.{key} is missing")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ReferenceError(f"all_config.yaml: arch.{key} must be {kind.__name__}, got {value!r}")
    return value


def _shape(state: dict[str, torch.Tensor], key: str) -> tuple[int, ...]:
    if key not in state:
        raise ReferenceError(f"the state dict has no {key}: not a TRM checkpoint of the reference code")
    return tuple(state[key].shape)


def _check_supported(arch: dict[str, Any], state: dict[str, torch.Tensor]) -> None:
    name = arch.get("name")
    if any(k.startswith("H_level.") for k in state) or str(name).startswith("hrm"):
        raise ReferenceError(f"{name or 'this checkpoint'} is an HRM checkpoint, not TRM; {_SUPPORTED}")
    if name != REFERENCE_ARCH:
        raise ReferenceError(f"arch.name {name!r} is not supported; {_SUPPORTED}")
    pos = arch.get("pos_encodings")
    if pos not in POS_ENCODINGS:
        raise ReferenceError(f"arch.pos_encodings {pos!r} is not supported; {_SUPPORTED}")
    ids = _shape(state, "puzzle_emb.weights")[0] if "puzzle_emb.weights" in state else 0
    if ids > 1:
        raise ReferenceError(
            f"the checkpoint has {ids} puzzle identifiers (one embedding per puzzle, as ARC trains): a new "
            f"puzzle has none to use; {_SUPPORTED}"
        )
    if int(arch.get("puzzle_emb_ndim", 0) or 0) <= 0 or ids == 0:
        raise ReferenceError(
            f"a checkpoint without a puzzle embedding (puzzle_emb_ndim 0) is not supported; {_SUPPORTED}"
        )


def _pick_task(task: str | None, vocab: int, seq_len: int | None) -> str:
    layouts = reference_layouts()

    def fits(name: str) -> bool:
        layout = layouts.get(name)
        return layout is not None and layout["vocab_size"] == vocab and seq_len in (None, layout["seq_len"])

    if task is None:
        found = [name for name in layouts if fits(name)]
        if len(found) != 1:
            raise ReferenceError(
                f"cannot tell the task of a checkpoint with vocab_size {vocab}"
                + (f" and seq_len {seq_len}" if seq_len else "")
                + f": pass the task ({', '.join(sorted(layouts))})"
            )
        task = found[0]
    if task not in layouts:
        raise ReferenceError(
            f"no reference token layout is known for task {task!r}; supported: {sorted(layouts)}"
        )
    layout = layouts[task]
    ours = get_task(task).encoding()
    differs = sorted(k for k in layout if ours.get(k) != layout[k])
    if differs:  # a codec changed since: the weights would read our tokens as other symbols
        raise ReferenceError(f"the {task} codec's token layout differs from the reference's in {differs}")
    if not fits(task):
        raise ReferenceError(
            f"the checkpoint has vocab_size {vocab}"
            + (f" and seq_len {seq_len}" if seq_len else "")
            + f"; the reference's {task} datasets have {layout['vocab_size']} and {layout['seq_len']}"
        )
    return task


def reference_config(ref: ReferenceCheckpoint, task: str | None = None) -> tuple[TRMConfig, str]:
    """The :class:`TRMConfig` that computes what the reference computes with ``ref``, and its task.

    ``vocab_size`` and ``seq_len`` come from the dataset in the reference, not its config: they are read
    from the weights' shapes where these fix them, and otherwise from the task's layout (``task``, or the
    one task whose vocabulary matches).
    """
    arch, state = ref.arch, ref.state
    _check_supported(arch, state)
    hidden = _arch_value(arch, "hidden_size", int)
    ndim = _arch_value(arch, "puzzle_emb_ndim", int)
    emb_len = _arch_value(arch, "puzzle_emb_len", int, 16) or math.ceil(ndim / hidden)
    if ndim > emb_len * hidden:
        raise ReferenceError(
            f"puzzle_emb_ndim {ndim} does not fit in puzzle_emb_len {emb_len} x hidden {hidden}"
        )
    mlp_t = _arch_value(arch, "mlp_t", bool, False)
    pos = arch["pos_encodings"]
    vocab = _shape(state, "embed_tokens.embedding_weight")[0]
    seq_len = None  # fixed by the weights for the sequence MLP and a learned table; RoPE fixes nothing
    if mlp_t:
        seq_len = _shape(state, "L_level.layers.0.mlp_t.gate_up_proj.weight")[1] - emb_len
    elif pos == "learned":
        seq_len = _shape(state, "embed_pos.embedding_weight")[0] - emb_len
    task = _pick_task(task, vocab, seq_len)
    values = {
        "vocab_size": vocab,
        "seq_len": get_task(task).seq_len,
        "n_prefix": emb_len,
        "hidden": hidden,
        "n_blocks": _arch_value(arch, "L_layers", int),
        "expansion": _arch_value(arch, "expansion", float),
        "multiple_of": SWIGLU_MULTIPLE,
        "mixer": "mlp" if mlp_t else "attention",
        "n_heads": _arch_value(arch, "num_heads", int),
        "rope_theta": _arch_value(arch, "rope_theta", float, 10000.0),
        "positions": pos,
        "mix_norm": "sequence" if mlp_t else "hidden",
        "T": _arch_value(arch, "H_cycles", int),
        "n": _arch_value(arch, "L_cycles", int),
        "N_sup": _arch_value(arch, "halt_max_steps", int),
        "norm_eps": _arch_value(arch, "rms_norm_eps", float, 1e-5),
    }
    try:
        return TRMConfig(**values), task
    except ValueError as exc:
        raise ReferenceError(f"the checkpoint's configuration does not make a TRM: {exc}") from None


# --------------------------------------------------------------------------------------------------
# The weights

# Per block: the reference's name -> ours (mlp_t or self_attn, whichever the network has).
_BLOCK_KEYS = {
    "mlp_t.gate_up_proj.weight": "mix.mlp.gate_up.weight",
    "mlp_t.down_proj.weight": "mix.mlp.down.weight",
    "self_attn.qkv_proj.weight": "mix.qkv.weight",
    "self_attn.o_proj.weight": "mix.out.weight",
    "mlp.gate_up_proj.weight": "mlp.gate_up.weight",
    "mlp.down_proj.weight": "mlp.down.weight",
}
# Buffers the reference's sparse embedding keeps for training only; older saves may hold them.
_TRAINING_ONLY = ("puzzle_emb.local_weights", "puzzle_emb.local_ids")


def reference_state(ref: ReferenceCheckpoint, cfg: TRMConfig) -> dict[str, torch.Tensor]:
    """``ref``'s weights under our network's names, in float32 (``H_init``/``L_init`` are often bf16)."""
    src = {k: v.detach().float() for k, v in ref.state.items() if k not in _TRAINING_ONLY}
    used: set[str] = set()

    def take(key: str) -> torch.Tensor:
        if key not in src:
            raise ReferenceError(f"the state dict has no {key}")
        used.add(key)
        return src[key]

    scale = math.sqrt(cfg.hidden)
    state = {
        "embed.weight": take("embed_tokens.embedding_weight"),
        "head.weight": take("lm_head.weight"),
        "y_init": take("H_init"),
        "z_init": take("L_init"),
    }
    # The prefix: identifier 0's embedding, zero-padded to n_prefix positions, scaled as the reference's
    # input is (it multiplies prefix and tokens by sqrt(hidden) together).
    puzzle = take("puzzle_emb.weights")[0]
    padded = torch.zeros(cfg.n_prefix * cfg.hidden)
    padded[: puzzle.numel()] = puzzle
    state["prefix"] = padded.view(cfg.n_prefix, cfg.hidden) * scale
    if cfg.positions == "learned":
        state["pos_embed"] = take("embed_pos.embedding_weight") * scale
    q_w, q_b = take("q_head.weight"), take("q_head.bias")
    if ref.arch.get("no_ACT_continue", True):
        state["q_head.weight"], state["q_head.bias"] = q_w[:1], q_b[:1]
    else:  # halting where q_halt > q_continue: one logit whose sign says the same
        state["q_head.weight"], state["q_head.bias"] = q_w[:1] - q_w[1:2], q_b[:1] - q_b[1:2]
    for i in range(cfg.n_blocks):
        for theirs, ours in _BLOCK_KEYS.items():
            key = f"L_level.layers.{i}.{theirs}"
            if key in src:
                state[f"blocks.{i}.{ours}"] = take(key)
    unused = sorted(set(src) - used)
    if unused:
        raise ReferenceError(
            f"the state dict holds weights this network has no place for: {', '.join(unused[:4])}"
        )
    return state


def load_reference(path: str | Path, task: str | None = None) -> tuple[TRM, str, dict[str, Any]]:
    """(our network holding the reference checkpoint's weights, in eval mode; its task; provenance)."""
    ref = read_reference(path)
    cfg, task = reference_config(ref, task)
    model = TRM(cfg)
    try:
        model.load_state_dict(reference_state(ref, cfg), strict=True)
    except RuntimeError as exc:  # shapes that disagree with the config
        first = str(exc).strip().splitlines()
        raise ReferenceError(
            f"the weights do not fit the configuration in {ref.config_path}: {' '.join(first[1:3])}"
        ) from None
    return model.float().eval(), task, {**ref.provenance(), "mapped_to": cfg.to_dict()}
