## SHA-256 of stdin as hex: openssl's where the image has it (it uses the CPU's SHA instructions),
## else sha256sum (busybox's or coreutils'); the same digest either way.
sha256_of() { if command -v openssl > /dev/null 2>&1; then openssl dgst -sha256 -r | cut -d " " -f 1; else sha256sum | cut -d " " -f 1; fi; }
## redis-check-rdb's reason for refusing a file (argument 1, its output): the line after its
## "RDB ERROR DETECTED" banner (e.g. "Wrong signature trying to load DB from file"), else its last.
rdb_error() { printf "%s\n" "$1" | awk '/RDB ERROR DETECTED/ { getline; print; found = 1; exit } { last = $0 } END { if (!found) print last }'; }
