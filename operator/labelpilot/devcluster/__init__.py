"""The local development cluster: real Kubernetes control plane, simulated nodes.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the official
binaries (built by `hack/build-binaries.sh`); a node agent stands in for kubelet and the
container runtime (see `labelpilot.devcluster.agent`).
"""
