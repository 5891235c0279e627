"""LabelPilot: automated data labeling with active learning on Kubernetes."""

__version__ = "0.1.0"
