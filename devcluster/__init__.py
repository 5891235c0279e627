"""The local development cluster: real Kubernetes control plane, simulated nodes.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the official
binaries (built by `hack/build-binaries.sh`); a node agent stands in for kubelet and the
container runtime (see `devcluster.agent`).

Development tooling, not LabelPilot itself: it lives beside `operator/`, outside the
`labelpilot` package, its wheel and its images, and runs from the repository root
(`python -m devcluster up`) with the `dev` extra installed.
"""
