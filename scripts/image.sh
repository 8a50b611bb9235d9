#!/usr/bin/env bash
# image.sh builds the aiproxy OCI image with buildah from a static binary
# compiled here, through the Containerfile's prebuilt path
# (deploy/container/Containerfile), so that no base image is pulled.
#
#   scripts/image.sh [--check] [--throwaway] [--tag IMAGE]
#
#   --tag IMAGE   the image's name (default localhost/aiproxy:VERSION, also
#                 tagged localhost/aiproxy:latest)
#   --check       then prove the image works where no container can start:
#                 mount it and run its own binary with chroot as uid 65532,
#                 as `aiproxy demo` on a loopback port, and call /readyz,
#                 /healthz and one sandbox call (heygen list-avatars)
#   --throwaway   build in a temporary image store, removed at the end (CI)
#
# VERSION, COMMIT and DATE override what is stamped in (default: git
# describe, HEAD and now). buildah is installed from Debian when missing.
# Building works rootless too (buildah's own user namespace); --check runs
# chroot, so it needs root. Every step is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

check=false throwaway=false tag=""
while [ $# -gt 0 ]; do
	case "$1" in
	--check) check=true ;;
	--throwaway) throwaway=true ;;
	--tag) tag=$2; shift ;;
	*) echo "usage: scripts/image.sh [--check] [--throwaway] [--tag IMAGE]" >&2; exit 2 ;;
	esac
	shift
done

if ! command -v buildah >/dev/null; then
	echo "image.sh: installing buildah from Debian" >&2
	timeout 300 apt-get update -qq
	DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq buildah >/dev/null
fi

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
COMMIT=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || true)}
DATE=${DATE:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}
tag=${tag:-localhost/aiproxy:$VERSION}

work=$(mktemp -d)
pid="" ctr=""
bah=(buildah)
if $throwaway; then
	mkdir "$work/store"
	bah=(buildah --root "$work/store/root" --runroot "$work/store/run" --storage-driver vfs)
fi
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	if [ -n "$ctr" ]; then
		timeout 60 "${bah[@]}" umount "$ctr" >/dev/null 2>&1 || true
		timeout 60 "${bah[@]}" rm "$ctr" >/dev/null 2>&1 || true
	fi
	if $throwaway; then timeout 120 "${bah[@]}" rmi --all --force >/dev/null 2>&1 || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

t0=$(date +%s)
echo "image.sh: static binary $VERSION ($(go env GOOS)/$(go env GOARCH))"
mkdir -p "$work/context/rootfs/root"
CGO_ENABLED=0 timeout 900 go build -trimpath \
	-ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT -X main.date=$DATE" \
	-o "$work/context/rootfs/root/aiproxy" ./cmd/aiproxy
sh deploy/container/rootfs.sh "$work/context/rootfs"
cp deploy/container/Containerfile "$work/context/"
t1=$(date +%s)

echo "image.sh: buildah build $tag"
timeout 300 "${bah[@]}" build --quiet --layers=false --build-arg ROOTFS=prebuilt \
	--build-arg VERSION="$VERSION" --build-arg COMMIT="$COMMIT" --build-arg DATE="$DATE" \
	-f "$work/context/Containerfile" -t "$tag" "$work/context" >/dev/null
if ! $throwaway; then timeout 60 "${bah[@]}" tag "$tag" localhost/aiproxy:latest; fi
t2=$(date +%s)
echo "image.sh: built $tag (binary $((t1 - t0))s, image $((t2 - t1))s)"
$check || exit 0

fail() { echo "image.sh: check failed: $*" >&2; [ -f "$work/err" ] && tail -20 "$work/err" >&2; exit 1; }

# The image's configuration: who runs, what persists, what starts.
conf=$(timeout 60 "${bah[@]}" inspect --format '{{.OCIv1.Config.User}}|{{range $k, $v := .OCIv1.Config.Volumes}}{{$k}} {{end}}|{{.OCIv1.Config.Entrypoint}}|{{.OCIv1.Config.Cmd}}' "$tag")
[ "$conf" = "65532:65532|/data |[/aiproxy]|[serve]" ] || fail "config is $conf, want user 65532:65532, volume /data, entrypoint /aiproxy, cmd serve"
mapfile -t image_env < <(timeout 60 "${bah[@]}" inspect --format '{{range .OCIv1.Config.Env}}{{println .}}{{end}}' "$tag" | sed '/^$/d')

ctr=$(timeout 60 "${bah[@]}" from --pull-never "$tag")
mnt=$(timeout 60 "${bah[@]}" mount "$ctr")
[ "$(stat -c %u:%g "$mnt/data")" = 65532:65532 ] || fail "/data is owned by $(stat -c %u:%g "$mnt/data")"
[ -s "$mnt/etc/ssl/certs/ca-certificates.crt" ] || fail "no CA bundle"
grep -q '^aiproxy:x:65532:65532:' "$mnt/etc/passwd" || fail "no user 65532 in /etc/passwd"

# The image's own binary, with the image's environment only, as uid 65532.
as_image=(env -i "${image_env[@]}" /usr/sbin/chroot --userspec=65532:65532 --groups=65532 "$mnt")
got=$(timeout 20 "${as_image[@]}" /aiproxy --version) || fail "aiproxy --version"
case "$got" in "aiproxy $VERSION (commit ${COMMIT:0:12}"*) ;; *) fail "--version says $got" ;; esac

timeout 120 "${as_image[@]}" /aiproxy demo --addr 127.0.0.1:0 --data-dir /data --log-level warn >"$work/out" 2>"$work/err" &
pid=$!
url="" key="" org=""
for _ in $(seq 150); do
	url=$(sed -n 's/^AIPROXY_URL=//p' "$work/out")
	key=$(sed -n 's/^AIPROXY_API_KEY=//p' "$work/out")
	org=$(sed -n 's/^AIPROXY_ORG=//p' "$work/out")
	[ -n "$key" ] && break
	kill -0 "$pid" 2>/dev/null || fail "the demo exited"
	sleep 0.2
done
[ -n "$key" ] || fail "the demo printed no key within 30 s"
curl -fsS --max-time 5 "$url/readyz" >/dev/null || fail "/readyz"
health=$(curl -fsS --max-time 5 "$url/healthz") || fail "/healthz"
case "$health" in *"\"version\":\"$VERSION\""*) ;; *) fail "/healthz says $health" ;; esac
avatars=$(curl -fsS --max-time 10 -X POST -H "Authorization: Api-Key $key" -d '{}' \
	"$url/api/ai-proxy/orgs/$org/services/heygen/list-avatars/") || fail "list-avatars"
case "$avatars" in *'"avatar_id"'*) ;; *) fail "list-avatars answered ${avatars:0:200}" ;; esac
for f in master.key aiproxy.db; do
	[ "$(stat -c %u "$mnt/data/$f" 2>/dev/null)" = 65532 ] || fail "/data/$f is not written by uid 65532: $(ls -ln "$mnt/data")"
done
kill -TERM "$pid"
wait "$pid" || fail "the demo did not stop cleanly on SIGTERM"
pid=""
echo "image.sh: checked $tag: uid 65532 served /readyz, /healthz ($VERSION) and heygen list-avatars at $url ($(($(date +%s) - t2))s)"
