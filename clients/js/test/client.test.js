// Discovery, invoke decoding, ElevenLabs helpers and error classes against
// the real server with sandbox providers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  AIProxyClient, AIProxyError, AuthenticationError, NotFoundError, PermissionError, ValidationError, NetworkError,
  UpstreamError,
} from "../dist/index.js";
import { startDemo } from "./server.js";

const rachel = "21m00Tcm4TlvDq8ikWAM";
let demo, ai;
before(async () => {
  demo = await startDemo();
  ai = new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: demo.apiKey });
});
after(() => demo?.stop());

async function collect(stream) {
  const chunks = [];
  for (const reader = stream.getReader(); ;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

test("the constructor reports every problem", () => {
  assert.throws(() => new AIProxyClient({ baseUrl: "ftp://x" }), /baseUrl.*org is required.*apiKey is required/);
});

test("discovery lists services and endpoints", async () => {
  const services = await ai.listServices();
  assert.deepEqual(services.map((s) => s.slug), ["elevenlabs", "heygen", "liveavatar"]);
  const el = await ai.getService("elevenlabs");
  const tts = el.endpoints.find((e) => e.slug === "tts");
  assert.equal(tts.path_template, "/v1/text-to-speech/{voice_id}");
  assert.equal(tts.response_mode, "binary");
});

test("invoke decodes by Content-Type and response_mode", async () => {
  const voices = await ai.invoke("elevenlabs", "list-voices");
  assert.equal(voices.type, "json");
  assert.equal(voices.status, 200);
  assert.ok(voices.data.voices.length > 0);

  const env = { path_params: { voice_id: rachel }, body: { text: "Hello.", model_id: "eleven_multilingual_v2" } };
  const blob = await ai.invoke("elevenlabs", "tts", env);
  assert.equal(blob.type, "blob");
  assert.equal(blob.contentType, "audio/mpeg");
  assert.ok(blob.data.size > 0);

  const bytes = await ai.invoke("elevenlabs", "tts", env, { as: "bytes" });
  assert.equal(bytes.type, "bytes");
  assert.equal(bytes.data.length, blob.data.size);

  const streamed = await ai.invoke("elevenlabs", "tts-stream", env, { responseMode: "stream" });
  assert.equal(streamed.type, "stream");
  assert.deepEqual(await collect(streamed.data), bytes.data);

  await ai.getService("elevenlabs"); // teaches invoke the endpoints' modes
  assert.equal((await ai.invoke("elevenlabs", "tts-stream", env)).type, "stream");

  await assert.rejects(ai.invokeJSON("elevenlabs", "tts", env), (err) => err instanceof AIProxyError && err.code === "unexpected_content_type");
});

test("elevenlabs helpers: listVoices, listModels, tts bytes and blob, ttsStream", async () => {
  const voices = await ai.elevenlabs.listVoices();
  assert.ok(voices.some((v) => v.voice_id === rachel));
  const models = await ai.elevenlabs.listModels();
  assert.ok(models.length > 0 && models[0].model_id);

  const req = { voiceId: rachel, text: "Hello, this is a test.", voiceSettings: { stability: 0.5, similarity_boost: 0.5 } };
  const bytes = await ai.elevenlabs.tts(req, { as: "bytes" });
  assert.ok(bytes instanceof Uint8Array && bytes.length > 100);
  const isMP3 = bytes[0] === 0x49 /* ID3 */ || (bytes[0] === 0xff && (bytes[1] & 0xe0) === 0xe0);
  assert.ok(isMP3, `not MP3: ${bytes.slice(0, 4)}`);
  const blob = await ai.elevenlabs.tts(req);
  assert.equal(blob.type, "audio/mpeg");
  assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), bytes);
  assert.deepEqual(await collect(await ai.elevenlabs.ttsStream(req)), bytes);
});

test("errors are typed with status, code and detail", async () => {
  const cases = [
    {
      name: "bad key",
      call: () => new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: "aip_no_no" }).listServices(),
      cls: AuthenticationError, status: 401, code: "unauthenticated", detail: "Invalid token.",
    },
    {
      name: "Token scheme works, other org is forbidden",
      call: () => new AIProxyClient({ baseUrl: demo.url, org: "elsewhere", apiKey: demo.apiKey, authScheme: "Token" }).listServices(),
      cls: PermissionError, status: 403, code: "forbidden", detail: "You do not have permission to perform this action.",
    },
    {
      name: "unknown service",
      call: () => ai.invoke("unknown", "x"),
      cls: NotFoundError, status: 404, code: "not_found", detail: "External proxy service 'unknown' not found or disabled.",
    },
    {
      name: "missing path parameter (the contract's error field)",
      call: () => ai.elevenlabs.tts({ voiceId: undefined, text: "x" }),
      cls: ValidationError, status: 400, code: "invalid", detail: "Missing required path parameter: voice_id",
    },
    {
      name: "a provider's 4xx, passed through, keeps its message",
      call: () => ai.heygen.videoStatus("no-such-video"),
      cls: NotFoundError, status: 404, code: "not_found", detail: "Invalid video id: video not found",
    },
  ];
  for (const c of cases) {
    await assert.rejects(c.call(), (err) => {
      assert.ok(err instanceof c.cls, `${c.name}: ${err}`);
      assert.ok(err instanceof AIProxyError);
      assert.equal(err.status, c.status, c.name);
      assert.equal(err.code, c.code, c.name);
      assert.equal(err.detail, c.detail, c.name);
      assert.equal(err.message, c.detail, c.name);
      assert.ok(err.requestId, `${c.name}: no request id`);
      return true;
    });
  }
});

test("a network failure is a NetworkError with status 0", async () => {
  const dead = new AIProxyClient({ baseUrl: "http://127.0.0.1:9", org: "x", apiKey: "k" });
  await assert.rejects(dead.listServices(), (err) => err instanceof NetworkError && err.status === 0);
});

test("retry rides out 502s with backoff", async () => {
  let calls = 0;
  const flaky = async (url, init) => {
    calls++;
    if (calls < 3) return new Response(JSON.stringify({ detail: "The upstream external service request failed.", code: "upstream_failed" }), { status: 502, headers: { "Content-Type": "application/json" } });
    return fetch(url, init);
  };
  const r = new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: demo.apiKey, fetch: flaky, retry: { retries: 3, baseDelayMs: 10 } });
  assert.equal((await r.listServices()).length, 3);
  assert.equal(calls, 3);
  const none = new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: demo.apiKey, fetch: flaky });
  calls = 0;
  await assert.rejects(none.listServices(), UpstreamError);
});

test("openapi.json is served without a key", async () => {
  const doc = await (await fetch(`${demo.url}/api/ai-proxy/openapi.json`)).json();
  assert.equal(doc.openapi, "3.1.0");
  assert.ok(doc.paths["/api/ai-proxy/orgs/{org}/services/heygen/generate-video/"]);
});
