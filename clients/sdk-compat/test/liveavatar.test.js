// HeyGen's official @heygen/liveavatar-web-sdk, unchanged, pointed at
// aiproxy with `apiUrl`: the session token aiproxy minted drives the SDK's
// session calls through aiproxy's native LiveAvatar routes. The SDK's
// start() then joins LiveKit over WebRTC, which Node does not have (and the
// sandbox's LiveKit URL is a placeholder): the join fails, and the SDK
// stops the session as it does after any failed start. So the test checks
// what crosses aiproxy: start and stop, each with the session token.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { LiveAvatarSession, SessionEvent, SessionDisconnectReason } from "@heygen/liveavatar-web-sdk";
import { AIProxyClient } from "../../js/dist/index.js";
import { startDemo } from "../../js/test/server.js";

// Node has no WebRTC. The SDK's constructor asks whether the browser's
// RTCPeerConnection can add transceivers; a bare stand-in answers no, and
// cannot connect anything, so the LiveKit join fails as it would in a
// browser whose WebRTC is blocked.
globalThis.RTCPeerConnection ??= class RTCPeerConnection {
  constructor() { throw new Error("no WebRTC in Node"); }
};

const sandboxAvatar = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a";
let demo, ai, sandbox;
before(async () => {
  demo = await startDemo();
  ai = new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: demo.apiKey });
  const heygen = await ai.getService("heygen");
  sandbox = new URL(heygen.base_url).origin;
});
after(() => demo?.stop());

/** The sandbox provider's requests to a path, as it logged them. */
async function providerCalls(path) {
  const reqs = await (await fetch(`${sandbox}/_sandbox/requests`)).json();
  return reqs.filter((r) => r.path === path);
}

test("the web SDK starts and stops a session through aiproxy with the minted session token", async () => {
  const alice = new AIProxyClient({ baseUrl: demo.url, org: demo.org, token: (await ai.mintUserToken({ user: "alice" })).token });
  const { sessionId, sessionToken, apiUrl } = await alice.liveAvatarSession({ avatarId: sandboxAvatar, mode: "FULL", isSandbox: true, avatarPersona: { language: "en" } });
  const session = new LiveAvatarSession(sessionToken, { apiUrl });
  const disconnected = new Promise((resolve) => session.on(SessionEvent.SESSION_DISCONNECTED, resolve));
  const originalError = console.error;
  console.error = () => undefined; // the SDK logs the failed LiveKit join
  try {
    // The failure is the browser media part (MediaStream, RTCPeerConnection), not
    // the SDK's session API, whose errors carry an errorCode.
    await assert.rejects(session.start(), (e) => !("errorCode" in e));
  } finally {
    console.error = originalError;
  }
  assert.equal(await disconnected, SessionDisconnectReason.SESSION_START_FAILED);

  const starts = await providerCalls("/v1/sessions/start");
  assert.equal(starts.length, 1, "the SDK's start reached the provider once, through aiproxy");
  assert.equal(starts[0].header.Authorization?.[0], `Bearer ${sessionToken}`);
  let stops = [];
  for (let i = 0; i < 50 && !stops.length; i++) {
    stops = await providerCalls("/v1/sessions/stop");
    if (!stops.length) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(stops.length, 1, "the SDK's stop after the failed join reached the provider");
  assert.ok(sessionId);
});
