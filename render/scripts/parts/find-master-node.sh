## The master's "host port": the one node.
find_master() { for _n in $NODES; do echo "${_n%:*} ${_n##*:}"; return; done; }
