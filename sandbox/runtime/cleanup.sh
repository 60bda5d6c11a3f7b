# The pods-mode janitor's cleanup (sandbox/runtime/pod-network.ts runs it with sh -c).
id="$1" pin="$2"
case "$id" in ""|*[!0-9a-f]*) echo "cleanup: bad network id '$id'" >&2; exit 2 ;; esac
case "$pin" in /run/lowcode-redis/"$id") ;; *) echo "cleanup: bad pin dir '$pin'" >&2; exit 2 ;; esac
ours() { ip netns list 2>/dev/null | awk '{print $1}' | grep "^lcr-$id-" || :; }
pids() { for ns in $(ours); do ip netns pids "$ns" 2>/dev/null; done; }
# As kubelet stops a pod: SIGTERM (Redis writes its RDB on a clean stop), SIGKILL after 10 s.
left=$(pids)
if [ -n "$left" ]; then
  # shellcheck disable=SC2086 # a list of pids, split on purpose
  kill -TERM $left 2>/dev/null
  for _ in $(seq 1 50); do [ -z "$(pids)" ] && break; sleep 0.2; done
fi
for _ in 1 2 3 4 5; do
  left=$(pids)
  [ -z "$left" ] && break
  # shellcheck disable=SC2086 # a list of pids, split on purpose
  kill -9 $left 2>/dev/null
  sleep 0.2
done
# This network's tmpfs volumes (their sources carry the id), then its pinned mount namespaces.
# (pods mode refuses a --dir with blanks or backslashes: mountinfo would escape them).
awk -v src="lowcode-redis-$id-" '{ split($0, halves, " - "); split(halves[2], f, " "); if (index(f[2], src) == 1) print $5 }' /proc/self/mountinfo |
  sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
if [ -d "$pin" ]; then
  for f in "$pin"/*.mnt; do [ -e "$f" ] && umount "$f" 2>/dev/null; done
  umount "$pin" 2>/dev/null
  rm -rf "$pin"
fi
for ns in $(ours); do ip netns del "$ns" 2>/dev/null; done
# A namespace's links go when the kernel frees it, a moment after.
for _ in $(seq 1 50); do
  ip -o link show 2>/dev/null | grep -q ": lcr$id" || break
  sleep 0.1
done
for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^lcr$id"); do
  ip link del "$l" 2>/dev/null
done
:
