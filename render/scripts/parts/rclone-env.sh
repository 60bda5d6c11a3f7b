## rclone's settings for the off-site remote, from the environment: no config file, no secret
## argument. rclone cannot use the AWS SDK's custom CA variable (it fails on any S3 remote while
## it is set): its own --ca-cert would.
export RCLONE_CONFIG=/dev/null
unset AWS_CA_BUNDLE
export RCLONE_CONFIG_OFFSITE_TYPE=s3
export RCLONE_CONFIG_OFFSITE_PROVIDER=@PROVIDER@
## The endpoint line, unless the remote is Amazon S3 itself.
@ENDPOINT@
export RCLONE_CONFIG_OFFSITE_REGION=@REGION@
RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID="$(cat "$HERE/s3-access-key-id")"
RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY="$(cat "$HERE/s3-secret-access-key")"
export RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY
## Fail within a minute on an unreachable endpoint or a refused key, instead of retrying for long.
export RCLONE_RETRIES=1 RCLONE_LOW_LEVEL_RETRIES=2 RCLONE_CONTIMEOUT=10s RCLONE_TIMEOUT=60s
REMOTE=@REMOTE@
