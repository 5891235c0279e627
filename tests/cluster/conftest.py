"""Operator fixtures for every cluster test module."""

from tests.cluster.operator_fixtures import crd_installed, operator

__all__ = ["crd_installed", "operator"]
