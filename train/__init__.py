"""Training a TRM (``trm-train``), installed as ``trm_sdk.train``; it needs the ``train`` extra (PyTorch).

The modules, by concern: ``config`` (a run's settings), ``trainer`` (the loop), ``checkpoint`` (save,
resume, start from an exported model), ``hardware`` (what the machine offers), ``data`` and ``feed`` (the
puzzle stream), ``losses``, ``optim``, ``evaluate``, ``distributed`` (torchrun) and ``cli``. Importing
this package imports none of them, so ``trm-train --help`` works without PyTorch.
"""
