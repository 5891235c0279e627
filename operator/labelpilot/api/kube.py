"""The Job API's own syntax for the values a LabelingJob passes on to its step Jobs.

A value that the CRD accepts and the Job API refuses would leave the LabelingJob retried
for ever without a status, so the CRD (patterns, CEL) and the models refuse it first, by
the Job API's rules: label keys and values, resource names and quantities, Secret keys,
image references.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_SUBDOMAIN_PATTERN = rf"^{DNS_LABEL}(\.{DNS_LABEL})*$"
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
# A label key, a taint key: [DNS subdomain/]name; the prefix at most 253 characters, the
# name at most 63 (the second pattern).
QUALIFIED_NAME_PATTERN = rf"^({DNS_LABEL}(\.{DNS_LABEL})*/)?{_NAME}$"
QUALIFIED_NAME_LENGTHS = r"^([^/]{1,253}/)?[^/]{1,63}$"
QUALIFIED_NAME_MAX = 253 + 1 + 63
LABEL_VALUE_PATTERN = rf"^({_NAME})?$"
LABEL_VALUE_MAX = 63
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"
IMAGE_PATTERN = r"^\S+$"
# Resources a container may ask for: the standard ones and extended resources
# (`<domain>/<name>`, e.g. nvidia.com/gpu), which are whole numbers.
STANDARD_RESOURCES = ("cpu", "memory", "ephemeral-storage")
EXTENDED_RESOURCE_PATTERN = rf"^{DNS_LABEL}(\.{DNS_LABEL})*/{_NAME}$"
QUANTITY_PATTERN = (
    r"^\+?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]{1,2}))?$"
)
QUANTITY_MAX = 64
# Whole numbers whose thousandfold fits in 64 bits (the Job API counts in millis).
INTEGER_PATTERN = r"^\+?[0-9]{1,15}$"
INTEGER_MAX = 10**15 - 1
MAP_MAX = 32

_STANDARD = "[" + ", ".join(f"'{r}'" for r in STANDARD_RESOURCES) + "]"
# The CEL twins of the checks below (`\\` because CEL string literals unescape once).
LABEL_KEYS_RULE = (
    f"self.all(k, k.matches('{QUALIFIED_NAME_PATTERN}') && k.matches('{QUALIFIED_NAME_LENGTHS}'))"
).replace("\\", "\\\\")
RESOURCE_NAMES_RULE = (
    f"self.all(k, k in {_STANDARD} || (k.matches('{EXTENDED_RESOURCE_PATTERN}') "
    f"&& k.matches('{QUALIFIED_NAME_LENGTHS}') && !k.contains('kubernetes.io/') "
    "&& !k.startsWith('requests.')))"
).replace("\\", "\\\\")
EXTENDED_INTEGER_RULE = (
    f"self.all(k, k in {_STANDARD} || (type(self[k]) == int ? self[k] <= {INTEGER_MAX} "
    f": self[k].matches('{INTEGER_PATTERN}')))"
).replace("\\", "\\\\")
NON_NEGATIVE_RULE = "self.all(k, type(self[k]) != int || self[k] >= 0)"
LABEL_KEYS_MESSAGE = "keys must be label keys: [prefix/]name, the name at most 63 characters"
RESOURCE_NAMES_MESSAGE = (
    "resource names must be cpu, memory, ephemeral-storage or an extended resource "
    "<domain>/<name> (e.g. nvidia.com/gpu) outside kubernetes.io"
)
EXTENDED_INTEGER_MESSAGE = (
    "an extended resource (<domain>/<name>) takes a whole number of at most 15 digits"
)


def is_label_key(value: str) -> bool:
    return bool(
        re.fullmatch(QUALIFIED_NAME_PATTERN, value) and re.fullmatch(QUALIFIED_NAME_LENGTHS, value)
    )


def is_label_value(value: str) -> bool:
    return len(value) <= LABEL_VALUE_MAX and bool(re.fullmatch(LABEL_VALUE_PATTERN, value))


def is_extended_resource(name: str) -> bool:
    return name not in STANDARD_RESOURCES


def check_label_map(values: Mapping[str, str]) -> None:
    """Raises ValueError naming the first key or value a node selector cannot carry."""
    for key, value in values.items():
        if not is_label_key(key):
            raise ValueError(f"{key!r}: {LABEL_KEYS_MESSAGE}")
        if not is_label_value(value):
            raise ValueError(
                f"{key}: {value!r} is not a label value (at most 63 letters, "
                "digits, '-', '_' or '.', starting and ending with a letter "
                "or digit)"
            )


def check_resources(values: Mapping[str, Any]) -> None:
    """Raises ValueError naming the first resource a container cannot ask for so."""
    for name, quantity in values.items():
        if name not in STANDARD_RESOURCES and not (
            re.fullmatch(EXTENDED_RESOURCE_PATTERN, name)
            and re.fullmatch(QUALIFIED_NAME_LENGTHS, name)
            and "kubernetes.io/" not in name
            and not name.startswith("requests.")
        ):
            raise ValueError(f"{name!r}: {RESOURCE_NAMES_MESSAGE}")
        if isinstance(quantity, int):
            if quantity < 0:
                raise ValueError(f"{name}: {quantity} is negative")
        elif not re.fullmatch(QUANTITY_PATTERN, quantity) or len(quantity) > QUANTITY_MAX:
            raise ValueError(
                f"{name}: {quantity!r} is not a Kubernetes quantity (e.g. 500m, 2, 4Gi)"
            )
        if is_extended_resource(name) and not (
            quantity <= INTEGER_MAX
            if isinstance(quantity, int)
            else re.fullmatch(INTEGER_PATTERN, quantity)
        ):
            raise ValueError(f"{name}: {quantity!r}: {EXTENDED_INTEGER_MESSAGE}")
