// waitForVideo through the server's long poll (Prefer: wait=N on
// video-status), and its fallback to plain polling, against the real server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { AIProxyClient, TimeoutError } from "../dist/index.js";
import { startDemo } from "./server.js";

const avatar = { avatarId: "Abigail_expressive_2024112501", voiceId: "f38a635bee7a4d1f9b0a654a31d050d2" };
let demo;
before(async () => { demo = await startDemo(); });
after(() => demo?.stop());

/** A client whose fetch records each video-status call's Prefer and Preference-Applied; strip drops Prefer, as a server without long polling ignores it. */
function recordingClient({ strip = false } = {}) {
  const calls = [];
  const fetch = async (url, init) => {
    const headers = { ...init.headers };
    if (strip) delete headers.Prefer;
    const resp = await globalThis.fetch(url, { ...init, headers });
    if (String(url).includes("/video-status/")) {
      calls.push({ prefer: init.headers.Prefer ?? "", applied: resp.headers.get("Preference-Applied") ?? "" });
    }
    return resp;
  };
  return { ai: new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: demo.apiKey, fetch }), calls };
}

test("waitForVideo long-polls instead of sleeping its interval", async () => {
  const { ai, calls } = recordingClient();
  const id = await ai.heygen.generateVideo({ ...avatar, text: "Hello there." });
  const seen = [];
  const start = Date.now();
  const st = await ai.heygen.waitForVideo(id, {
    intervalMs: 3_600_000, longPollMs: 10_000, timeoutMs: 30_000, onProgress: (p) => seen.push(p.status),
  });
  assert.equal(st.status, "completed");
  assert.ok(st.video_url);
  assert.ok(Date.now() - start < 15_000, `took ${Date.now() - start} ms`);
  assert.equal(calls[0].prefer, "wait=10");
  assert.equal(calls[0].applied, "wait=10");
  assert.equal(seen.at(-1), "completed");
});

test("waitForVideo falls back to polling when the server does not long-poll", async () => {
  const { ai, calls } = recordingClient({ strip: true });
  const id = await ai.heygen.generateVideo({ ...avatar, text: "Hello there." });
  const st = await ai.heygen.waitForVideo(id, { intervalMs: 100, longPollMs: 5_000, timeoutMs: 30_000 });
  assert.equal(st.status, "completed");
  assert.ok(calls.length >= 2, `${calls.length} calls`);
  assert.ok(calls.every((c) => c.prefer.startsWith("wait=") && c.applied === ""), JSON.stringify(calls));
});

test("a held status call ends at the timeout and on abort", async () => {
  const { ai } = recordingClient();
  const id = await ai.heygen.generateVideo({ ...avatar, text: "SANDBOX_STUCK" });
  let start = Date.now();
  await assert.rejects(ai.heygen.waitForVideo(id, { longPollMs: 30_000, timeoutMs: 2_500 }), TimeoutError);
  assert.ok(Date.now() - start < 6_000, `timeout took ${Date.now() - start} ms`);

  start = Date.now();
  await assert.rejects(ai.heygen.waitForVideo(id, { longPollMs: 30_000, signal: AbortSignal.timeout(700) }),
    (err) => err.name === "TimeoutError"); // the signal's own reason, not the wait's TimeoutError class

  assert.ok(Date.now() - start < 5_000, `abort took ${Date.now() - start} ms`);
});
