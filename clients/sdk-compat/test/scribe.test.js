// ElevenLabs' official @elevenlabs/client, unchanged, running Scribe
// realtime through aiproxy: its baseUri points at aiproxy's native
// ElevenLabs route and its token is an aiproxy user token, which the SDK
// puts in the query as `token` (aiproxy takes it there and strips it).
// Node 20 runs the SDK's global WebSocket with --experimental-websocket
// (run.sh passes it), as a browser would.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Scribe, RealtimeEvents, AudioFormat, CommitStrategy } from "@elevenlabs/client";
import { AIProxyClient } from "../../js/dist/index.js";
import { startDemo } from "../../js/test/server.js";

let demo, ai;
before(async () => {
  demo = await startDemo();
  ai = new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: demo.apiKey });
});
after(() => demo?.stop());

/** One second of 16 kHz PCM16 that is not silence, base64. */
function second() {
  const b = Buffer.alloc(32000);
  for (let i = 0; i < b.length; i++) b[i] = (i * 7) & 0xff;
  return b.toString("base64");
}

/** Resolves with the first event of a kind, or rejects on an error event, a close, or after 15 s. */
function nextEvent(conn, kind) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${kind} within 15 s`)), 15_000);
    const done = (f) => (v) => { clearTimeout(timer); f(v); };
    conn.on(kind, done(resolve));
    conn.on(RealtimeEvents.ERROR, done((e) => reject(new Error(`scribe error: ${JSON.stringify(e)}`))));
    conn.on(RealtimeEvents.AUTH_ERROR, done((e) => reject(new Error(`scribe auth error: ${JSON.stringify(e)}`))));
    conn.on(RealtimeEvents.CLOSE, done((e) => reject(new Error(`closed ${e?.code} before ${kind}`))));
  });
}

test("Scribe realtime through aiproxy: a user token as the SDK's token, a session, a committed transcript, audio seconds metered", async () => {
  const { token } = await ai.mintUserToken({ user: "scribe-user", services: ["elevenlabs"], ttlSeconds: 300 });
  const conn = Scribe.connect({
    token,
    modelId: "scribe_v2_realtime",
    baseUri: ai.nativeBaseUrl("elevenlabs").replace(/^http/, "ws"),
    audioFormat: AudioFormat.PCM_16000,
    sampleRate: 16000,
    commitStrategy: CommitStrategy.MANUAL,
  });
  const started = await nextEvent(conn, RealtimeEvents.SESSION_STARTED);
  assert.match(started.session_id, /\S/);
  const committed = nextEvent(conn, RealtimeEvents.COMMITTED_TRANSCRIPT);
  conn.send({ audioBase64: second() });
  conn.send({ audioBase64: second() });
  conn.commit();
  const t = await committed;
  assert.equal(typeof t.text, "string");
  assert.ok(t.text.length > 0, "an empty transcript");
  conn.close();

  // The two seconds are the user's, metered as audio seconds.
  let seconds = 0;
  for (let i = 0; i < 50 && seconds < 2; i++) {
    const rows = await (await ai.request("GET", ai.orgUrl("usage"))).json();
    seconds = rows.filter((r) => r.service === "elevenlabs").reduce((n, r) => n + (r.units?.audio_seconds ?? 0), 0);
    if (seconds < 2) await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(seconds, 2);
});

test("a token that is not aiproxy's is refused at the upgrade; the SDK sees the socket close", async () => {
  const conn = Scribe.connect({
    token: "sutkn_not_an_aiproxy_token", modelId: "scribe_v2_realtime",
    baseUri: ai.nativeBaseUrl("elevenlabs").replace(/^http/, "ws"), audioFormat: AudioFormat.PCM_16000, sampleRate: 16000,
  });
  await assert.rejects(nextEvent(conn, RealtimeEvents.SESSION_STARTED), /closed|error/);
});
