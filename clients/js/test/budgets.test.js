// Spending budgets against the real server with sandbox providers: an org
// key sets, lists and deletes them; a user's calls are refused with a
// BudgetExceededError that names the budget and when it resets; the user
// sees its own budget as a percentage, without amounts.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { AIProxyClient, BudgetExceededError, NotFoundError, PermissionError, ValidationError } from "../dist/index.js";
import { startDemo } from "./server.js";

const rachel = "21m00Tcm4TlvDq8ikWAM";
let demo, ai;
before(async () => {
  demo = await startDemo();
  ai = new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: demo.apiKey });
});
after(() => demo?.stop());

/** A client acting as one user, by a token the org key mints. */
async function asUser(user) {
  const { token } = await ai.mintUserToken({ user });
  return new AIProxyClient({ baseUrl: demo.url, org: demo.org, token });
}

// "Hello there." is 12 characters: 1,200 micro-USD at the default model's rate.
const speak = (client) => client.elevenlabs.tts({ voiceId: rachel, text: "Hello there." });

function nextMonth() {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString().replace(".000Z", "Z");
}

test("a per-user budget refuses the call it cannot cover, and the user sees a percentage", async () => {
  const budget = await ai.setBudget({ scope: "user", window: "month", limitMicros: 2400 });
  assert.match(budget.id, /^bud_/);
  assert.deepEqual({ scope: budget.scope, subject: budget.subject, window: budget.window, limit: budget.limit_micros,
    alerts: budget.alert_thresholds, enforcement: budget.enforcement },
  { scope: "user", subject: "", window: "month", limit: 2400, alerts: [0.8, 0.95], enforcement: "block" });
  assert.deepEqual((await ai.listBudgets()).map((b) => b.id), [budget.id]);

  const alice = await asUser("alice");
  await speak(alice);
  await speak(alice);
  await assert.rejects(speak(alice), (err) => {
    assert.ok(err instanceof BudgetExceededError, `${err}`);
    assert.equal(err.status, 402);
    assert.equal(err.code, "budget_exceeded");
    assert.match(err.detail, /user 'alice' monthly budget/);
    assert.deepEqual({ scope: err.scope, budgetId: err.budgetId, available: err.available, required: err.required, resetsAt: err.resetsAt },
      { scope: "user", budgetId: budget.id, available: 0, required: 0.0012, resetsAt: nextMonth() });
    return true;
  });

  const mine = await alice.budgetStatus();
  assert.equal(mine.length, 1);
  assert.deepEqual({ scope: mine[0].scope, window: mine[0].window, percent: mine[0].percent, zone: mine[0].zone, resets: mine[0].resets_at },
    { scope: "user", window: "month", percent: 100, zone: "exhausted", resets: nextMonth() });
  for (const hidden of ["id", "subject", "limit_micros", "spent_micros", "reserved_micros", "remaining_micros"]) {
    assert.equal(mine[0][hidden], undefined, `a user sees ${hidden}`);
  }
  const all = await ai.budgetStatus();
  const hers = all.find((s) => s.id === budget.id && s.subject === "alice");
  assert.deepEqual({ spent: hers?.spent_micros, left: hers?.remaining_micros }, { spent: 2400, left: 0 });

  await assert.rejects(alice.listBudgets(), PermissionError);
  await assert.rejects(alice.setBudget({ scope: "user", subject: "alice", window: "month", limitMicros: 1e9 }), PermissionError);

  await ai.deleteBudget(budget.id);
  await assert.rejects(ai.deleteBudget(budget.id), NotFoundError);
  await speak(alice);
});

test("setBudget replaces by id and reports a bad budget", async () => {
  const carol = await ai.setBudget({ scope: "user", subject: "carol", window: "day", limitMicros: 5_000_000,
    alertThresholds: [0.5], enforcement: "alert_only" });
  const replaced = await ai.setBudget({ id: carol.id, scope: "user", subject: "carol", window: "day", limitMicros: 7_000_000 });
  assert.deepEqual({ id: replaced.id, limit: replaced.limit_micros, enforcement: replaced.enforcement }, { id: carol.id, limit: 7_000_000, enforcement: "block" });
  await assert.rejects(ai.setBudget({ scope: "team", window: "month", limitMicros: 1 }), (err) =>
    err instanceof ValidationError && /scope "team"/.test(err.detail));
  await ai.deleteBudget(carol.id);
});

test("a user refused by the org's lifetime budget learns which, and no amounts", async () => {
  const whole = await ai.setBudget({ scope: "org", window: "lifetime", limitMicros: 1000 });
  try {
    await assert.rejects(speak(await asUser("bob")), (err) => {
      assert.ok(err instanceof BudgetExceededError, `${err}`);
      assert.deepEqual({ scope: err.scope, budgetId: err.budgetId, available: err.available, required: err.required, resetsAt: err.resetsAt },
        { scope: "org", budgetId: whole.id, available: undefined, required: undefined, resetsAt: null });
      return true;
    });
    await assert.rejects(speak(ai), (err) => err instanceof BudgetExceededError && err.available === 0.001 && err.required === 0.0012);
  } finally {
    await ai.deleteBudget(whole.id);
  }
});

test("a budget_exceeded body without its members leaves them undefined", async () => {
  const fetch = async () => new Response(JSON.stringify({ detail: "Spent.", code: "budget_exceeded" }),
    { status: 402, headers: { "Content-Type": "application/json" } });
  const c = new AIProxyClient({ baseUrl: demo.url, org: demo.org, apiKey: demo.apiKey, fetch });
  await assert.rejects(c.budgetStatus(), (err) => err instanceof BudgetExceededError && err.scope === undefined &&
    err.resetsAt === undefined && err.available === undefined && err.detail === "Spent.");
});
