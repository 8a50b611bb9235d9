#!/bin/sh
# rootfs.sh DIR [CA_BUNDLE] lays out the files of the aiproxy image, but the
# binary, in two trees that the Containerfile copies onto /:
#
#   DIR/root/  owned by root: etc/ssl/certs/ca-certificates.crt (TLS to the
#              providers), etc/passwd and etc/group naming the non-root
#              user 65532, tmp/; the binary goes to DIR/root/aiproxy
#   DIR/user/  owned by 65532: data/, for the SQLite database and the
#              demo's master key
#
# (A COPY gives its --chown user the files and directories it copies, but
# not the directory it copies into, so each tree is copied from above.)
# Both build paths of the Containerfile run this, so that the two images
# hold the same files.
set -eu
dir=$1
ca=${2:-/etc/ssl/certs/ca-certificates.crt}
mkdir -p "$dir/root/etc/ssl/certs" "$dir/root/tmp" "$dir/user/data"
cp "$ca" "$dir/root/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\naiproxy:x:65532:65532:aiproxy:/data:/sbin/nologin\n' >"$dir/root/etc/passwd"
printf 'root:x:0:\naiproxy:x:65532:\n' >"$dir/root/etc/group"
chmod 0755 "$dir/root/etc" "$dir/root/etc/ssl" "$dir/root/etc/ssl/certs"
chmod 0644 "$dir/root/etc/passwd" "$dir/root/etc/group" "$dir/root/etc/ssl/certs/ca-certificates.crt"
chmod 1777 "$dir/root/tmp"
chmod 0700 "$dir/user/data"
