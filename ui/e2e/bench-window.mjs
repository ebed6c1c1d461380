// Desktop figures for BENCHMARKS.md, in the real window under Xvfb (debug build, like the
// end-to-end run):
//   * cold start to an interactive inbox with a mirror of 100k messages (WebDriver's new
//     session, which starts the app, → the first inbox row on screen);
//   * memory as PSS summed over the app and its WebKit processes, next to an empty Tauri window
//     (examples/empty_window.rs) measured the same way in the same run;
//   * inbox scrolling (frame after a jump) and search (typing → results shown) in the window;
//   * a conversation's timeline of 200 files scrolled frame by frame (`mediaTimeline`; with the
//     argument `media` instead of a data directory, only this, which needs no mirror).
//
// Needs a console data directory with a full mirror, made by the sync benchmark:
//   BENCH_KEEP_MIRROR=/tmp/mirror cargo bench -p switchboard-console-core --bench console_sync
//   cargo build -p switchboard -p switchboard-console-core --example empty_window --bins
//   ui/e2e/run.sh bench /tmp/mirror     (or: ui/e2e/run.sh bench media)
// Options: BENCH_APP (another build to measure, e.g. main's, in the same session; or a release
// build, with BENCH_EMPTY the empty window of the same profile, e.g. target/release/examples/empty_window),
// BENCH_KEEP=file|keyring (cold starts with the mirror's sign-in in its encrypted file, or moved
// to this session's keyring with `switchboard-console keep keyring` first; both unless set; `none`:
// memory only),
// BENCH_FRAME_END=port (a frame's end seen by a MessageChannel message instead of a timer),
// BENCH_OPEN_AT_ONCE=1 (open the timeline as soon as it is synced, while the console still
// fetches its pictures, instead of after they are kept here),
// BENCH_NO_MEDIA=1 (the mirror's figures only), BENCH_CSS / BENCH_JS (rules or a script put in
// the page before the timeline is scrolled, to compare variants without rebuilding the app).
// The mirror's sign-in is kept in its encrypted file (passphrase "bench-mirror-passphrase", given
// to the app as SWITCHBOARD_CONSOLE_PASSPHRASE), so any session can open it; the run's own
// sign-in for the media timeline goes to the session's keyring (run.sh unlocks one).
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PASSWORD, bin, children, demoService, photoWebhook, root, stop, until, webhook } from "./harness.mjs";
import { Driver } from "./webdriver.mjs";

