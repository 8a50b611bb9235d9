// The contract's frontend workflow examples (listAvatars, generateVideo,
// pollVideoStatus, the full workflow), rewritten on the client and run
// against the real server with sandbox providers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { AIProxyClient, AIProxyError, VideoFailedError, TimeoutError } from "../dist/index.js";
import { startDemo } from "./server.js";

let ai;
let demo;
before(async () => {
  demo = await startDemo();
  ai = new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: demo.apiKey });
});
after(() => demo?.stop());

// --- The examples, rewritten -------------------------------------------

const listAvatars = () => ai.heygen.listAvatars();

const generateVideo = (avatarId, voiceId, text) =>
  ai.heygen.generateVideo({ avatarId, voiceId, text, test: true });

const pollVideoStatus = (videoId, onProgress) =>
  ai.heygen.waitForVideo(videoId, { intervalMs: 100, timeoutMs: 30_000, onProgress });

async function createVideo(text, onProgress) {
  try {
    const [avatars, voices] = await Promise.all([ai.heygen.listAvatars(), ai.heygen.listVoices()]);
    const videoId = await generateVideo(avatars[0].avatar_id, voices[0].voice_id, text);
    const { video_url } = await pollVideoStatus(videoId, onProgress);
    return { ok: true, videoId, videoUrl: video_url };
  } catch (err) {
    if (err instanceof AIProxyError) return { ok: false, status: err.status, code: err.code, message: err.detail };
    throw err;
  }
}

// --- The tests -----------------------------------------------------------

test("listAvatars returns HeyGen's avatars", async () => {
  const avatars = await listAvatars();
  assert.ok(avatars.length > 0);
  assert.equal(typeof avatars[0].avatar_id, "string");
  assert.equal(typeof avatars[0].avatar_name, "string");
});

test("generateVideo returns a video id and pollVideoStatus waits for it", async () => {
  const id = await generateVideo("Abigail_expressive_2024112501", "f38a635bee7a4d1f9b0a654a31d050d2", "Hello, this is a test video.");
  assert.match(id, /\S+/);
  const seen = [];
  const st = await pollVideoStatus(id, (p) => seen.push(p));
  assert.equal(st.status, "completed");
  assert.match(st.video_url, /^http/);
  assert.ok(seen.length >= 2, `progress reported ${seen.length} times`);
  assert.notEqual(seen[0].status, "completed");
  assert.equal(seen.at(-1).status, "completed");
  assert.ok(seen.at(-1).elapsedMs > 0);
});

test("the full workflow produces a downloadable MP4", async () => {
  const res = await createVideo("Hello from the full workflow.");
  assert.equal(res.ok, true, JSON.stringify(res));
  const mp4 = new Uint8Array(await (await fetch(res.videoUrl)).arrayBuffer());
  assert.equal(new TextDecoder().decode(mp4.slice(4, 8)), "ftyp");
});

test("the full workflow reports a failed render", async () => {
  const res = await createVideo("SANDBOX_FAIL this one");
  assert.equal(res.ok, false);
  assert.equal(res.code, "video_failed");
  assert.match(res.message, /\S/);
  await assert.rejects(pollVideoStatus(await generateVideo("Abigail_expressive_2024112501", "f38a635bee7a4d1f9b0a654a31d050d2", "SANDBOX_FAIL")),
    (err) => err instanceof VideoFailedError && err.videoId !== "" && err.detail.length > 0);
});

test("the full workflow reports errors as values", async () => {
  const bad = new AIProxyClient({ baseUrl: ai.baseUrl, org: ai.org, apiKey: "aip_wrong_key" });
  const saved = ai;
  ai = bad;
  try {
    const res = await createVideo("Hello.");
    assert.deepEqual(res, { ok: false, status: 401, code: "unauthenticated", message: "Invalid token." });
  } finally {
    ai = saved;
  }
});

test("generateTemplateVideo renders from a template", async () => {
  const list = await ai.invokeJSON("heygen", "list-templates");
  let id;
  for (const t of list.data.templates) {
    try {
      id = await ai.heygen.generateTemplateVideo(t.template_id, {
        test: true,
        variables: { script: { name: "script", type: "text", properties: { content: "Hello." } } },
      });
      break;
    } catch (err) {
      if (!(err instanceof AIProxyError)) throw err;
    }
  }
  assert.ok(id, "no template accepted the script variable");
  const st = await ai.heygen.waitForVideo(id, { intervalMs: 100 });
  assert.equal(st.status, "completed");
});

test("waitForVideo times out and honours AbortSignal", async () => {
  const id = await ai.heygen.generateVideo({ avatarId: "Abigail_expressive_2024112501", voiceId: "f38a635bee7a4d1f9b0a654a31d050d2", text: "SANDBOX_STUCK" });
  await assert.rejects(ai.heygen.waitForVideo(id, { intervalMs: 20, timeoutMs: 150 }), TimeoutError);

  const ctl = new AbortController();
  const why = new Error("user left");
  const wait = ai.heygen.waitForVideo(id, { intervalMs: 50, signal: ctl.signal, onProgress: () => ctl.abort(why) });
  await assert.rejects(wait, (err) => err === why);

  const pre = AbortSignal.abort();
  await assert.rejects(ai.heygen.waitForVideo(id, { signal: pre }), { name: "AbortError" });
});

test("videoStatus reads one state", async () => {
  const id = await ai.heygen.generateVideo({ avatarId: "Abigail_expressive_2024112501", voiceId: "f38a635bee7a4d1f9b0a654a31d050d2", text: "Hi." });
  const st = await ai.heygen.videoStatus(id);
  assert.ok(["pending", "waiting", "processing"].includes(st.status), st.status);
});
