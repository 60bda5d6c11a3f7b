## The master's "host port": the one node.
find_master() { set -- $NODES; echo "${1%:*} ${1##*:}"; }
