"""The web page's sources (HTML, JavaScript, CSS and the npm lockfile for onnxruntime-web).

Package data, not code: this file makes the folder the package ``trm_sdk.web`` so that
``importlib.resources.files("trm_sdk.web")`` finds it in a wheel and in an editable install alike
(``trm-export --format web`` copies the page from there).
"""
