package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fileExists reports whether a regular file is at path.
func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// liveSDKEnv names the official LiveAvatar web SDK's UMD bundle
// (@heygen/liveavatar-web-sdk's dist/index.umd.js, for example from
// `npm pack @heygen/liveavatar-web-sdk@0.0.18`), which the SDK test runs
// under Node; unset, the copy clients/sdk-compat installs is used when it is
// there, and without either, or without node, the test skips.
const liveSDKEnv = "AIPROXY_TEST_LIVEAVATAR_SDK"

// liveSDKScript drives the SDK with apiUrl pointed at aiproxy. Node has no
// WebRTC, so the SDK's start() makes its REST start through aiproxy, fails
// to join LiveKit, and cleans up by stopping the session through its API
// client, as a browser's stop() would. Before that stop, the script has the
// same client keep the session alive, as a connected keepAlive() would.
const liveSDKScript = `
global.window = globalThis;
global.navigator = {userAgent: "node", mediaDevices: {}};
global.RTCPeerConnection = function () {};
RTCPeerConnection.prototype.addTransceiver = function () {};
RTCPeerConnection.prototype.getConfiguration = function () {};
const sdk = require(process.argv[2]);
const [token, apiUrl] = process.argv.slice(3);
(async () => {
  const s = new sdk.LiveAvatarSession(token, {apiUrl});
  const client = s.sessionClient, stop = client.stopSession.bind(client);
  let stopped = null;
  client.stopSession = () => (stopped = (async () => {
    try { await client.keepAlive(); console.log("keep-alive: ok"); } catch (e) { console.log("keep-alive: " + e.message); }
    try { await stop(); console.log("stop: ok"); } catch (e) { console.log("stop: " + e.message); }
  })());
  try { await s.start(); console.log("start: joined"); } catch (e) { console.log("start: " + (e && e.message)); }
  await (stopped || client.stopSession());
  process.exit(0);
})();
`

func TestLiveAvatarWebSDK(t *testing.T) {
	bundle := os.Getenv(liveSDKEnv)
	if bundle == "" {
		// The pinned SDK that clients/sdk-compat installs, when it has.
		if p := "../../clients/sdk-compat/node_modules/@heygen/liveavatar-web-sdk/dist/index.umd.js"; fileExists(p) {
			bundle = p
		}
	}
	node, err := exec.LookPath("node")
	if bundle == "" || err != nil {
		t.Skipf("set %s to the LiveAvatar web SDK's dist/index.umd.js (and have node) to run the SDK against aiproxy", liveSDKEnv)
	}
	dir := t.TempDir()
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	sdkPath, script := filepath.Join(dir, "sdk.cjs"), filepath.Join(dir, "run.cjs")
	if err := os.WriteFile(sdkPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(liveSDKScript), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDemo(t, "--cors-origins", "*", "--live-reap-every", "200ms")
	status, id, token, body := d.mintSession(d.key, nil)
	if status != 200 {
		t.Fatalf("mint = %d %s", status, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, script, sdkPath, token, d.url+"/api/ai-proxy/orgs/"+d.org+"/native/liveavatar").CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "keep-alive: ok") || !strings.Contains(string(out), "stop: ok") {
		t.Fatalf("the SDK's calls through aiproxy:\n%s", out)
	}
	if d.laCalls("POST", "/v1/sessions/start") != 1 {
		t.Fatalf("the SDK's start did not reach the provider once:\n%s", out)
	}
	rec := d.liveSession(id)
	if rec["started_at"] == nil || rec["last_keep_alive_at"] == nil || rec["state"] != "stopped" || rec["stopped_by"] != "client" {
		t.Fatalf("record = %v\nSDK:\n%s", rec, out)
	}
}
