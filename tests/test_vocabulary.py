"""Metric keys and summary fields are spelled once, in their rows (ssl_core/contract/metrics.py,
summary.py): the web app, the worker, the templates and the browser code take them from there,
so a renamed or added metric cannot leave a second spelling behind."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ssl_core.contract import metrics, summary

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ("app", "worker", "matchlab")
TEXT = (("templates", "*.html"), ("app/static", "*.js"), ("app/static", "*.css"))


def _patterns() -> dict[str, re.Pattern[str]]:
    words = {}
    for row in metrics.METRIC_KEYS.values():
        # A per-class key is spelled by its prefix (``f"train/threshold/{c}"``).
        tail = "" if row.per_class else r"(?![\w/])"
        words[row.name] = re.compile(rf"(?<![\w/]){re.escape(row.prefix)}{tail}")
    for field in summary.FIELDS:
        words[field.key] = re.compile(rf"(?<!\w){re.escape(field.key)}(?!\w)")
        words[field.label] = re.compile(rf"(?<![\w-]){re.escape(field.label)}(?![\w-])", re.I)
    return words


PATTERNS = _patterns()


def spelled(text: str) -> list[str]:
    """The metric keys and summary keys or labels that ``text`` spells out."""
    return [word for word, pattern in PATTERNS.items() if pattern.search(text)]


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: documentation may name a key, code may not."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def _python_literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    skip = _docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
    ]


def offenders() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for package in PYTHON:
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, text in _python_literals(path):
                for word in spelled(text):
                    found.setdefault(f"{path.relative_to(ROOT)}:{line}", []).append(word)
    for folder, pattern in TEXT:
        for path in sorted((ROOT / folder).glob(pattern)):
            for line, text in enumerate(path.read_text().splitlines(), 1):
                for word in spelled(text):
                    found.setdefault(f"{path.relative_to(ROOT)}:{line}", []).append(word)
    return found


def test_no_metric_key_or_summary_field_is_spelled_outside_its_row():
    assert offenders() == {}


def test_the_scan_sees_each_kind_of_spelling():
    assert spelled('keys = "val/top1,test/top1"') == ["val/top1", "test/top1"]
    assert spelled("f'train/pseudo_label_share/{c}'") == ["train/pseudo_label_share/<class>"]
    assert spelled("<th>Test top-1 at best val</th>") == ["test top-1 at best val"]
    assert spelled("summary.best_epoch") == ["best_epoch"]
    # Words that merely contain a key are not that key.
    assert spelled("val/top1x train/loss_ratio best top-1 at") == []
    literals = [text for _, text in _python_literals(ROOT / "app" / "api" / "runs.py")]
    assert literals and not any('"""' in text for text in literals)
