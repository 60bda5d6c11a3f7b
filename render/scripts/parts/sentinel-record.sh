## Shell function sentinel_record: "host port" of the master by the sentinels' record. A majority
## of the sentinels must answer, and the answer with the highest config epoch wins: a sentinel
## that was down during a failover, or restarted before the others, still names the old master,
## under an older epoch. Prints nothing when fewer than a majority answer.
sentinel_record() {
  REDISCLI_AUTH="$(cat "$CONF_DIR/sentinel-client.pass")"
  export REDISCLI_AUTH
  _all=0; _answered=0; _epoch=-1; _record=
  for address in $SENTINELS; do
    _all=$((_all + 1))
    _reply="$(timeout 3 redis-cli --no-auth-warning --raw --user @SENTINEL_CLIENT_USER@ -h "${address%:*}" -p "${address##*:}" sentinel master @MASTER_NAME@ 2>/dev/null | tr -d '\r')"
    _e="$(printf '%s\n' "$_reply" | awk 'NR % 2 == 1 && $0 == "config-epoch" { getline; print; exit }')"
    ## During a failover SENTINEL MASTER shows the new epoch with the old address: the address
    ## comes from the lookup, which switches with the epoch.
    _addr="$(timeout 3 redis-cli --no-auth-warning --raw --user @SENTINEL_CLIENT_USER@ -h "${address%:*}" -p "${address##*:}" sentinel get-master-addr-by-name @MASTER_NAME@ 2>/dev/null | tr -d '\r')"
    _host="$(printf '%s\n' "$_addr" | sed -n 1p)"; _port="$(printf '%s\n' "$_addr" | sed -n 2p)"
    case "$_port:$_e" in *[!0-9:]* | :* | *:) continue ;; esac
    [ -n "$_host" ] || continue
    _answered=$((_answered + 1))
    [ "$_e" -gt "$_epoch" ] && { _epoch=$_e; _record="$_host $_port"; }
  done
  unset REDISCLI_AUTH
  [ $((_answered * 2)) -gt "$_all" ] && echo "$_record"
  return 0
}
