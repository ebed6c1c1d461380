// Desktop figures for BENCHMARKS.md, in the real window under Xvfb (debug build, like the
// end-to-end run):
//   * cold start to an interactive inbox with a mirror of 100k messages (WebDriver's new
//     session, which starts the app, → the first inbox row on screen);
//   * memory as PSS summed over the app and its WebKit processes, next to an empty Tauri window
//     (examples/empty_window.rs) measured the same way in the same run;
//   * inbox scrolling (frame after a jump) and search (typing → results shown) in the window.
//
// Needs a console data directory with a full mirror, made by the sync benchmark:
//   BENCH_KEEP_MIRROR=/tmp/mirror cargo bench -p switchboard-console-core --bench console_sync
//   cargo build -p switchboard -p switchboard-console-core --example empty_window --bins
//   xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- node ui/e2e/bench-window.mjs /tmp/mirror
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { bin, children, root, stop } from "./harness.mjs";
import { Driver } from "./webdriver.mjs";

const mirror = process.argv[2];
if (!mirror || !fs.existsSync(path.join(mirror, "console.sqlite3"))) {
  console.error("usage: node ui/e2e/bench-window.mjs CONSOLE_DATA_DIR (see the header)");
  process.exit(2);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p99 = (xs) => [...xs].sort((a, b) => a - b)[Math.round((xs.length - 1) * 0.99)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function copy(from) {
  const to = fs.mkdtempSync(path.join(os.tmpdir(), "switchboard-bench-"));
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
      total += Number(/^Pss:\s+(\d+)/m.exec(rollup)[1]);
      names.push(fs.readFileSync(`/proc/${p}/comm`, "utf8").trim());
    } catch {
      /* gone or not ours */
    }
  }
  return { kb: total, processes: names };
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
  // Cold start, five times, each on a fresh copy of the mirror.
  const starts = [];
  for (let i = 0; i < 5; i++) {
    const dir = copy(mirror);
    const app = await Driver.start(bin("switchboard"), ["--data-dir", dir]);
    // Polled every 10 ms (the page may not be there yet at first).
    while (!(await app.js("return !!document.querySelector('[data-testid=inbox-row]')").catch(() => false))) await sleep(10);
    starts.push(performance.now() - app.launchedAt);
    if (i === 4) {
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
  console.log(`| cold start → interactive inbox, 100k messages cached (from WebDriver's new session) | 5 starts | median ${(median(starts) / 1000).toFixed(2)} s (${starts.map((s) => (s / 1000).toFixed(2)).join(", ")}) | < 1.5 s |`);

  // Memory: the console with its inbox shown, and an empty Tauri window, the same way: as the
  // app runs by default (WebKit's accelerated compositing off, which the app sets on Linux),
  // and with compositing on for both.
  for (const [how, ourEnv, emptyEnv] of [
    ["compositing off (the app's default)", {}, { WEBKIT_DISABLE_COMPOSITING_MODE: "1" }],
    ["compositing on", { SWITCHBOARD_WEBKIT_COMPOSITING: "1" }, {}],
  ]) {
    const empty = await settledPss(path.join(root, "target", "debug", "examples", "empty_window"), [], emptyEnv, 8000);
    const ours = await settledPss(bin("switchboard"), ["--data-dir", copy(mirror)], ourEnv, 8000);
    console.log(`| memory (PSS: app + WebKit processes), ${how} | ${ours.processes.join(", ")} | ${(ours.kb / 1024).toFixed(0)} MB vs empty window ${(empty.kb / 1024).toFixed(0)} MB: ${(ours.kb / empty.kb).toFixed(2)}× | ≤ 1.3× |`);
  }
}

try {
  await main();
} finally {
  for (const c of children) await stop(c).catch(() => {});
}
