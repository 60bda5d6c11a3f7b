## In start-redis.sh's stand-in ACL, where the probe user is a user of its own: the stand-in's
## default user is off, as a node's is.
    echo "user default off"
