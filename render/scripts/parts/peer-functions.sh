## Shell functions to ask the Redis nodes, as the probe user (PING and INFO only): peer_cli
## HOST:PORT COMMAND..., field TEXT NAME, and running_master HOST:PORT, which prints "host port" of
## the master a running node serves (itself) or follows, and nothing when it does not run.
peer_cli() { _a=$1; shift; REDISCLI_AUTH="$(cat "$CONF_DIR/probe.pass")" timeout 3 redis-cli --no-auth-warning --raw --user @PROBE_USER@ -h "${_a%:*}" -p "${_a##*:}" "$@" 2>/dev/null | tr -d '\r'; }
field() { printf '%s\n' "$1" | sed -n "s/^$2:\\(.*\\)$/\\1/p"; }
running_master() {
  _info="$(peer_cli "$1" info replication)"
  case "$(field "$_info" role)" in
    master) echo "${1%:*} ${1##*:}" ;;
    slave) echo "$(field "$_info" master_host) $(field "$_info" master_port)" ;;
  esac
}
