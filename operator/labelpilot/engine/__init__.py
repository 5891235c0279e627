"""The labeling engine: the workspace, manifests, labels, predictions, quality, the
threshold search and its bounds. The worker steps run it; it knows nothing of Kubernetes
(docs/architecture.md)."""
