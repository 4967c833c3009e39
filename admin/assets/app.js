// The admin pages: hash routes rendered from the JSON API under /admin/api/, which is
// all they call. Data is always put in the page as text, never as HTML.

const view = document.getElementById("view");

/** An element with attributes and children (strings become text). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** GET a JSON API path; throws the API's error message. */
async function api(path) {
  const response = await fetch(`/admin/api/${path}`, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
  }
  return body;
}

const encode = (id) => encodeURIComponent(id);
const time = (ms) => (ms === null || ms === undefined ? "—" : new Date(ms).toISOString().replace("T", " ").replace(".000Z", "Z"));
const bytes = (n) => (n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`);

function grid(entries) {
  return el("dl", { class: "grid" }, entries.map(([label, value]) => el("div", {}, el("dt", {}, label), el("dd", {}, value ?? "—"))));
}

function table(headers, rows, empty) {
  if (rows.length === 0) return el("p", { class: "muted" }, empty);
  return el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((row) => el("tr", {}, row.map((cell) => el("td", {}, cell ?? "—"))))));
}

/** #/ : open a stream by project and id. */
function home() {
  const project = el("input", { name: "project", placeholder: "Project", value: "_default", required: "" });
  const stream = el("input", { name: "stream", placeholder: "Enter stream ID...", required: "" });
  const open = (event) => {
    event.preventDefault();
    location.hash = `#/streams/${encode(project.value)}/${encode(stream.value)}`;
  };
  return [el("h1", {}, "Streams"), el("form", { class: "inline", onsubmit: open }, project, stream, el("button", { type: "submit" }, "Open stream"))];
}

/** #/streams/<project>/<stream>: what the stream's object holds. */
async function streamConsole(project, id) {
  const s = await api(`streams/${encode(project)}/${encode(id)}`);
  const expiry = s.expiry ?? {};
  return [
    el("h1", {}, `${project} / ${id}`),
    grid([
      ["Content Type", s.contentType],
      ["Tail Offset", s.tailOffset],
      ["Status", s.deleted ? "deleted (kept for forks)" : s.closed ? "closed" : "open"],
      ["Created", time(s.createdAt)],
      ["Last activity", time(s.touchedAt)],
      ["TTL", expiry.ttlSeconds === null || expiry.ttlSeconds === undefined ? "none" : `${expiry.ttlSeconds} s`],
      ["Expires", time(expiry.expiresAt)],
      ["Public", s.public ? "yes" : "no"],
      ["Last Stream-Seq", s.lastStreamSeq],
      ["Hot log", `${s.hot?.messages ?? 0} messages, ${bytes(s.hot?.bytes ?? 0)}`],
      ["Long-poll readers", s.readers?.longPoll ?? 0],
      ["SSE readers", s.readers?.sse ?? 0],
    ]),
    s.closedBy ? el("p", { class: "muted" }, `Closed by producer ${s.closedBy.producerId} (epoch ${s.closedBy.epoch}, seq ${s.closedBy.seq})`) : null,
    el("h2", {}, "Segments"),
    table(["Read Seq", "Offset Range", "Size", "Messages"],
      (s.segments ?? []).map((g) => [g.readSeq, `${g.startOffset} – ${g.endOffset}`, bytes(g.bytes ?? 0), g.messages]),
      "No cold segments yet: everything is in the hot log."),
    el("h2", {}, "Producers"),
    table(["ID", "Epoch", "Last Seq", "Last Offset", "Last Active"],
      (s.producers ?? []).map((p) => [p.id, p.epoch, p.lastSeq, p.lastOffset, time(p.lastActiveAt)]),
      "No idempotent producer has written here."),
  ];
}

const routes = [
  [/^#?\/?$/, home],
  [/^#\/streams\/([^/]+)\/(.+)$/, (p, s) => streamConsole(decodeURIComponent(p), decodeURIComponent(s))],
];

async function render() {
  const hash = location.hash || "#/";
  const match = routes.map(([re, page]) => [hash.match(re), page]).find(([m]) => m);
  try {
    const content = match ? await match[1](...match[0].slice(1)) : [el("h1", {}, "Not found"), el("p", { class: "muted" }, hash)];
    view.replaceChildren(...[content].flat().filter(Boolean));
  } catch (e) {
    view.replaceChildren(el("p", { class: "error" }, e.message));
  }
}

async function whoami() {
  try {
    const me = await api("whoami");
    document.getElementById("operator").textContent = me.operator ?? "";
    if (me.mode === "dev-open") {
      const banner = document.getElementById("banner");
      banner.textContent = "Development mode (ADMIN_AUTH=dev-open): these pages are open to anyone who can reach them.";
      banner.hidden = false;
    }
  } catch (e) {
    view.replaceChildren(el("p", { class: "error" }, e.message));
  }
}

window.addEventListener("hashchange", render);
whoami();
render();
