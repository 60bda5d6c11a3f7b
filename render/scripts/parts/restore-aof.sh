## With appendonly yes only: Redis then loads the AOF, not dump.rdb.
{
  mkdir "$DATA_DIR/.appendonlydir.tmp" &&
    # One file, two names: Redis replaces both by new files, never writes into them.
    ln "$DATA_DIR/.restore.tmp" "$DATA_DIR/.appendonlydir.tmp/appendonly.aof.1.base.rdb" &&
    printf "file appendonly.aof.1.base.rdb seq 1 type b\n" > "$DATA_DIR/.appendonlydir.tmp/appendonly.aof.manifest" &&
    sync "$DATA_DIR/.appendonlydir.tmp/appendonly.aof.manifest" "$DATA_DIR/.appendonlydir.tmp" &&
    # The commit point: the AOF directory appears whole.
    mv "$DATA_DIR/.appendonlydir.tmp" "$DATA_DIR/appendonlydir"
} || fail "cannot write the AOF in $DATA_DIR"
