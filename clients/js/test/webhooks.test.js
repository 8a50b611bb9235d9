// Outbound webhooks from a real aiproxy demo, verified the way a receiver
// would: with the Standard Webhooks scheme's own published verifier
// (standardwebhooks from the npm registry), not with aiproxy's code.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { AIProxyClient } from "../dist/index.js";
import { startDemo } from "./server.js";

let demo;
let ai;
let receiver;
const deliveries = [];

before(async () => {
  demo = await startDemo();
  ai = new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: demo.apiKey });
  receiver = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => { body += chunk; });
    req.on("end", () => {
      deliveries.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
});
after(async () => {
  await new Promise((resolve) => receiver?.close(resolve));
  await demo?.stop();
});

async function waitFor(check, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const got = check();
    if (got) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no delivery within ${ms} ms`);
}

test("every delivery verifies with the Standard Webhooks library", async () => {
  const url = `http://127.0.0.1:${receiver.address().port}/hooks`;
  const res = await fetch(`${demo.url}/api/ai-proxy/orgs/${demo.org}/webhooks/`, {
    method: "POST",
    headers: { Authorization: `Api-Key ${demo.apiKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ url, events: ["job.created", "job.completed"] }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const { secret } = await res.json();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);

  const [avatar] = await ai.heygen.listAvatars();
  const [voice] = await ai.heygen.listVoices();
  const videoId = await ai.heygen.generateVideo({ avatarId: avatar.avatar_id, voiceId: voice.voice_id, text: "Hooks.", test: true });
  await ai.heygen.waitForVideo(videoId, { intervalMs: 200, timeoutMs: 30_000 });
  const completed = await waitFor(() => deliveries.find((d) => JSON.parse(d.body).type === "job.completed"));

  const wh = new Webhook(secret);
  for (const d of deliveries) {
    const event = wh.verify(d.body, d.headers);
    assert.equal(event.id, d.headers["webhook-id"]);
    assert.ok(["job.created", "job.completed"].includes(event.type), event.type);
    assert.equal(event.job.provider_job_id, videoId);
    // The deprecated aiproxy signature still comes along.
    assert.match(d.headers["aiproxy-signature"], /^v1=[0-9a-f]{64}$/);
  }
  assert.ok(deliveries.some((d) => JSON.parse(d.body).type === "job.created"), "no job.created delivery");

  // The verifier refuses what aiproxy did not sign.
  assert.throws(() => wh.verify(completed.body.replace("completed", "failed"), completed.headers), WebhookVerificationError);
  assert.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString("base64")}`).verify(completed.body, completed.headers),
    WebhookVerificationError);
  assert.throws(() => wh.verify(completed.body, { ...completed.headers, "webhook-id": "evt_other" }), WebhookVerificationError);
});
