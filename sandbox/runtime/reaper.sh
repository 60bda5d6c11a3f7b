# The sandbox's reaper (sandbox/runtime/lifetime.ts runs it with sh -c).
grace="$1"
shift
groups=" "
for g in "$@"; do groups="$groups$g "; done
while IFS= read -r line; do
  g="${line#?}"
  case "$g" in "" | *[!0-9]*) continue ;; esac
  case "$line" in
    +*) groups="$groups$g " ;;
    -*) kept=" "; for h in $groups; do [ "$h" = "$g" ] || kept="$kept$h "; done; groups=$kept ;;
  esac
done
running() {
  for stat in /proc/[0-9]*/stat; do
    { read -r fields < "$stat"; } 2>/dev/null || continue
    # shellcheck disable=SC2086 # state, ppid, pgrp… after the command name
    set -- ${fields##*) }
    [ "$1" != Z ] && case "$groups" in *" $3 "*) echo "$3" ;; esac
  done | sort -u
}
left=$(running)
[ -n "$left" ] || exit 0
for g in $left; do kill -TERM -"$g" 2>/dev/null; done
i=0
while [ "$i" -lt $((grace * 5)) ] && [ -n "$(running)" ]; do sleep 0.2; i=$((i + 1)); done
for g in $(running); do kill -KILL -"$g" 2>/dev/null; done
:
