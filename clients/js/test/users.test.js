// End users: minting user tokens on a backend, clients that act as one
// user (a static token, a token callback that refreshes after "Invalid
// token."), media URLs with ?access_token=, /me/, and the 402 of a budget,
// against the real server with sandbox providers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  AIProxyClient, AIProxyError, AuthenticationError, BudgetExceededError, NotFoundError, PermissionError, mintUserToken,
  withAccessToken,
} from "../dist/index.js";
import { startDemo } from "./server.js";

const rachel = "21m00Tcm4TlvDq8ikWAM";
let demo, ai;
before(async () => {
  demo = await startDemo();
  ai = new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: demo.apiKey });
});
after(() => demo?.stop());

/** A fetch that counts its calls and the Authorization headers it sent. */
function countingFetch() {
  const sent = [];
  const f = (url, init) => {
    sent.push(init?.headers?.Authorization);
    return fetch(url, init);
  };
  return { f, sent };
}

test("the constructor takes exactly one of apiKey, token and getToken", () => {
  const base = { baseUrl: "http://127.0.0.1:9", org: "o" };
  assert.throws(() => new AIProxyClient({ ...base, apiKey: "aip_x", token: "aipt_y" }), /only one of apiKey, token and getToken/);
  assert.throws(() => new AIProxyClient({ ...base, token: "aipt_y", getToken: () => "aipt_z" }), /only one/);
  assert.throws(() => new AIProxyClient(base), /apiKey is required \(or token, or getToken\)/);
});

test("a backend mints a token; the user's client acts as that user", async () => {
  const minted = await mintUserToken({ baseUrl: demo.url, org: demo.org, apiKey: demo.apiKey },
    { user: "alice", services: ["elevenlabs"], ttlSeconds: 120, maxSpend: 1.5 });
  assert.match(minted.token, /^aipt_/);
  assert.equal(minted.user, "alice");
  assert.deepEqual(minted.grants, { services: ["elevenlabs"], actions: [] });
  assert.equal(minted.max_spend, 1.5);
  assert.equal(Date.parse(minted.expires_at) - Date.parse(minted.created_at), 120_000);

  const { f, sent } = countingFetch();
  const alice = new AIProxyClient({ baseUrl: demo.url, org: demo.org, token: minted.token, fetch: f });
  const me = await alice.me();
  assert.deepEqual({ kind: me.kind, user: me.user, member: me.member, org: me.org },
    { kind: "user_token", user: "alice", member: true, org: demo.org });
  assert.deepEqual(me.grants.services, ["elevenlabs"]);
  assert.equal(sent[0], `Token ${minted.token}`);

  // A user token given as apiKey is sent with the Token scheme too.
  const asKey = new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: minted.token, fetch: f });
  assert.equal((await asKey.me()).user, "alice");
  assert.equal(sent.at(-1), `Token ${minted.token}`);

  await assert.rejects(alice.heygen.listAvatars(), PermissionError);
  await assert.rejects(alice.mintUserToken({ user: "mallory" }), PermissionError);
  await assert.rejects(alice.listUserTokens(), PermissionError);
});

test("the org key lists and revokes tokens, and names the user it acts for", async () => {
  const a = await ai.mintUserToken({ user: "dora", singleUse: true });
  const b = await ai.mintUserToken({ user: "dora", actions: ["elevenlabs/list-voices"] });
  const listed = await ai.listUserTokens("dora");
  assert.deepEqual(listed.map((t) => t.id).sort(), [a.id, b.id].sort());
  assert.ok(listed.every((t) => t.token === undefined && t.user === "dora"));
  assert.deepEqual(listed.find((t) => t.id === b.id).grants.actions, ["elevenlabs/list-voices"]);

  const revoked = await ai.revokeUserToken(b.id);
  assert.equal(revoked.id, b.id);
  assert.ok(revoked.revoked_at);
  const dora = new AIProxyClient({ baseUrl: demo.url, org: demo.org, token: b.token });
  await assert.rejects(dora.me(), (err) => err instanceof AuthenticationError && err.detail === "Invalid token.");
  await assert.rejects(ai.revokeUserToken("nope"), NotFoundError);

  const me = await new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: demo.apiKey, user: "carol" }).me();
  assert.deepEqual({ kind: me.kind, user: me.user, member: me.member }, { kind: "key", user: "carol", member: false });
  assert.equal((await ai.me()).user, null);
});

test("getToken is asked before each request and once more after Invalid token., for one retry", async () => {
  const stale = await ai.mintUserToken({ user: "erin" });
  await ai.revokeUserToken(stale.id);
  const fresh = await ai.mintUserToken({ user: "erin" });

  const asked = [];
  const { f, sent } = countingFetch();
  const erin = new AIProxyClient({
    baseUrl: demo.url, org: demo.org, fetch: f,
    getToken: async ({ refresh }) => { asked.push(refresh); return refresh ? fresh.token : stale.token; },
  });
  assert.equal((await erin.me()).user, "erin");
  assert.deepEqual(asked, [false, true]);
  assert.deepEqual(sent, [`Token ${stale.token}`, `Token ${fresh.token}`]);

  // A callback that keeps giving a dead token: one retry, then the 401.
  asked.length = 0;
  sent.length = 0;
  const stuck = new AIProxyClient({
    baseUrl: demo.url, org: demo.org, fetch: f,
    getToken: ({ refresh }) => { asked.push(refresh); return stale.token; },
  });
  await assert.rejects(stuck.listServices(), (err) => err instanceof AuthenticationError && err.detail === "Invalid token.");
  assert.deepEqual(asked, [false, true]);
  assert.equal(sent.length, 2);

  // A static token is not retried, and other errors never ask again.
  sent.length = 0;
  await assert.rejects(new AIProxyClient({ baseUrl: demo.url, org: demo.org, token: stale.token, fetch: f }).me(), AuthenticationError);
  assert.equal(sent.length, 1);
  asked.length = 0;
  const ok = new AIProxyClient({ baseUrl: demo.url, org: demo.org, getToken: ({ refresh }) => { asked.push(refresh); return fresh.token; } });
  await assert.rejects(ok.invoke("unknown", "x"), NotFoundError);
  assert.deepEqual(asked, [false]);
});

test("mediaUrl lets <audio src> load the user's own audio with ?access_token=", async () => {
  const alice = new AIProxyClient({ baseUrl: demo.url, org: demo.org, token: (await ai.mintUserToken({ user: "alice" })).token });
  const bob = new AIProxyClient({ baseUrl: demo.url, org: demo.org, token: (await ai.mintUserToken({ user: "bob" })).token });
  const env = { path_params: { voice_id: rachel }, body: { text: "Alice's memo.", model_id: "eleven_multilingual_v2" } };
  const spoken = await alice.invoke("elevenlabs", "tts", env, { as: "bytes" });
  const item = spoken.headers.get("History-Item-Id");
  assert.ok(item, "no History-Item-Id");

  const src = await alice.mediaUrl(`native/elevenlabs/v1/history/${item}/audio`);
  assert.equal(new URL(src).pathname, `/api/ai-proxy/orgs/${demo.org}/native/elevenlabs/v1/history/${item}/audio`);
  const audio = await fetch(src); // no headers, as a browser's <audio> loads it
  assert.equal(audio.status, 200);
  assert.match(audio.headers.get("Content-Type"), /^audio\//);
  assert.deepEqual(new Uint8Array(await audio.arrayBuffer()), spoken.data);

  const other = await fetch(await bob.mediaUrl(`/api/ai-proxy/orgs/${demo.org}/native/elevenlabs/v1/history/${item}/audio`));
  assert.equal(other.status, 404, "bob loads alice's audio");
  await other.body?.cancel();

  const events = new AbortController();
  const stream = await fetch(await alice.mediaUrl("jobs/events"), { signal: events.signal });
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get("Content-Type"), /^text\/event-stream/);
  events.abort();

  await assert.rejects(ai.mediaUrl("jobs/events"), /needs a user token/);
  assert.equal(withAccessToken("http://h/a?b=1", "aipt_x"), "http://h/a?b=1&access_token=aipt_x");
});

test("a budget's 402 is a BudgetExceededError; a provider's own 402 is not", async () => {
  const answer = (status, body) => async () => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  const spent = new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: demo.apiKey,
    fetch: answer(402, { detail: "A spending budget would be passed by this call.", code: "budget_exceeded" }) });
  await assert.rejects(spent.listServices(), (err) =>
    err instanceof BudgetExceededError && err.status === 402 && err.code === "budget_exceeded" &&
    err.detail === "A spending budget would be passed by this call.");
  const provider = new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: demo.apiKey,
    fetch: answer(402, { detail: { status: "payment_required", message: "Upgrade your plan." } }) });
  await assert.rejects(provider.listServices(), (err) =>
    err instanceof AIProxyError && !(err instanceof BudgetExceededError) && err.detail === "Upgrade your plan.");
});
