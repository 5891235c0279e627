"""The LabelingJob API (group labelpilot.dev, version v1alpha1): models, CRD, run config.

Submodules import pydantic; this package itself stays light so `labelpilot --help` is fast.
"""
