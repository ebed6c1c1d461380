// What both end-to-end stories need: the real programs started and stopped, signed WhatsApp
// webhooks, waiting for what a person would see, and a scan of a data directory for secrets.
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

export const root = path.resolve(import.meta.dirname, "../..");
export const bin = (name) => path.join(root, "target", "debug", name);
export const out = path.join(root, "ui", "e2e", "out");
export const APP_SECRET = "e2e-app-secret";
export const PASSWORD = "switchboard-demo";
export const children = [];

export function log(step) {
  console.log(`e2e: ${step}`);
}

export async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts a program and resolves with the first URL matching `pattern` on its stdout. */
export function start(name, args, env, pattern) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin(name), args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${seen}`)), 30_000);
    child.stdout.on("data", (d) => {
      seen += d;
      const m = pattern.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
    child.stderr.on("data", (d) => {
      seen += d;
      if (process.env.E2E_VERBOSE) process.stderr.write(d);
    });
    child.on("exit", (code) => reject(new Error(`${name} exited (${code}): ${seen}`)));
  });
}

export async function stop(child) {
  // Exited by itself (exitCode) or by a signal (signalCode): nothing to wait for.
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

export async function until(what, check, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting until ${what}${last ? `: ${last.message}` : ""}`);
}

/** Posts one signed WhatsApp notification holding `message` (its type and content) from `from`. */
async function postWhatsapp(serviceUrl, from, name, id, message) {
  const body = JSON.stringify({
    object: "whatsapp_business_account",
    entry: [{ id: "WABA", changes: [{ field: "messages", value: {
      messaging_product: "whatsapp",
      metadata: { display_phone_number: "447911000001", phone_number_id: "100000000001" },
      contacts: [{ wa_id: from, profile: { name } }],
      messages: [{ from, id, timestamp: String(Math.floor(Date.now() / 1000)), ...message }],
    } }] }],
  });
  const signature = "sha256=" + crypto.createHmac("sha256", APP_SECRET).update(body).digest("hex");
  const r = await fetch(`${serviceUrl}/webhooks/whatsapp`, { method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": signature }, body });
  if (!r.ok) throw new Error(`webhook refused: ${r.status} ${await r.text()}`);
}

/** A customer's text through the signed webhook. */
export function webhook(serviceUrl, from, name, text, id) {
  return postWhatsapp(serviceUrl, from, name, id, { type: "text", text: { body: text } });
}

/** A customer's photo through the signed webhook (the sandbox Graph API serves every media id
 * as a small picture, which the service fetches and keeps). */
export function photoWebhook(serviceUrl, from, name, mediaId, caption, id) {
  return postWhatsapp(serviceUrl, from, name, id, { type: "image", image: { id: mediaId, mime_type: "image/png", caption } });
}

export function scanForSecrets(dir, secrets) {
  const found = [];
  const walk = (d) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else {
        const bytes = fs.readFileSync(p).toString("latin1");
        for (const s of secrets) if (bytes.includes(s)) found.push(`${p} holds ${s.slice(0, 12)}…`);
        // JWTs (access or refresh tokens) start with base64 of '{"'.
        if (/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./.test(bytes)) found.push(`${p} holds a token`);
      }
    }
  };
  walk(dir);
  return found;
}

/** The demo service with the sandbox WhatsApp API and no simulated traffic, restartable in place
 * (`extra`: more of its environment, e.g. the Google stand-in's settings). */
export async function demoService(dir, extra = {}) {
  const port = await freePort();
  const env = { SWITCHBOARD_BIND: `127.0.0.1:${port}`, SWITCHBOARD_DATA_DIR: dir, SWITCHBOARD_DEMO_APP_SECRET: APP_SECRET, SWITCHBOARD_LOG: "warn", ...extra };
  // Google's change notifications come to the address the service says it is at.
  if (extra.SWITCHBOARD_GOOGLE_OAUTH_BASE) env.SWITCHBOARD_PUBLIC_URL = `http://127.0.0.1:${port}`;
  const service = { url: `http://127.0.0.1:${port}`, child: null };
  service.start = async () => {
    service.child = (await start("switchboard-cloud", ["demo", "--no-traffic"], env, /running at (http:\/\/\S+)/)).child;
  };
  service.stop = () => stop(service.child);
  await service.start();
  return service;
}

/** The local Google stand-in (`google-stand-in` from crates/testkit): `env`, the service's
 * settings that point at it (its consent page redirects at once, as if the person clicked
 * "Allow"), and `control`, where the story plays someone changing Google Calendar. */
export async function googleStandIn() {
  const { url } = await start("google-stand-in", [], {}, /^([\s\S]*)Google stand-in at http/);
  const lines = url.split("\n").map((l) => l.split(/=(.*)/s).slice(0, 2));
  return { env: Object.fromEntries(lines.filter(([k]) => k.startsWith("SWITCHBOARD_GOOGLE_"))), control: Object.fromEntries(lines).control };
}

/** Runs a story: cleans up the programs it started and fails the process if it failed. */
export async function run(main) {
  try {
    await main();
  } catch (e) {
    console.error(`e2e: FAILED: ${e.stack ?? e}`);
    // A failed story fails the run (and scripts/test with it).
    process.exitCode = 1;
  } finally {
    for (const c of children) await stop(c).catch(() => {});
  }
}
