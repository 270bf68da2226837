"""Algorithms, one file each, registered by name: ``build_algorithm(spec, ...)``."""

from ssl_core.algorithms import fixmatch, flexmatch, mixmatch, supervised  # noqa: F401 — registers
from ssl_core.algorithms.base import Algorithm, StepOutput, build_algorithm

__all__ = ["Algorithm", "StepOutput", "build_algorithm"]
