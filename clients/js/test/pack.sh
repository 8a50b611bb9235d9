#!/usr/bin/env bash
# pack.sh checks the package a user would install: `npm pack` gives a
# tarball with the build, the sources, the README and package.json and
# nothing else; the tarball installs into a fresh project beside the
# TypeScript the package is built with (from the npm registry, or npm's
# cache when offline); `tsc --strict` type-checks a small program against
# it under both Node's ESM resolution and a bundler's; and Node imports it
# as ESM and runs a call that fails the documented way (NetworkError, on a
# loopback port nothing listens on). Each npm and node step is bounded.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
npm_flags=(--no-audit --no-fund --prefer-offline --loglevel=error)

cd "$here"
version=$(node -p 'require("./package.json").version')
tsc_version=$(node -p 'require("./package.json").devDependencies.typescript')
timeout 120 npm pack --pack-destination "$tmp" --loglevel=error >/dev/null
tarball="$tmp/aiproxy-client-$version.tgz"
[ -f "$tarball" ] || { echo "pack.sh: npm pack made no $tarball" >&2; ls "$tmp" >&2; exit 1; }

# What the tarball holds: the build, the sources, README, LICENSE and package.json.
tar -tzf "$tarball" | sort >"$tmp/files"
unexpected=$(grep -v -E '^package/(dist/[a-z]+\.(js|d\.ts)|src/[a-z]+\.ts|README\.md|LICENSE|package\.json)$' "$tmp/files" || true)
if [ -n "$unexpected" ]; then
	echo "pack.sh: the tarball holds files it should not:" >&2
	echo "$unexpected" >&2
	exit 1
fi
for f in package/dist/index.js package/dist/index.d.ts package/README.md package/LICENSE; do
	grep -qx "$f" "$tmp/files" || { echo "pack.sh: the tarball lacks $f" >&2; exit 1; }
done

# A fresh project, as a user makes one.
app="$tmp/app"
mkdir "$app"
cd "$app"
printf '{"name":"pack-check","private":true,"type":"module"}\n' >package.json
timeout 300 npm install "${npm_flags[@]}" "$tarball" "typescript@$tsc_version" >/dev/null

cat >main.ts <<'EOF'
import { AIProxyClient, AIProxyError, LiveSocketError, NetworkError, type ClientOptions, type LiveSpeechChunk, type VideoStatus } from "@aiproxy/client";

const options: ClientOptions = { baseUrl: "http://127.0.0.1:9", org: "demo", apiKey: "aip_example" };
const ai = new AIProxyClient(options);

export async function firstAvatar(): Promise<string | undefined> {
  const [avatar] = await ai.heygen.listAvatars();
  return avatar?.avatar_id;
}

export async function speak(text: string): Promise<Blob> {
  return ai.elevenlabs.tts({ voiceId: "21m00Tcm4TlvDq8ikWAM", text });
}

export function describe(err: unknown): string {
  if (err instanceof AIProxyError) return `${err.status} ${err.code}: ${err.detail}`;
  if (err instanceof NetworkError) return "network";
  return String(err);
}

// Live speech with the browser's own WebSocket type, as a page would pass it.
export async function say(text: string): Promise<number> {
  const live = await ai.liveSpeech({ voiceId: "21m00Tcm4TlvDq8ikWAM", outputFormat: "pcm_24000", WebSocket });
  live.send(text, { flush: true });
  let bytes = 0;
  for await (const c of live as AsyncIterable<LiveSpeechChunk>) bytes += c.audio.length;
  try {
    await live.end();
  } catch (err) {
    if (err instanceof LiveSocketError) return -err.closeCode;
  }
  return bytes;
}

export async function avatar(): Promise<string> {
  const { sessionToken, apiUrl } = await ai.liveAvatarSession({ avatarId: "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a", mode: "LITE" });
  return `${apiUrl} ${sessionToken}`;
}

export function done(s: VideoStatus): boolean {
  return s.status === "completed";
}
EOF
for resolution in nodenext bundler; do
	module=$resolution
	[ "$resolution" = bundler ] && module=esnext
	cat >"tsconfig.$resolution.json" <<EOF
{
  "compilerOptions": {
    "target": "ES2022", "module": "$module", "moduleResolution": "$resolution",
    "lib": ["ES2022", "DOM", "DOM.Iterable"], "strict": true, "noEmit": true,
    "exactOptionalPropertyTypes": true, "noUncheckedIndexedAccess": true
  },
  "files": ["main.ts"]
}
EOF
	timeout 120 node_modules/.bin/tsc -p "tsconfig.$resolution.json" || {
		echo "pack.sh: tsc --strict ($resolution resolution) fails against the installed package" >&2
		exit 1
	}
done

cat >main.mjs <<'EOF'
import { AIProxyClient, AIProxyError, NetworkError } from "@aiproxy/client";
import pkg from "@aiproxy/client/package.json" with { type: "json" };

const ai = new AIProxyClient({ baseUrl: "http://127.0.0.1:9", org: "demo", apiKey: "aip_example" });
try {
  await ai.listServices();
  throw new Error("a call to a closed port succeeded");
} catch (err) {
  if (!(err instanceof NetworkError) || !(err instanceof AIProxyError) || err.status !== 0) throw err;
}
console.log(`pack.sh: ${pkg.name}@${pkg.version} installs, type-checks (strict) and imports from Node ESM`);
EOF
timeout 60 node main.mjs
