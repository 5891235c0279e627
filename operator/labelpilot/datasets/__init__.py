"""Offline data sets for LabelPilot: raw sources from package registries (`sources`),
MNIST digits pasted on canvases (`synthetic`), and the writer of manifests (`prepare`)."""
