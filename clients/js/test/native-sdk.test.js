// The official ElevenLabs JS SDK, unchanged, pointed at aiproxy's native
// passthrough with the aiproxy key as its API key.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ElevenLabsClient, ElevenLabsError } from "@elevenlabs/elevenlabs-js";
import { AIProxyClient } from "../dist/index.js";
import { startDemo } from "./server.js";

const rachel = "21m00Tcm4TlvDq8ikWAM";
let demo, el;
before(async () => {
  demo = await startDemo();
  const ai = new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: demo.apiKey });
  el = new ElevenLabsClient({ apiKey: demo.apiKey, baseUrl: ai.nativeBaseUrl("elevenlabs"), maxRetries: 0 });
});
after(() => demo?.stop());

async function collect(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return new Uint8Array(Buffer.concat(chunks));
}

test("the SDK lists voices", async () => {
  const res = await el.voices.getAll();
  assert.ok(res.voices.length > 0);
  assert.ok(res.voices.some((v) => v.voiceId === rachel));
});

test("the SDK synthesizes speech, identical to invoke's tts", async () => {
  const audio = await collect(await el.textToSpeech.convert(rachel, { text: "Hello from the SDK.", modelId: "eleven_multilingual_v2", outputFormat: "mp3_44100_128" }));
  const ai = new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: demo.apiKey });
  const viaInvoke = await ai.elevenlabs.tts({ voiceId: rachel, text: "Hello from the SDK.", outputFormat: "mp3_44100_128" }, { as: "bytes" });
  assert.ok(audio.length > 100);
  assert.deepEqual(audio, viaInvoke);
});

test("the SDK streams speech", async () => {
  const audio = await collect(await el.textToSpeech.stream(rachel, { text: "Streaming.", modelId: "eleven_multilingual_v2" }));
  assert.ok(audio.length > 100);
});

test("a wrong key is refused", async () => {
  const bad = new ElevenLabsClient({ apiKey: "aip_wrong_key", baseUrl: el._options?.baseUrl ?? `${demo.url}/api/ai-proxy/orgs/${demo.org}/native/elevenlabs`, maxRetries: 0 });
  await assert.rejects(bad.voices.getAll(), (err) => err instanceof ElevenLabsError && err.statusCode === 401);
});

test("paths the catalog does not list are refused", async () => {
  const res = await fetch(`${demo.url}/api/ai-proxy/orgs/${demo.org}/native/elevenlabs/v1/workspace/secrets`, { headers: { "xi-api-key": demo.apiKey } });
  assert.equal(res.status, 404);
  const body = await res.json();
  assert.equal(body.code, "not_found");
  assert.match(body.detail, /no endpoint GET \/v1\/workspace\/secrets/);
});
