// Live speech over aiproxy's relayed ElevenLabs socket, and LiveAvatar
// sessions, against the real server with sandbox providers. Node 20 has no
// global WebSocket without a flag, so the `ws` package stands in; with a
// user token it is used exactly as a browser's WebSocket is (the token as a
// subprotocol, no headers).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { AIProxyClient, LiveSocketError, LiveSpeech } from "../dist/index.js";
import { startDemo } from "./server.js";

const rachel = "21m00Tcm4TlvDq8ikWAM";
let demo, ai;
before(async () => {
  demo = await startDemo();
  ai = new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: demo.apiKey });
});
after(() => demo?.stop());

/** A client acting as one user, by a token the org key mints. */
async function asUser(user, extra = {}) {
  const { token } = await ai.mintUserToken({ user, ...extra });
  return new AIProxyClient({ baseUrl: demo.url, org: demo.org, token });
}

const sentence = "The quick brown fox jumps over the lazy dog. ".repeat(4); // 180 characters

test("a user token's live speech: audio with alignment arrives before end(), then isFinal and 1000", async () => {
  const alice = await asUser("alice");
  const chunks = [];
  const live = await alice.liveSpeech({ voiceId: rachel, outputFormat: "mp3_44100_128", WebSocket, onChunk: (c) => chunks.push(c) });
  assert.ok(live instanceof LiveSpeech);
  assert.equal(live.protocol, "aiproxy", "the token travels as a subprotocol, which the server selects");
  live.send(sentence);
  const it = live[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(first.done, false);
  assert.ok(first.value.audio instanceof Uint8Array && first.value.audio.length > 0);
  assert.ok(first.value.alignment && first.value.alignment.chars.length > 0);
  assert.equal(first.value.alignment.chars.length, first.value.alignment.charStartTimesMs.length);
  assert.equal(chunks.length, 1, "onChunk saw the same chunk");
  live.send("And a last few words,");
  live.send("then the end.");
  const end = await live.end();
  assert.deepEqual(end, { closeCode: 1000, closeReason: "", final: true, closedByClient: false });
  let rest = 0;
  for (let r = await it.next(); !r.done; r = await it.next()) rest++;
  assert.equal(live.chunks, 1 + rest);
  assert.ok(rest >= 1, "the text after the first chunk was spoken at the end");
  assert.equal(chunks.length, live.chunks);
  assert.throws(() => live.send("more"), LiveSocketError);
});

test("an API key goes in a header (the ws package); text sent with flush is spoken at once", async () => {
  const live = await ai.liveSpeech({ voiceId: rachel, modelId: "eleven_multilingual_v2", outputFormat: "pcm_24000", WebSocket });
  assert.equal(live.protocol, "");
  live.send("Hello there.", { flush: true });
  const { value } = await live[Symbol.asyncIterator]().next();
  assert.ok(value.audio.length > 0);
  const end = await live.end();
  assert.equal(end.final, true);
});

test("an API key without a WebSocket that sends headers is refused before any socket", async () => {
  await assert.rejects(ai.liveSpeech({ voiceId: rachel, WebSocket: undefined }), TypeError);
});

test("a refused upgrade (an unknown token) rejects with a LiveSocketError", async () => {
  const other = new AIProxyClient({ baseUrl: demo.url, org: "no-such-org", token: "aipt_not_a_real_token" });
  await assert.rejects(other.liveSpeech({ voiceId: rachel, WebSocket }), (err) => {
    assert.ok(err instanceof LiveSocketError, `${err}`);
    assert.equal(err.closeCode, 1006);
    return true;
  });
});

test("multi-context: chunks name their context; end() closes every context", async () => {
  const bob = await asUser("bob");
  const live = await bob.liveSpeech({ voiceId: rachel, multi: true, WebSocket });
  live.send("First context speaks.", { contextId: "a", flush: true });
  live.send("Second context speaks.", { contextId: "b", flush: true });
  const seen = new Set();
  for await (const c of live) {
    seen.add(c.contextId);
    if (seen.size === 2) break; // return() closes the socket
  }
  assert.deepEqual([...seen].sort(), ["a", "b"]);
  const end = await live.done;
  assert.equal(end.closedByClient, true);
  assert.throws(() => live.send("late", { contextId: "a" }), LiveSocketError);
});

test("a close() before the end resolves done as closed by the client", async () => {
  const live = await ai.liveSpeech({ voiceId: rachel, WebSocket });
  live.close();
  const end = await live.done;
  assert.equal(end.closedByClient, true);
  assert.equal(end.final, false);
});

test("LiveAvatar: a session minted through aiproxy, ready for the web SDK, and listed with the org's live sessions", async () => {
  const s = await ai.liveAvatarSession({ avatarId: "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a", mode: "LITE", isSandbox: true });
  assert.match(s.sessionId, /\S/);
  assert.match(s.sessionToken, /\S/);
  assert.equal(s.apiUrl, `${demo.url}/api/ai-proxy/orgs/${demo.org}/native/liveavatar`);
  // The SDK's own calls: start with the session token as Bearer, through aiproxy.
  const start = await fetch(`${s.apiUrl}/v1/sessions/start`, { method: "POST", headers: { Authorization: `Bearer ${s.sessionToken}` } });
  assert.ok(start.status === 200 || start.status === 201, `start: ${start.status}`);
  assert.equal((await start.json()).code, 1000);
  const stop = await fetch(`${s.apiUrl}/v1/sessions/stop`, {
    method: "POST", headers: { Authorization: `Bearer ${s.sessionToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ session_id: s.sessionId }),
  });
  assert.equal(stop.status, 200);
  assert.equal((await stop.json()).code, 1000);
  const sessions = await ai.listLiveSessions();
  const mine = sessions.find((x) => x.id === s.sessionId);
  assert.ok(mine, JSON.stringify(sessions));
  assert.deepEqual({ mode: mine.mode, sandbox: mine.sandbox, state: mine.state, user: mine.user, stoppedBy: mine.stopped_by },
    { mode: "LITE", sandbox: true, state: "stopped", user: "", stoppedBy: "client" });
  assert.equal(typeof mine.minutes, "number");
  assert.equal(typeof mine.credits, "number");
  assert.equal(mine.session_token, undefined);
});

test("LiveAvatar: a user's session is theirs to list and to stop; the org sees every one", async () => {
  const dana = await asUser("dana");
  const s = await dana.liveAvatarSession({ avatarId: "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a", mode: "FULL", isSandbox: true, avatarPersona: { language: "en" } });
  const erin = await asUser("erin");
  assert.ok(!(await erin.listLiveSessions()).some((x) => x.id === s.sessionId), "another user sees dana's session");
  const [listed] = (await dana.listLiveSessions()).filter((x) => x.id === s.sessionId);
  assert.equal(listed?.user, "dana");
  const stopped = await dana.stopLiveSession(s.sessionId);
  assert.equal(stopped.state, "stopped");
  assert.ok((await ai.listLiveSessions()).some((x) => x.id === s.sessionId && x.user === "dana"));
});

test("a user token's max_spend that runs out mid-text closes the socket: BudgetExceeded as a LiveSocketError with 4402", async () => {
  // 100 characters are 0.01 dollars at the default model's rate; the token may spend 0.005.
  const frank = await asUser("frank", { maxSpend: 0.005 });
  const live = await frank.liveSpeech({ voiceId: rachel, WebSocket });
  live.send("c".repeat(30), { flush: true });
  live.send("d".repeat(100), { flush: true });
  await assert.rejects(live.done, (err) => {
    assert.ok(err instanceof LiveSocketError, `${err}`);
    assert.equal(err.closeCode, 4402);
    assert.equal(err.code, "budget_exceeded");
    return true;
  });
});

// Last: the quota it sets holds for the rest of the day.
test("a quota that runs out mid-text closes the socket: done rejects with quota_exceeded and 4429", async () => {
  const platformKey = demo.cli("key", "create", "--platform", "--name", "js live quota");
  const admin = new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: platformKey });
  await admin.request("PUT", admin.orgUrl("quotas"), () => ({
    body: JSON.stringify({ service: "elevenlabs", metric: "characters", period: "day", limit: 100 }), contentType: "application/json",
  }));
  const carol = await asUser("carol");
  const live = await carol.liveSpeech({ voiceId: rachel, WebSocket });
  live.send("a".repeat(60));
  live.send("b".repeat(60));
  await assert.rejects(live.done, (err) => {
    assert.ok(err instanceof LiveSocketError, `${err}`);
    assert.equal(err.closeCode, 4429);
    assert.equal(err.code, "quota_exceeded");
    assert.match(err.detail, /\S/);
    return true;
  });
  // The iterator ends with the same error.
  await assert.rejects((async () => { for await (const _ of live) { /* drain */ } })(), LiveSocketError);
});
