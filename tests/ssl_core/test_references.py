"""Every built-in algorithm can be put next to a published number for CIFAR-10 with 40 labels;
each number states its protocol."""

from __future__ import annotations

from ssl_core.contract.catalog import BUILTIN_ALGORITHMS
from ssl_core.contract.references import find


def test_every_builtin_algorithm_has_a_published_cifar10_40_reference():
    published = {r.algorithm for r in find("cifar10", 40)}
    assert set(BUILTIN_ALGORITHMS) <= published


def test_usb_rows_of_the_new_baselines_are_the_csv_values():
    # results/classic_cv.csv of microsoft/Semi-supervised-learning, column cifar10_40
    usb = {r.algorithm: r.top1 for r in find("cifar10", 40) if r.source.startswith("USB classic")}
    assert usb == {"pseudolabel": 23.71, "meanteacher": 23.07, "pimodel": 24.44,
                   "remixmatch": 85.5, "uda": 91.99, "freematch": 95.03, "softmatch": 94.94}  # fmt: skip


def test_every_reference_states_its_protocol_or_says_what_is_unverified():
    from ssl_core.contract.references import REFERENCES

    for ref in REFERENCES:
        for name in ("net", "steps", "selection"):
            assert (getattr(ref, name) is None) == (name in ref.unverified), (ref, name)
    stl = find("stl10", 40, "flexmatch")[0]
    assert stl.net == "wrn_37_2" and "WRN-37-2" in stl.protocol()
