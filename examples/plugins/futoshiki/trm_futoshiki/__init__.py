"""5x5 Futoshiki for trm-sdk: an example of a puzzle type added as a plugin, outside the SDK itself.

:mod:`.task` is what the SDK loads (this package's ``trm_sdk.tasks`` entry point); behind it, numpy and
pure Python: :mod:`.codec` (text, tokens, checking), :mod:`.solve` (exact search), :mod:`.generate`
(unique puzzles by level) and :mod:`.symmetry` (the 16 views). ``model/`` is the trained model.
"""
