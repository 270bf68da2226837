"""Algorithms, one file each, named in ssl_core.contract.catalog: ``build_algorithm(spec, ...)``."""

from ssl_core.algorithms.base import Algorithm, StepOutput, build_algorithm

__all__ = ["Algorithm", "StepOutput", "build_algorithm"]
