## The master's "host port" through the sentinels: the answer most of those answering give.
find_master() {
  for _s in $SENTINELS; do
    REDISCLI_AUTH="$(cat "$HERE/sentinel-client.pass")" timeout 5 redis-cli --no-auth-warning --user @SENTINEL_CLIENT_USER@ \
      -h "${_s%:*}" -p "${_s##*:}" SENTINEL GET-MASTER-ADDR-BY-NAME @MASTER_NAME@ 2>/dev/null | paste -s -d ' ' -
  done | grep -E '^[^ ]+ [0-9]+$' | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2, $3 }'
}
