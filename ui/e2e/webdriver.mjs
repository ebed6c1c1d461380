// The few WebDriver commands the end-to-end story and the desktop benchmark need, over plain
// HTTP to WebKitWebDriver, which starts the app itself (TAURI_WEBVIEW_AUTOMATION=true).
import { spawn } from "node:child_process";
import { children, freePort, until } from "./harness.mjs";

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

export class Driver {
  constructor(base, session) {
    this.base = base;
    this.session = session;
  }

  static async start(app, args) {
    const port = await freePort();
    const webdriver = spawn("WebKitWebDriver", [`--port=${port}`], { env: { ...process.env, TAURI_WEBVIEW_AUTOMATION: "true" }, stdio: "ignore" });
    children.push(webdriver);
    const base = `http://127.0.0.1:${port}`;
    await until("WebKitWebDriver listens", async () => (await fetch(`${base}/status`)).ok, 15_000);
    // The app starts with the session: what comes before is the driver's own start-up.
    const launchedAt = performance.now();
    const r = await fetch(`${base}/session`, {
      method: "POST",
      body: JSON.stringify({ capabilities: { alwaysMatch: { "webkitgtk:browserOptions": { binary: app, args } } } }),
    });
    const body = await r.json();
    if (!r.ok) throw new Error(`no WebDriver session: ${JSON.stringify(body)}`);
    const session = new Driver(base, body.value.sessionId);
    session.launchedAt = launchedAt;
    return session;
  }

  async send(method, route, body) {
    const r = await fetch(`${this.base}/session/${this.session}${route}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = await r.json();
    if (!r.ok) throw new Error(`${method} ${route}: ${JSON.stringify(json.value)}`);
    return json.value;
  }

  /** Runs `body` (a function body) in the window with `args`; returns what it returns. */
  js(body, ...args) {
    return this.send("POST", "/execute/sync", { script: body, args });
  }

  /** The first element matching `css` whose text contains `text`, as a WebDriver reference. */
  async find(css, text = "") {
    const el = await until(`"${css}" showing "${text}"`, () =>
      this.js("return [...document.querySelectorAll(arguments[0])].find((e) => e.textContent.includes(arguments[1]) && e.getClientRects().length) || null", css, text),
    );
    return el[ELEMENT];
  }

  async click(css, text) {
    await this.send("POST", `/element/${await this.find(css, text)}/click`, {});
  }

  async type(css, keys) {
    await this.send("POST", `/element/${await this.find(css)}/value`, { text: keys });
  }

  /** Chooses a file for an `<input type=file>` (hidden ones too) as the file chooser would:
   * WebDriver's element send keys with the file's path. */
  async upload(css, file) {
    const el = await until(`"${css}" in the page`, () => this.js("return document.querySelector(arguments[0])", css));
    await this.send("POST", `/element/${el[ELEMENT]}/value`, { text: file });
  }

  /** Sets a form field the way typing would, for inputs whose keyboard entry differs by engine. */
  async set(css, value) {
    await this.js(
      "const e = document.querySelector(arguments[0]); Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(e, arguments[1]); e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true}));",
      css,
      value,
    );
  }

  waitText(css, text, timeout) {
    return until(`"${css}" showing "${text}"`, () => this.js("return [...document.querySelectorAll(arguments[0])].some((e) => e.textContent.includes(arguments[1]))", css, text), timeout);
  }

  quit() {
    return fetch(`${this.base}/session/${this.session}`, { method: "DELETE" }).catch(() => {});
  }
}

