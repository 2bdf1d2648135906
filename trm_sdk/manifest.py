"""A model directory's manifest: what the graphs compute, how they were made, and checksums of every file.

The runtime trusts nothing it has not checked: each file named here is hashed on load, so a truncated
download or a hand-edited graph fails with a clear message instead of producing wrong answers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ModelError

__all__ = ["FORMAT_VERSION", "Manifest", "load_manifest", "sha256_file", "write_manifest"]

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"


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


def load_manifest(directory: str | Path) -> Manifest:
    directory = Path(directory)
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise ModelError(f"no {MANIFEST_NAME} in {directory}: not an exported trm-sdk model directory")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
    missing = [key for key in _REQUIRED if key not in raw] if isinstance(raw, dict) else list(_REQUIRED)
    if missing:
        raise ModelError(f"{path} lacks required field(s): {', '.join(missing)}")
    if raw["format"] != FORMAT_VERSION:
        raise ModelError(
            f"{path} has manifest format {raw['format']}; this trm-sdk reads format {FORMAT_VERSION}: "
            "upgrade trm-sdk or re-export the model"
        )
    return Manifest(
        directory=directory,
        task=raw["task"],
        encoding=raw["encoding"],
        model=raw["model"],
        halting=raw["halting"],
        files=raw["files"],
        raw=raw,
    )


def file_entry(directory: Path, name: str) -> dict[str, Any]:
    path = directory / name
    return {"path": name, "sha256": sha256_file(path), "bytes": path.stat().st_size}


def write_manifest(directory: str | Path, fields: dict[str, Any]) -> Path:
    """Write ``manifest.json``; ``fields['files']`` maps role -> file name and is hashed here."""
    directory = Path(directory)
    body = dict(fields)
    body["format"] = FORMAT_VERSION
    body["files"] = {role: file_entry(directory, name) for role, name in fields["files"].items()}
    path = directory / MANIFEST_NAME
    path.write_text(json.dumps(body, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path
