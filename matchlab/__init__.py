"""The composition root: the ``matchlab`` command wires the web app (``app``), the worker
(``worker``) and the local stack together. It sits above both, so ``app`` never imports
``worker``.
"""
