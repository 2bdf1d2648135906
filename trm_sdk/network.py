"""The TRM network: one tiny shared network, applied recursively to an answer ``y`` and a latent ``z``.

Written bottom-up (norm, mixers, block, config, model) after the paper "Less is More: Recursive Reasoning
with Tiny Networks". Names follow the paper: ``x`` the embedded question, ``y`` the answer state, ``z`` the
latent state, ``T`` the outer cycles, ``n`` the latent updates per cycle, ``N_sup`` the supervision steps.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import ModelError
from .manifest import Manifest


def rms_norm(h: torch.Tensor, eps: float) -> torch.Tensor:
    # Weightless RMSNorm computed in fp32 even under bf16 autocast: the recursion applies it ~700 times
    # per puzzle, and low-precision drift compounds across applications.
    dtype = h.dtype
    h = h.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return h.to(dtype)


def _inner_width(width: int, expansion: float, multiple_of: int) -> int:
    # SwiGLU keeps the parameter count of a plain MLP of the same expansion (factor 2/3), rounded up so
    # matrix shapes stay friendly to tensor cores.
    raw = round(expansion * width * 2 / 3)
    return multiple_of * math.ceil(raw / multiple_of)


class SwiGLU(nn.Module):
    def __init__(self, width: int, expansion: float, multiple_of: int) -> None:
        super().__init__()
        inner = _inner_width(width, expansion, multiple_of)
        self.gate_up = nn.Linear(width, 2 * inner, bias=False)
        self.down = nn.Linear(inner, width, bias=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(h).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class SequenceMLP(nn.Module):
    """TRM-MLP's token mixer: a SwiGLU across positions. Suits small fixed grids such as Sudoku's 81 cells."""

    def __init__(self, length: int, expansion: float, multiple_of: int) -> None:
        super().__init__()
        self.mlp = SwiGLU(length, expansion, multiple_of)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.mlp(h.transpose(1, 2)).transpose(1, 2)  # (B, L, D) -> (B, D, L) -> (B, L, D)


def rope_tables(length: int, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)  # (L, head_dim/2)
    angles = torch.cat([angles, angles], dim=-1)  # (L, head_dim)
    return angles.cos(), angles.sin()


def apply_rope(t: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = t.shape[-1] // 2
    rotated = torch.cat([-t[..., half:], t[..., :half]], dim=-1)
    return t * cos + rotated * sin


class Attention(nn.Module):
    """TRM-Att's token mixer: non-causal multi-head self-attention with rotary position embeddings."""

    cos: torch.Tensor  # buffers, declared for the type checker
    sin: torch.Tensor

    def __init__(self, hidden: int, n_heads: int, length: int, theta: float, rope: bool = True) -> None:
        super().__init__()
        if hidden % n_heads:
            raise ValueError(f"hidden={hidden} is not divisible by n_heads={n_heads}")
        self.n_heads = n_heads
        self.rope = rope  # False: positions come from a learned table in the input, or not at all
        self.qkv = nn.Linear(hidden, 3 * hidden, bias=False)
        self.out = nn.Linear(hidden, hidden, bias=False)
        cos, sin = rope_tables(length, hidden // n_heads, theta)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        B, L, D = h.shape
        qkv = self.qkv(h).view(B, L, 3, self.n_heads, D // self.n_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # unbind, not tuple unpacking: the ONNX tracer keeps it one op
        if self.rope:
            cos, sin = self.cos.to(q.dtype), self.sin.to(q.dtype)
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)  # (B, H, L, hd)
        att = F.scaled_dot_product_attention(q, k, v)
        return self.out(att.transpose(1, 2).reshape(B, L, D))


class GridConv(nn.Module):
    """A local token mixer: a depthwise k x k convolution over the square grid of cells.

    Shortest paths come from one local rule repeated (a wavefront moves one cell per application), so a
    mixer that sees only a cell's neighbours is enough, and costs almost nothing next to the channel MLP.
    No weight depends on the grid's size: one network runs on any square grid, which is what lets a maze
    model train on small mazes and run on 30x30 ones with more recursion.
    """

    def __init__(self, hidden: int, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(hidden, hidden, kernel, padding=kernel // 2, groups=hidden, bias=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        B, L, D = h.shape
        side = math.isqrt(L)
        grid = h.transpose(1, 2).reshape(B, D, side, side)
        return self.conv(grid).reshape(B, D, L).transpose(1, 2)


class DigitCodes(nn.Module):
    """Digit-equivariant input and output: a symbol is known by the cells where the puzzle gives it.

    Each symbol's code is the mean of learned position vectors over the cells that hold it in the question;
    a cell's input is its kind (pad, blank or given) plus a projection of its symbol's code, and a symbol's
    output logit in a cell is the cell's state against that symbol's code. Relabelling the symbols permutes
    the codes and nothing else, so the network's answer is relabelled with them: the invariance that digit
    augmentation only teaches. A symbol the question never gives has a zero code (a unique Sudoku lacks
    at most one digit), which still tells it apart from the others.
    """

    def __init__(self, cfg: TRMConfig) -> None:
        super().__init__()
        self.first = 2  # tokens below are pad and blank
        self.symbols = cfg.vocab_size - self.first
        self.position = nn.Parameter(torch.zeros(cfg.seq_len, cfg.hidden))
        self.inp = nn.Linear(cfg.hidden, cfg.hidden, bias=False)
        self.out = nn.Linear(cfg.hidden, cfg.hidden, bias=False)
        self.scale = 1.0 / math.sqrt(cfg.hidden)

    def codes(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(one-hot of given symbols (B, S, K), codes (B, K, D))."""
        symbols = torch.arange(self.first, self.first + self.symbols, device=tokens.device)
        given = (tokens.unsqueeze(-1) == symbols).to(self.position.dtype)  # (B, S, K)
        count = given.sum(1).clamp(min=1.0).unsqueeze(-1)  # (B, K, 1)
        return given, torch.einsum("bsk,sd->bkd", given, self.position) / count

    def embed(self, given: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """The given cells' part of the input (B, S, D): their symbol's code, projected."""
        return self.inp(torch.einsum("bsk,bkd->bsd", given, codes))

    def logits(self, h: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """(B, S, K): each cell's state against each symbol's code."""
        return torch.einsum("bsd,bkd->bsk", self.out(h), codes.to(h.dtype)) * self.scale


class Block(nn.Module):
    """Post-norm block, as in the paper: h = norm(h + mix(h)); h = norm(h + mlp(h)).

    With ``mix_norm="sequence"`` the first norm runs across positions instead of features: the reference
    code's sequence MLP normalises while its tensor is still transposed, and imported weights expect that.
    """

    def __init__(self, cfg: TRMConfig) -> None:
        super().__init__()
        self.eps = cfg.norm_eps
        self.norm_positions = cfg.mix_norm == "sequence"
        if cfg.mixer == "mlp":
            self.mix: nn.Module = SequenceMLP(cfg.length, cfg.expansion, cfg.multiple_of)
        elif cfg.mixer == "conv":
            self.mix = GridConv(cfg.hidden, cfg.kernel)
        else:
            self.mix = Attention(cfg.hidden, cfg.n_heads, cfg.length, cfg.rope_theta, cfg.positions == "rope")
        self.mlp = SwiGLU(cfg.hidden, cfg.expansion, cfg.multiple_of)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.norm_positions:
            h = rms_norm((h + self.mix(h)).transpose(1, 2), self.eps).transpose(1, 2)  # norm over L
        else:
            h = rms_norm(h + self.mix(h), self.eps)
        return rms_norm(h + self.mlp(h), self.eps)


def checked_fields(cls: type, values: dict[str, Any], what: str) -> dict[str, Any]:
    """``values`` checked against dataclass ``cls``: unknown keys and wrongly typed scalars are errors.

    Shared by every config that users override from the command line, so a typo fails loudly instead
    of training the wrong thing for hours. Ints are accepted where a float is expected.
    """
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown {what} config key(s): {', '.join(unknown)}; known: {', '.join(known)}")
    defaults = cls()
    typed = {}
    for key, value in values.items():
        expected = type(getattr(defaults, key))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if expected in (int, float, str, bool) and (
            not isinstance(value, expected) or isinstance(value, bool) != (expected is bool)
        ):
            raise ValueError(f"{what} config {key!r} must be {expected.__name__}, got {value!r}")
        typed[key] = value
    return typed


_INV_SQRT2 = 0.707106781  # the reference code's constant, to the digit

RECURSION_FIELDS = ("T", "n", "N_sup")  # how deep the network is applied; no weight depends on them


@dataclass
class TRMConfig:
    vocab_size: int = 11  # Sudoku: pad 0, blank 1, digits 2..10
    seq_len: int = 81  # puzzle cells
    n_prefix: int = 16  # learned positions before the cells; the halting head reads position 0
    hidden: int = 512
    n_blocks: int = 2
    expansion: float = 4.0
    multiple_of: int = 256  # SwiGLU inner widths round up to this
    # "mlp" = TRM-MLP (Sudoku), "attention" = TRM-Att (the paper's Maze), "conv" = a local k x k mixer
    # over the square grid (our Maze: any grid size, no prefix positions, halting reads the cells' mean)
    mixer: Literal["mlp", "attention", "conv"] = "mlp"
    n_heads: int = 8  # attention only
    rope_theta: float = 10000.0  # attention only
    kernel: int = 3  # conv only: the mixer's k x k neighbourhood (odd)
    # "embedding": a row per token in and out. "equivariant": the symbols (tokens 2 and up, Sudoku's
    # digits) have no weights of their own; each is known by where the puzzle gives it (see DigitCodes),
    # so relabelling the digits of a puzzle relabels the answer exactly, without digit augmentation.
    digits: Literal["embedding", "equivariant"] = "embedding"
    # Positions: "rope" rotates attention's queries and keys (the mlp and conv mixers know positions from
    # their weights and ignore it); "learned" adds a table to the input, (x + table) / sqrt(2); "none".
    positions: Literal["rope", "learned", "none"] = "rope"
    # The axis the mixer's residual is normalised over: "hidden" (features), or "sequence" (positions,
    # mixer "mlp" only): what checkpoints of the reference code's mlp_t network were trained with.
    mix_norm: Literal["hidden", "sequence"] = "hidden"
    T: int = 3  # outer cycles per supervision step; the first T-1 run without gradient
    n: int = 6  # latent updates per cycle
    N_sup: int = 16  # supervision steps
    norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        if self.mixer not in ("mlp", "attention", "conv"):
            raise ValueError(f"mixer must be 'mlp', 'attention' or 'conv', not {self.mixer!r}")
        if self.digits not in ("embedding", "equivariant"):
            raise ValueError(f"digits must be 'embedding' or 'equivariant', not {self.digits!r}")
        if self.positions not in ("rope", "learned", "none"):
            raise ValueError(f"positions must be 'rope', 'learned' or 'none', not {self.positions!r}")
        if self.mix_norm not in ("hidden", "sequence"):
            raise ValueError(f"mix_norm must be 'hidden' or 'sequence', not {self.mix_norm!r}")
        if self.mix_norm == "sequence" and self.mixer != "mlp":
            raise ValueError("mix_norm 'sequence' normalises the sequence MLP's residual: needs mixer 'mlp'")
        if self.positions == "learned" and self.mixer == "conv":
            raise ValueError("positions 'learned' fixes the length; mixer 'conv' runs on any grid")
        if self.digits == "equivariant" and self.vocab_size < 4:
            raise ValueError("digits 'equivariant' needs symbols to relabel: tokens 2 and up")
        if self.mixer == "conv":
            if self.n_prefix:
                raise ValueError("mixer 'conv' mixes a square grid of cells only: set n_prefix to 0")
            if math.isqrt(self.seq_len) ** 2 != self.seq_len:
                raise ValueError(f"mixer 'conv' needs a square grid; seq_len {self.seq_len} is not a square")
            if self.kernel < 1 or self.kernel % 2 == 0:
                raise ValueError(f"kernel must be odd and >= 1, got {self.kernel}")
        for name in ("vocab_size", "seq_len", "hidden", "n_blocks", "T", "n", "N_sup"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def length(self) -> int:
        return self.seq_len + self.n_prefix

    @property
    def any_grid(self) -> bool:
        """Whether no weight depends on the grid size (the conv mixer): such a network runs on any square
        grid, so training can give each curriculum stage the smallest frame that holds its puzzles."""
        return self.mixer == "conv"

    def weight_changes(self, other: TRMConfig) -> list[str]:
        """The fields in which ``other`` describes other weights: all that differ but the recursion depth
        (``T``, ``n``, ``N_sup``), which says how often the network is applied, not what it is. A run may
        resume deeper than it began (a shallow-to-deep schedule, or longer paths than its first stage
        had), and nothing else."""
        mine, theirs = self.to_dict(), other.to_dict()
        return sorted(k for k in mine if k not in RECURSION_FIELDS and mine[k] != theirs[k])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TRMConfig:
        """Build a config from (possibly user-supplied) values; an unknown key is an error, not ignored."""
        return cls(**checked_fields(cls, values, "model"))


class TRM(nn.Module):
    y_init: torch.Tensor  # buffers, declared for the type checker
    z_init: torch.Tensor

    def __init__(self, cfg: TRMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        D = cfg.hidden
        self.embed = nn.Embedding(cfg.vocab_size, D)
        self.prefix = nn.Parameter(torch.zeros(cfg.n_prefix, D))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_blocks))
        self.head = nn.Linear(D, cfg.vocab_size, bias=False)
        self.digit_codes = DigitCodes(cfg) if cfg.digits == "equivariant" else None
        # A learned position table (positions "learned" only, so other networks keep their state dicts).
        self.pos_embed = nn.Parameter(torch.zeros(cfg.length, D)) if cfg.positions == "learned" else None
        self.q_head = nn.Linear(D, 1)  # the only bias in the network
        # Fixed random starting points for y and z, broadcast over positions: buffers, not learned.
        self.register_buffer("y_init", nn.init.trunc_normal_(torch.empty(D), std=1.0, a=-2.0, b=2.0))
        self.register_buffer("z_init", nn.init.trunc_normal_(torch.empty(D), std=1.0, a=-2.0, b=2.0))
        self._init_weights()

    def _init_weights(self) -> None:
        std = 1.0 / math.sqrt(self.cfg.hidden)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=1.0 / math.sqrt(module.in_features), a=-2.0, b=2.0)
        nn.init.trunc_normal_(self.embed.weight, std=std, a=-2 * std, b=2 * std)
        nn.init.trunc_normal_(self.prefix, std=std, a=-2 * std, b=2 * std)
        if self.digit_codes is not None:
            nn.init.trunc_normal_(self.digit_codes.position, std=1.0, a=-2.0, b=2.0)
        if self.pos_embed is not None:  # drawn after every other weight: the others' draws stay the same
            nn.init.trunc_normal_(self.pos_embed, std=1.0, a=-2.0, b=2.0)
        # Start by predicting "keep going" (sigmoid(-5) = 0.007) so early training does not halt at step 1.
        nn.init.zeros_(self.q_head.weight)
        nn.init.constant_(self.q_head.bias, -5.0)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def input_embedding(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(input (B, L, D), the symbols' codes with equivariant digits or None): the codes are returned
        so that the output layer reuses them instead of computing them again from the same question."""
        codes = None
        if self.digit_codes is None:
            x = self.embed(tokens) * math.sqrt(self.cfg.hidden)  # (B, S, D)
        else:  # every symbol shares the "given" row (token 2); its code says which one it is
            given, codes = self.digit_codes.codes(tokens)
            kind = self.embed(tokens.clamp(max=self.digit_codes.first)) * math.sqrt(self.cfg.hidden)
            x = kind + self.digit_codes.embed(given, codes)
        prefix = self.prefix.to(x.dtype).unsqueeze(0).expand(x.shape[0], -1, -1)  # (B, P, D)
        h = torch.cat([prefix, x], dim=1)  # (B, L, D)
        if self.pos_embed is not None:  # 1/sqrt(2) keeps the sum's variance that of each part
            h = (h + self.pos_embed.to(h.dtype)) * _INV_SQRT2
        return h, codes

    def initial_state(self, batch: int, cells: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``cells``: a conv network's grid may be smaller than ``seq_len`` (training on small frames)."""
        length = self.cfg.length if cells is None else cells + self.cfg.n_prefix
        shape = (batch, length, self.cfg.hidden)
        return self.y_init.expand(shape).clone(), self.z_init.expand(shape).clone()

    def output_logits(self, cells: torch.Tensor, codes: torch.Tensor | None) -> torch.Tensor:
        """(B, S, V) from the cells' answer states: the head's row per token, or with equivariant digits
        the head's rows for pad and blank and the symbols' codes for the rest."""
        if self.digit_codes is None or codes is None:
            return self.head(cells)
        first = self.digit_codes.first
        return torch.cat([self.head(cells)[..., :first], self.digit_codes.logits(cells, codes)], dim=-1)

    def halt_features(self, y: torch.Tensor) -> torch.Tensor:
        """What the halting head reads: prefix position 0, or without a prefix (conv) the cells' mean,
        since no single cell of a local network sees the whole answer."""
        return y[:, 0] if self.cfg.n_prefix else y.mean(1)

    def net(self, h: torch.Tensor, inj: torch.Tensor) -> torch.Tensor:
        h = h + inj
        for block in self.blocks:
            h = block(h)
        return h

    def latent_recursion(
        self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        for _ in range(self.cfg.n):
            z = self.net(z, y + x)  # refine the latent from question, answer and latent
        y = self.net(y, z)  # refine the answer from the latent alone
        return y, z

    def forward(
        self, tokens: torch.Tensor, y: torch.Tensor, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One supervision step: T cycles of recursion, then the answer logits and the halting logit.

        Returns (y, z, logits (B, S, V), q_halt (B,)). y and z come back detached: each supervision step is
        its own optimisation problem, and gradients never flow across steps.
        """
        x, codes = self.input_embedding(tokens)
        with torch.no_grad():
            for _ in range(self.cfg.T - 1):
                y, z = self.latent_recursion(x, y, z)
        y, z = self.latent_recursion(x, y, z)  # the only cycle backpropagated
        logits = self.output_logits(y[:, self.cfg.n_prefix :], codes)  # (B, S, V)
        q_halt = self.q_head(self.halt_features(y)).squeeze(-1)  # (B,)
        return y.detach(), z.detach(), logits, q_halt


def load_network(manifest: Manifest, device: torch.device | str, dtype: torch.dtype) -> TRM:
    """An exported model's TRM in PyTorch, in eval mode on ``device`` with weights and state in ``dtype``.

    Built from the model folder's ``weights.npz`` (the fp16 tensors the ONNX graphs hold, under the
    network's own names): the CUDA backend runs it, and training starts from it (``--init-from``).
    """
    if "weights" not in manifest.files:
        raise ModelError(
            f"model {manifest.directory} has no weights.npz (exported before the CUDA backend existed); "
            "re-export it with trm-export, or use backend='cpu'"
        )
    path = manifest.directory / manifest.files["weights"]["path"]
    data = manifest.read("weights")  # the bytes whose sha256 was checked, not the path reopened
    try:
        cfg = TRMConfig.from_dict(manifest.model)
        with np.load(io.BytesIO(data)) as arrays:
            state = {name: torch.from_numpy(arrays[name].astype(np.float32)) for name in arrays.files}
        model = TRM(cfg)
        model.load_state_dict(state, strict=True)
    except (ValueError, KeyError, RuntimeError, OSError) as exc:
        raise ModelError(f"cannot build the network from {path}: {exc}") from exc
    return model.to(device=device, dtype=dtype).eval().requires_grad_(False)