const mirror = process.argv[2];
// The app measured: this worktree's debug build, or another build to compare with (BENCH_APP).
const APP = process.env.BENCH_APP || bin("switchboard");
const mediaOnly = mirror === "media";
if (!mediaOnly && (!mirror || !fs.existsSync(path.join(mirror, "console.sqlite3")))) {
  console.error("usage: node ui/e2e/bench-window.mjs CONSOLE_DATA_DIR | media (see the header)");
  process.exit(2);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p99 = (xs) => [...xs].sort((a, b) => a - b)[Math.round((xs.length - 1) * 0.99)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Temporary directories of the run (copies of the mirror, the media timeline's service and
// console), removed at the end: a copy of the mirror is about 100 MB.
const made = [];

function copy(from) {
  const to = fs.mkdtempSync(path.join(os.tmpdir(), "switchboard-bench-"));
  made.push(to);
  for (const f of fs.readdirSync(from)) fs.copyFileSync(path.join(from, f), path.join(to, f));
  return to;
}

/** PSS in kB of a process and all its descendants (the WebKit web and network processes). */
function pss(pid) {
  const parents = new Map();
  for (const p of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, "utf8");
      parents.set(Number(p), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      /* gone */
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  let total = 0;
  const names = [];
  for (const p of tree) {
    try {
      const rollup = fs.readFileSync(`/proc/${p}/smaps_rollup`, "utf8");
      const kb = Number(/^Pss:\s+(\d+)/m.exec(rollup)[1]);
      // Of which: pages of files (the program and libraries), and private memory.
      const file = Number(/^Pss_File:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      total += kb;
      names.push(`${fs.readFileSync(`/proc/${p}/comm`, "utf8").trim()} ${(kb / 1024).toFixed(0)} MB (files ${(file / 1024).toFixed(0)})`);
    } catch {
      /* gone or not ours */
    }
  }
  return { kb: total, processes: names };
}

/** CPU time (clock ticks) used so far by each process of the run, by name: the app, its WebKit
 * processes and the demo service share the machine's cores with the page. */
function cpuTicks() {
  const stats = new Map();
  for (const p of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      stats.set(Number(p), { name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), parent: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      /* gone */
    }
  }
  // This run's processes only (other sessions may run a service of the same name).
  const tree = [process.pid];
  for (let i = 0; i < tree.length; i++) for (const [p, s] of stats) if (s.parent === tree[i]) tree.push(p);
  const ticks = new Map();
  for (const p of tree.slice(1)) ticks.set(`${stats.get(p).name} ${p}`, stats.get(p).ticks);
  return ticks;
}

/** Each process's share of one core since `before`, over `ms` of wall time. */
function cpuSince(before, ms) {
  const after = cpuTicks();
  const used = new Map();
  for (const [key, t] of after) {
    const name = key.split(" ")[0];
    used.set(name, (used.get(name) ?? 0) + (t - (before.get(key) ?? 0)));
  }
  return [...used].filter(([, t]) => t > 0).map(([name, t]) => `${name} ${((t * 10) / ms * 100).toFixed(0)}%`).join(", ") + ` of one core over ${(ms / 1000).toFixed(1)} s`;
}

async function settledPss(program, args, env, settleMs) {
  const child = spawn(program, args, { env: { ...process.env, ...env }, stdio: "ignore" });
  children.push(child);
  await sleep(settleMs);
  const m = pss(child.pid);
  await stop(child);
  return m;
}

async function main() {
  const keeps = (process.env.BENCH_KEEP ?? "file,keyring").split(",");
  for (const keep of keeps.filter((k) => k !== "none")) await coldStarts(keep, keep === keeps.at(-1));
  await memory();
}

/** Cold start five times, each on a fresh copy of the mirror, its sign-in kept in `keep` (the
 * encrypted file the sync benchmark made, or this session's keyring); the inbox's scrolling and
 * search after the last start when `inWindow`. */
async function coldStarts(keep, inWindow) {
  // The mirror's sign-in is kept in its encrypted file (the keyring of the session that made it
  // is not this one's): the app unlocks it with the passphrase the sync benchmark used.
  process.env.SWITCHBOARD_CONSOLE_PASSPHRASE = "bench-mirror-passphrase";
  const starts = [];
  for (let i = 0; i < 5; i++) {
    const dir = copy(mirror);
    if (keep === "keyring") {
      // Moved to the keyring by the console itself (the passphrase opens the file first); the
      // app is then started without the passphrase.
      execFileSync(bin("switchboard-console"), ["--data-dir", dir, "keep", "keyring"], { env: process.env, stdio: ["ignore", "ignore", "inherit"] });
      delete process.env.SWITCHBOARD_CONSOLE_PASSPHRASE;
      if (fs.existsSync(path.join(dir, "sign-in.sealed"))) throw new Error("the sign-in did not move to the keyring");
    }
    const app = await Driver.start(APP, ["--data-dir", dir]);
    if (keep === "keyring") process.env.SWITCHBOARD_CONSOLE_PASSPHRASE = "bench-mirror-passphrase";
    // Polled every 10 ms (the page may not be there yet at first).
    while (!(await app.js("return !!document.querySelector('[data-testid=inbox-row]')").catch(() => false))) await sleep(10);
    starts.push(performance.now() - app.launchedAt);
    if (i === 4 && inWindow) {
      // Scrolling: jump through the virtualised list; time from the jump until the rows for the
      // new position are in the page (a MutationObserver sees React draw them).
      const frames = await app.send("POST", "/execute/async", {
        script: `const done = arguments[arguments.length - 1];
          const list = document.querySelector('.inbox-list');
          const drawn = () => new Promise((resolve) => {
            const seen = new MutationObserver(() => { seen.disconnect(); resolve(); });
            seen.observe(list, { childList: true, subtree: true });
          });
          (async () => {
            const times = [];
            for (let i = 1; i <= 40; i++) {
              const target = (i * 1700) % (list.scrollHeight - list.clientHeight);
              const t = performance.now();
              const rows = drawn();
              list.scrollTop = target;
              await rows;
              times.push(performance.now() - t);
              await new Promise((r) => setTimeout(r, 30));
            }
            done(times);
          })().catch((e) => done(String(e)));`,
        args: [],
      });
      // Searching: type a word, wait until the first row shows a match.
      const searches = await app.send("POST", "/execute/async", {
        script: `const done = arguments[arguments.length - 1];
          const input = document.querySelector('input[type=search]');
          const set = (v) => { Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(input, v); input.dispatchEvent(new Event('input', {bubbles: true})); };
          (async () => {
            const times = [];
            for (const [word, expect] of [['message 4242', 'Customer 424'], ['message 777', 'Customer 77'], ['message 9001', 'Customer 900']]) {
              set(''); await new Promise((r) => setTimeout(r, 300));
              const t = performance.now();
              set(word);
              while (!(document.querySelector('[data-testid=inbox-row]')?.textContent ?? '').includes(expect)) await new Promise((r) => setTimeout(r, 2));
              times.push(performance.now() - t);
            }
            done(times);
          })().catch((e) => done(String(e)));`,
        args: [],
      });
      console.log(JSON.stringify({ frames, searches }));
      if (!Array.isArray(frames) || !Array.isArray(searches)) throw new Error(`in-window measurement failed: ${frames} ${searches}`);
      console.log(`| inbox scrolling in the window: jump → rows drawn (virtualised list) | 40 jumps | p50 ${median(frames).toFixed(1)} ms, p99 ${p99(frames).toFixed(1)} ms | < 50 ms |`);
      console.log(`| inbox search in the window: typed → first match shown | 3 searches | ${searches.map((s) => s.toFixed(0)).join(", ")} ms | < 50 ms |`);
    }
    await app.quit();
    await sleep(500);
  }
  console.log(`| cold start → interactive inbox, 100k messages cached, sign-in in the ${keep === "keyring" ? "keyring" : "encrypted file"} (from WebDriver's new session) | 5 starts | median ${(median(starts) / 1000).toFixed(2)} s (${starts.map((s) => (s / 1000).toFixed(2)).join(", ")}) | < 1 s |`);
}

async function memory() {
  process.env.SWITCHBOARD_CONSOLE_PASSPHRASE = "bench-mirror-passphrase";
  // Memory: the console with its inbox shown, and an empty Tauri window, the same way: as the
  // app runs by default (WebKit's accelerated compositing off, which the app sets on Linux),
  // and with compositing on for both.
  for (const [how, ourEnv, emptyEnv] of [
    ["compositing off (the app's default)", {}, { WEBKIT_DISABLE_COMPOSITING_MODE: "1" }],
    ["compositing on", { SWITCHBOARD_WEBKIT_COMPOSITING: "1" }, {}],
  ]) {
    const empty = await settledPss(process.env.BENCH_EMPTY || path.join(root, "target", "debug", "examples", "empty_window"), [], emptyEnv, 8000);
    const ours = await settledPss(APP, ["--data-dir", copy(mirror)], ourEnv, 8000);
    console.log(`| memory (PSS: app + WebKit processes), ${how} | ${ours.processes.join(", ")} vs ${empty.processes.join(", ")} | ${(ours.kb / 1024).toFixed(0)} MB vs empty window ${(empty.kb / 1024).toFixed(0)} MB: ${(ours.kb / empty.kb).toFixed(2)}× | ≤ 1.3× |`);
  }
}

/** A timeline of 200 files scrolled in the window: 150 photos staff sent (1200×900 JPEGs, through
 * the service's upload and outbox) and 50 the customer sent (the sandbox's small PNGs), in one
 * conversation synced by a freshly signed-in console. Each frame scrolls the timeline by 120 px
 * from a requestAnimationFrame callback; a frame's cost is from there until a message posted in
 * that callback runs, i.e. after the frame's style, layout and paint. Two passes top to bottom: the
 * first while the pictures load as they come into view, the second with all of them loaded. */
async function mediaTimeline() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "switchboard-bench-media-"));
  made.push(tmp);
  const photos = [];
  for (let i = 0; i < 6; i++) {
    const file = path.join(tmp, `photo-${i}.jpg`);
    execFileSync("convert", ["-size", "1200x900", `plasma:${["red", "green", "blue", "orange", "purple", "teal"][i]}-white`, "-quality", "82", file]);
    photos.push(fs.readFileSync(file));
  }
  const service = await demoService(path.join(tmp, "cloud"));
  const login = await fetch(`${service.url}/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "owner@demo.switchboard.app", password: PASSWORD }) }).then((r) => r.json());
  const auth = { authorization: `Bearer ${login.access_token}` };
  await webhook(service.url, "447700900321", "Iris Gallery", "Here are the looks I like", "wamid.bench-media-0");
  const conversation = await until("her conversation exists", async () => {
    const customer = (await fetch(`${service.url}/v1/customers?q=Iris%20Gallery`, { headers: auth }).then((r) => r.json())).items[0];
    if (!customer) return null;
    const page = await fetch(`${service.url}/v1/conversations?limit=50`, { headers: auth }).then((r) => r.json());
    return page.items.find((c) => c.customer_id === customer.id)?.id ?? null;
  });
  const took = await fetch(`${service.url}/v1/conversations/${conversation}/takeover`, { method: "POST", headers: auth });
  if (!took.ok) throw new Error(`takeover: ${took.status} ${await took.text()}`);
  for (let i = 0; i < 200; i++) {
    if (i % 4 === 3) {
      await photoWebhook(service.url, "447700900321", "Iris Gallery", `bench-photo-${i}`, `Look ${i}`, `wamid.bench-media-${i + 1}`);
      continue;
    }
    const id = crypto.randomUUID();
    const put = await fetch(`${service.url}/v1/media/${id}?filename=look-${i}.jpg`, { method: "PUT", headers: { ...auth, "content-type": "image/jpeg" }, body: photos[i % photos.length] });
    if (!put.ok) throw new Error(`upload: ${put.status} ${await put.text()}`);
    const sent = await fetch(`${service.url}/v1/conversations/${conversation}/messages`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ body: `Style ${i}`, client_message_id: crypto.randomUUID(), media_id: id }) });
    if (!sent.ok) throw new Error(`send: ${sent.status} ${await sent.text()}`);
  }

  const app = await Driver.start(APP, ["--data-dir", path.join(tmp, "console")]);
  try {
    await app.find("form[aria-label='Sign in']");
    await app.set("input[name=server]", service.url);
    await app.type("input[name=email]", "owner@demo.switchboard.app");
    await app.type("input[name=password]", PASSWORD);
    await app.click("button[type=submit]", "Sign in");
    await until("online", () => app.js("return (document.querySelector('[data-testid=sync-state]')?.textContent ?? '').includes('Online')"), 30_000);
    if (!process.env.BENCH_OPEN_AT_ONCE) {
      // The console fetches the pictures new messages bring (and makes their small copies) in the
      // background as they arrive: the timeline is opened once all 200 are kept here.
      const t = performance.now();
      const db = path.join(tmp, "console", "console.sqlite3");
      const kept = () => Number(execFileSync("sqlite3", [`file:${db}?mode=ro`, "SELECT count(*) FROM media_cache WHERE thumbnail_made = 1"], { encoding: "utf8" }).trim() || 0);
      await until("the 200 pictures kept on arrival", () => kept() >= 200, 120_000);
      console.log(`  the 200 pictures were kept ${((performance.now() - t) / 1000).toFixed(1)} s after the console was online`);
    }
    await app.click("[data-testid=inbox-row]", "Iris Gallery");
    await until("200 files in her timeline", () => app.js("return document.querySelectorAll('.timeline [data-testid=media]').length === 200"), 60_000);
    await app.send("POST", "/timeouts", { script: 600_000 });
    // BENCH_CSS: rules added to the page first, to compare styles without rebuilding the app.
    // BENCH_JS: a script run in the page first, likewise.
    if (process.env.BENCH_JS) await app.send("POST", "/execute/sync", { script: process.env.BENCH_JS, args: [] });
    if (process.env.BENCH_CSS) await app.send("POST", "/execute/sync", { script: "const s = document.createElement('style'); s.textContent = arguments[0]; document.head.appendChild(s); return true;", args: [process.env.BENCH_CSS] });
    // Each pass is its own script, so that the processes' CPU time can be read around it.
    const passScript = `const done = arguments[arguments.length - 1];
        const which = arguments[0];
        const list = document.querySelector('.timeline');
        const frame = () => new Promise((r) => requestAnimationFrame(r));
        async function pass() {
          list.scrollTop = 0;
          for (let i = 0; i < 10; i++) await frame();
          const costs = [], gaps = [];
          let last = null;
          let stuck = 0;
          while (list.scrollTop + list.clientHeight < list.scrollHeight - 2 && stuck < 30 && costs.length < 3000) {
            const before = list.scrollTop;
            costs.push(await new Promise((resolve) => requestAnimationFrame((t) => {
              if (last !== null) gaps.push(t - last);
              last = t;
              const start = performance.now();
              list.scrollTop += 120;
              // The frame's end: a task queued in its callback runs after its style, layout and
              // paint. BENCH_FRAME_END=port: a MessageChannel message (the earlier runs' way; in
              // WebKitGTK a MessagePort's messages go through the network process, so each frame's
              // figure included a round trip to another process).
              if (which.endsWith('port')) {
                const after = new MessageChannel();
                after.port1.onmessage = () => resolve(performance.now() - start);
                after.port2.postMessage(0);
              } else {
                setTimeout(() => resolve(performance.now() - start), 0);
              }
            })));
            stuck = list.scrollTop === before ? stuck + 1 : 0;
          }
          return { costs, gaps, height: list.scrollHeight, scrollable: list.scrollHeight > list.clientHeight, stuck };
        }
        // Pictures (re)loaded during the pass: each is a request to the app's media: scheme.
        let loads = 0;
        const loaded = (e) => { if (e.target.tagName === 'IMG') loads++; };
        list.addEventListener('load', loaded, true);
        (async () => {
          // Wait for every picture to be loaded before the second pass.
          if (which.startsWith('second')) for (let i = 0; i < 500 && [...list.querySelectorAll('.media.image')].some((m) => !m.querySelector('img')?.complete); i++) await new Promise((r) => setTimeout(r, 20));
          // A pass cut short (the conversation scrolled itself to its end as a sync's changes
          // arrived, when it was opened at once) is run again.
          let measured = await pass();
          for (let i = 0; i < 2 && measured.costs.length < 10; i++) measured = await pass();
          list.removeEventListener('load', loaded, true);
          const images = [...list.querySelectorAll('.media.image img')].filter((i) => i.complete && i.naturalWidth > 0).length;
          const undrawn = [...list.querySelectorAll('.media.image')].filter((m) => !(m.querySelector('img')?.naturalWidth > 0)).map((m) => m.outerHTML);
          done({ ...measured, images, loads, undrawn: undrawn.length, example: undrawn[0] ?? null });
        })().catch((e) => done(String(e)));`;
    const result = {};
    for (const which of ["first", "second"]) {
      const before = cpuTicks();
      const t = performance.now();
      result[which] = await app.send("POST", "/execute/async", { script: passScript, args: [process.env.BENCH_FRAME_END === "port" ? `${which} port` : which] });
      if (typeof result[which] === "string") throw new Error(`timeline measurement failed: ${result[which]}`);
      result[which].cpu = cpuSince(before, performance.now() - t);
    }
    Object.assign(result, { images: result.second.images, undrawn: result.second.undrawn, example: result.second.example });
    if (result.undrawn) console.log(`${result.undrawn} pictures not drawn, e.g. ${result.example}`);
    for (const [name, r] of [["first pass, pictures loading", result.first], ["second pass, all loaded", result.second]]) {
      if (r.costs.length < 10) throw new Error(`the timeline did not scroll (${r.costs.length} frames, ${r.height} px, scrollable: ${r.scrollable}, stuck: ${r.stuck})`);
      console.log(`| timeline of 200 files (${result.images} pictures drawn, ${r.height} px): ${name} | ${r.costs.length} frames${r.stuck ? " (stopped: the scroll did not move)" : ""} | work per frame p50 ${median(r.costs).toFixed(1)} ms, p99 ${p99(r.costs).toFixed(1)} ms, max ${Math.max(...r.costs).toFixed(1)} ms; frame interval p50 ${median(r.gaps).toFixed(1)} ms, p99 ${p99(r.gaps).toFixed(1)} ms | p99 < 16 ms |`);
      console.log(`  CPU during the pass: ${r.cpu}; pictures loaded during it: ${r.loads}`);
    }
  } finally {
    await app.quit();
    await service.stop();
  }
}

try {
  if (!mediaOnly) await main();
  delete process.env.SWITCHBOARD_CONSOLE_PASSPHRASE;
  // BENCH_NO_MEDIA=1: the mirror's figures only.
  if (!process.env.BENCH_NO_MEDIA) await mediaTimeline();
} finally {
  for (const c of children) await stop(c).catch(() => {});
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
}
