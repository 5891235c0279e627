"""The dev cluster's node agent: a stand-in for kubelet and the container runtime.

It registers the simulated Nodes, keeps them Ready with Lease heartbeats and status
updates, provisions PersistentVolumes on host folders, and runs every pod that the real
kube-scheduler binds to one of its nodes as local processes: the image is recorded, never
pulled, and containers run the project's own Python environment. Each container runs in
its own mount namespace (`unshare --mount`), where its volumes and termination-message
file are bind-mounted at their real paths; empty mount points are created on the host the
first time a path is used, and nothing stays mounted once the process is gone.

Processes run as the agent's own user: `securityContext` is recorded, not enforced.
"""
