"""The models shipped with trm-sdk, one folder per task (``manifest.json``, graphs, weights).

Package data, not code: this file makes the folder the package ``trm_sdk.models`` so that
``importlib.resources.files("trm_sdk.models")`` finds it in a wheel and in an editable install alike
(``trm_sdk.shipped`` does the finding).
"""
