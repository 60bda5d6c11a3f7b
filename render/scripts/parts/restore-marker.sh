## A sentinel group only.
# The node's start script counts a seeded node as one without data whenever a record or
# another node holds data: a node seeded again after its volume was lost never wins over them.
printf "%s\n" "${RESTORE_SOURCE##*/}" > "$DATA_DIR/@RESTORED_MARKER@" || fail "cannot write $DATA_DIR/@RESTORED_MARKER@"
