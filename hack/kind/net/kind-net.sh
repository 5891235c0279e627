#!/usr/bin/env bash
# The pod network of an offline kind cluster, one instance per node (a DaemonSet on the host
# network): once the controller manager gave this node a pod CIDR it writes the CNI
# configuration (ptp + host-local + portmap, plugins from Debian), then keeps a route to
# every other node's pod CIDR through that node's address, and masquerades what pods send
# outside the cluster's pod CIDRs.
set -euo pipefail

node="${NODE_NAME:?NODE_NAME (the downward API) is required}"
conf_dir="${CNI_CONF_DIR:-/etc/cni/net.d}"
conflist="$conf_dir/10-labelpilot.conflist"
interval="${RESYNC_SECONDS:-10}"

write_conflist() {
  local cidr=$1 tmp="$conflist.tmp"
  cat >"$tmp" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "labelpilot",
  "plugins": [
    {"type": "ptp", "ipMasq": false, "mtu": 1500,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$cidr"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
  mv "$tmp" "$conflist"
  echo "wrote $conflist for $cidr"
}

# NAME POD_CIDR INTERNAL_IP, one node a line.
nodes() {
  kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}'
}

sync_once() {
  local listing name cidr ip own="" cidrs=()
  listing="$(nodes)" || return 1
  while read -r name cidr ip; do
    [[ -n "$cidr" ]] || continue
    cidrs+=("$cidr")
    if [[ "$name" == "$node" ]]; then
      own="$cidr"
    elif [[ -n "$ip" ]]; then
      ip route replace "$cidr" via "$ip"
    fi
  done <<<"$listing"
  [[ -n "$own" ]] || { echo "no pod CIDR for $node yet"; return 0; }
  grep -q "\"$own\"" "$conflist" 2>/dev/null || write_conflist "$own"
  iptables -t nat -N LABELPILOT-MASQ 2>/dev/null || true
  iptables -t nat -C POSTROUTING -s "$own" -j LABELPILOT-MASQ 2>/dev/null \
    || iptables -t nat -A POSTROUTING -s "$own" -j LABELPILOT-MASQ
  iptables -t nat -F LABELPILOT-MASQ
  for cidr in "${cidrs[@]}"; do
    iptables -t nat -A LABELPILOT-MASQ -d "$cidr" -j RETURN
  done
  iptables -t nat -A LABELPILOT-MASQ -j MASQUERADE
}

mkdir -p "$conf_dir"
while true; do
  sync_once || echo "sync failed; again in ${interval}s" >&2
  sleep "$interval"
done
