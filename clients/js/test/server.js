// Starts a real `aiproxy demo` (sandbox providers, SQLite in a temp dir) for
// a test file, and stops it when the file's tests end.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** Returns the aiproxy binary: $AIPROXY_BIN, or one built now with go build. */
function binary() {
  if (process.env.AIPROXY_BIN) return process.env.AIPROXY_BIN;
  const dir = mkdtempSync(join(tmpdir(), "aiproxy-bin-"));
  const bin = join(dir, "aiproxy");
  execFileSync("go", ["build", "-o", bin, "./cmd/aiproxy"], { cwd: repo, stdio: "inherit" });
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  return bin;
}

/**
 * Starts the demo and resolves to { url, org, apiKey, cli, stop } once it
 * prints its AIPROXY_* lines; cli(...args) runs the aiproxy CLI on the
 * demo's database (e.g. to make a platform key) and returns its output.
 * Call stop from a top-level after() hook.
 */
export async function startDemo() {
  const bin = binary();
  const dataDir = mkdtempSync(join(tmpdir(), "aiproxy-js-"));
  // The speech cache is off: the tests repeat speech and expect it to reach
  // the provider (and to spend budgets) each time.
  const child = spawn(bin, ["demo", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--render-time", "1s", "--log-level", "warn",
    "--speech-cache-orgs", "off"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (b) => { stderr += b; });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  const cli = (...args) => execFileSync(bin, [...args, "--data-dir", dataDir], {
    env: { ...process.env, AIPROXY_MASTER_KEY_FILE: join(dataDir, "master.key") }, encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
  return new Promise((resolvePromise, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`demo did not start in 30s\n${stderr}`)), 30_000);
    child.once("exit", (code) => reject(new Error(`demo exited with ${code}\n${stderr}`)));
    child.stdout.on("data", (b) => {
      out += b;
      const complete = out.slice(0, out.lastIndexOf("\n") + 1);
      const vars = Object.fromEntries(complete.split("\n").map((l) => l.match(/^(AIPROXY_[A-Z_]+)=(.*)$/)).filter(Boolean).map((m) => [m[1], m[2]]));
      if (vars.AIPROXY_API_KEY) {
        clearTimeout(timer);
        resolvePromise({ url: vars.AIPROXY_URL, org: vars.AIPROXY_ORG, apiKey: vars.AIPROXY_API_KEY, cli, stop });
      }
    });
  });
}
