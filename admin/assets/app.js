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
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** An API error: its status and code, with the API's message. */
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** GET a JSON API path; throws an ApiError with the API's message. */
async function api(path) {
  const response = await fetch(`/admin/api/${path}`, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, body?.error?.code, body?.error?.message ?? `HTTP ${response.status}`);
  }
  return body;
}

/** Sends `body` to a stream path with `method` (PUT creates, POST appends); the answer. */
async function send(path, method, contentType, body) {
  const response = await fetch(`/admin/api/${path}`, {
    method,
    headers: { "Content-Type": contentType },
    body: body === "" ? undefined : body,
  });
  const error = response.ok ? null : await response.json().catch(() => null);
  return { status: response.status, offset: response.headers.get("Stream-Next-Offset"), error: error?.error };
}

const encode = (id) => encodeURIComponent(id);
const time = (ms) => (ms === null || ms === undefined ? "—" : new Date(ms).toISOString().replace("T", " ").replace(".000Z", "Z"));
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const bytes = (n) => (n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`);

function grid(entries) {
  return el("dl", { class: "grid" }, entries.map(([label, value]) => el("div", {}, el("dt", {}, label), el("dd", {}, value ?? "—"))));
}

function table(headers, rows, empty) {
  if (rows.length === 0) return el("p", { class: "muted" }, empty);
  return el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((row) => el("tr", {}, row.map((cell) => el("td", {}, cell ?? "—"))))));
}

/** The form that opens a stream's console by project and id. */
function openStreamForm() {
  const project = el("input", { name: "project", placeholder: "Project", value: "_default", required: "" });
  const stream = el("input", { name: "stream", placeholder: "Enter stream ID...", required: "" });
  const open = (event) => {
    event.preventDefault();
    location.hash = `#/streams/${encode(project.value)}/${encode(stream.value)}`;
  };
  return el("form", { class: "inline", onsubmit: open }, project, stream, el("button", { type: "submit" }, "Open stream"));
}

const SVG = "http://www.w3.org/2000/svg";

/** An SVG element (attributes only; `title` becomes its tooltip). */
function svg(tag, attrs = {}, title) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (title) node.append(Object.assign(document.createElementNS(SVG, "title"), { textContent: title }));
  return node;
}

/** A bar per minute of `key` over the series, oldest first, with the peak and the times. */
function minuteChart(id, label, series, key, format) {
  const [width, height] = [600, 120];
  const peak = Math.max(1, ...series.map((m) => m[key]));
  const step = width / Math.max(1, series.length);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": label });
  series.forEach((m, i) => {
    const h = m[key] === 0 ? 0 : Math.max(1, (m[key] / peak) * (height - 4));
    chart.append(svg("rect", { x: (i * step + 1).toFixed(1), y: (height - h).toFixed(1), width: Math.max(1, step - 2).toFixed(1),
      height: h.toFixed(1), "data-value": m[key] }, `${time(m.atMs)}: ${format(m[key])}`));
  });
  const first = series[0]?.atMs, last = series[series.length - 1]?.atMs;
  return el("figure", { class: "chart", id },
    el("figcaption", {}, `${label} (peak ${format(Math.max(0, ...series.map((m) => m[key])))})`), chart,
    el("div", { class: "axis muted" }, el("span", {}, time(first)), el("span", {}, time(last))));
}

/** The overview's figures; refreshed in place every 5 s. */
function overviewFigures(o) {
  const series = o.series ?? [];
  const source = o.source === "analytics-engine" ? "Analytics Engine" : "core's counters (METRICS_COUNTERS)";
  return [
    grid([
      ["Appends/min", o.appendsPerMinute],
      ["Bytes/min", bytes(o.bytesPerMinute)],
      ["Active streams (5 min)", o.activeStreams],
      ["Live readers", `${o.longPollReaders + o.sseReaders} (${o.longPollReaders} long-poll, ${o.sseReaders} SSE)`],
    ]),
    el("div", { class: "charts" },
      minuteChart("appends-chart", "Appends per minute, last hour", series, "appends", String),
      minuteChart("bytes-chart", "Bytes per minute, last hour", series, "bytes", bytes)),
    el("h2", {}, "Hot streams (last 5 min)"),
    table(["Stream", "Appends", "Bytes"], (o.hot ?? []).map((h) => {
      const [project, ...id] = h.stream.split("/");
      return [el("a", { href: `#/streams/${encode(project)}/${encode(id.join("/"))}` }, h.stream), h.appends, bytes(h.bytes)];
    }), "No appends in the last 5 minutes."),
    el("p", { class: "muted", id: "overview-source" }, `From ${source}; "last minute" is the last complete one. Updated ${time(Date.now())}.`),
  ];
}

/** #/ : the overview of every stream, and opening one by id. */
async function home() {
  const figures = el("section", { id: "overview" });
  const show = async () => {
    try {
      figures.replaceChildren(...overviewFigures(await api("overview")));
    } catch (e) {
      figures.replaceChildren(el("p", { class: "error" }, `Overview unavailable: ${e.message}`));
    }
  };
  await show();
  figuresTimer = setInterval(show, 5_000);
  return [el("h1", {}, "Overview"), figures, el("h2", {}, "Open a stream"), openStreamForm()];
}

/** The form that creates a missing stream: its content type and an optional first message. */
function createForm(path) {
  const type = el("select", { name: "contentType" },
    ["application/json", "text/plain", "application/octet-stream"].map((t) => el("option", { value: t }, t)));
  const first = el("textarea", { name: "first", rows: "3", placeholder: "First message (optional)" });
  const result = el("p", { class: "muted" });
  const create = async (event) => {
    event.preventDefault();
    const answer = await send(path, "PUT", type.value, first.value);
    if (answer.error) {
      result.className = "error";
      result.textContent = `CREATE => ${answer.status} ${answer.error.code}: ${answer.error.message}`;
    } else {
      render();
    }
  };
  return el("form", { class: "stack", onsubmit: create }, el("h2", {}, "Create Stream"), type, first,
    el("button", { type: "submit" }, "Create stream"), result);
}

/** The form that appends one message, logging each answer. */
function sendForm(path, contentType) {
  const message = el("textarea", { name: "message", rows: "3", placeholder: contentType === "application/json" ? '{"hello":"world"}' : "Message" });
  const log = el("ul", { class: "log" });
  const submit = async (event) => {
    event.preventDefault();
    const answer = await send(path, "POST", contentType, message.value);
    const line = answer.error
      ? el("li", { class: "error" }, `APPEND => ${answer.status} ${answer.error.code}: ${answer.error.message}`)
      : el("li", {}, `APPEND => ${answer.status} OK, next offset ${answer.offset}`);
    log.prepend(line);
    if (!answer.error) {
      message.value = "";
      refresh(path);
    }
  };
  return el("form", { class: "stack", onsubmit: submit }, el("h2", {}, "Send Message"), message,
    el("button", { type: "submit" }, "Send"), log);
}

/** Re-reads the stream and replaces its figures, keeping the forms (and their logs). */
async function refresh(path) {
  const figures = document.getElementById("figures");
  if (!figures) return;
  try {
    figures.replaceChildren(...streamFigures(await api(path)).filter(Boolean));
  } catch (e) {
    figures.replaceChildren(el("p", { class: "error" }, e.message));
  }
}

/** The live log's connection and the figures' refresh, stopped when the page changes. */
let liveSource = null;
let figuresTimer = null;

const isJson = (contentType) => contentType.split(";")[0].trim().toLowerCase() === "application/json";

/**
 * The live log: messages from now on, through the same-origin SSE endpoint. Its events
 * carry their offset as the event id, so the browser's reconnects resume exactly.
 */
function liveLog(project, id, contentType, from = "now") {
  liveSource?.close();
  const badge = el("span", { class: "badge", id: "live-status" }, "connecting");
  const list = el("ul", { class: "log", id: "live-log" });
  const waiting = el("p", { class: "muted" }, from === "now" ? "Waiting for messages (the log starts now)…" : "Reading from the beginning…");
  const source = new EventSource(`/admin/api/live/${encode(project)}/${encode(id)}?offset=${from}`);
  liveSource = source;
  source.onopen = () => { badge.textContent = "connected"; };
  source.onerror = () => {
    if (source.readyState !== EventSource.CLOSED) badge.textContent = "reconnecting";
  };
  source.addEventListener("data", (event) => {
    const messages = isJson(contentType) ? JSON.parse(event.data) : [event.data];
    for (const message of messages) {
      list.append(el("li", { "data-offset": event.lastEventId }, typeof message === "string" ? message : JSON.stringify(message)));
    }
    waiting.hidden = true;
  });
  source.addEventListener("end", (event) => {
    badge.textContent = `ended: ${event.data}`;
    source.close();
  });
  const clear = () => { list.replaceChildren(); waiting.hidden = false; };
  // The protocol reads forward only, so earlier messages come by reading again from the
  // start: one ordered stream of everything, then the live tail, with nothing twice.
  const fromStart = () => section.replaceChildren(...liveLog(project, id, contentType, "-1"));
  const section = el("section", { id: "live" }, el("h2", {}, "Live Event Log ", badge), waiting, list,
    el("div", { class: "buttons" },
      from === "now" ? el("button", { type: "button", onclick: fromStart }, "Fetch earlier messages") : null,
      el("button", { type: "button", onclick: clear }, "Clear")));
  return from === "now" ? [section] : [...section.childNodes];
}

/** #/streams/<project>/<stream>: what the stream's object holds, a send form, the live log. */
async function streamConsole(project, id) {
  const path = `streams/${encode(project)}/${encode(id)}`;
  let s;
  try {
    s = await api(path);
  } catch (e) {
    if (e.status !== 404) throw e;
    return [el("h1", {}, `${project} / ${id}`), el("p", { class: "error" }, e.message), createForm(path)];
  }
  // The figures (tail, readers, hot log) are read again every 5 s.
  figuresTimer = setInterval(() => refresh(path), 5_000);
  return [el("h1", {}, `${project} / ${id}`), el("div", { id: "figures" }, streamFigures(s)), sendForm(path, s.contentType),
    liveLog(project, id, s.contentType)];
}

/** The stream's figures and tables. */
function streamFigures(s) {
  const expiry = s.expiry ?? {};
  return [
    grid([
      ["Content Type", s.contentType],
      ["Tail Offset", s.tailOffset],
      ["Status", s.deleted ? "deleted (kept for forks)" : s.closed ? "closed" : "open"],
      ["Created", time(s.createdAt)],
      // Only a sliding TTL keeps the last activity; other streams are not written to on reads.
      ["Last activity", expiry.ttlSeconds === null || expiry.ttlSeconds === undefined ? "not kept (no TTL)" : time(s.touchedAt)],
      ["TTL", expiry.ttlSeconds === null || expiry.ttlSeconds === undefined ? "none" : `${expiry.ttlSeconds} s`],
      ["Expires", time(expiry.expiresAt)],
      ["Public", s.public ? "yes" : "no"],
      ["Last Stream-Seq", s.lastStreamSeq],
      ["Hot log", `${plural(s.hot?.messages ?? 0, "message")}, ${bytes(s.hot?.bytes ?? 0)}`],
      ["Long-poll readers", s.readers?.longPoll ?? 0],
      ["SSE readers", s.readers?.sse ?? 0],
    ]),
    s.closedBy ? el("p", { class: "muted" }, `Closed by producer ${s.closedBy.producerId} (epoch ${s.closedBy.epoch}, seq ${s.closedBy.seq})`) : null,
    el("h2", {}, "Segments"),
    table(["Read Seq", "Offset Range", "Log Bytes", "R2 Object", "Rows", "Created"],
      (s.segments ?? []).map((g) => [g.readSeq, `${g.startOffset} – ${g.endOffset}`, bytes(g.bytes), bytes(g.objectBytes), g.rows, time(g.createdAt)]),
      "No cold segments yet: everything is in the hot log."),
    s.segmentsTruncated ? el("p", { class: "muted" }, `The newest ${s.segments.length} of ${s.segmentsTotal} segments.`) : null,
    el("h2", {}, "Producers"),
    table(["ID", "Epoch", "Last Seq", "Last Offset", "Last Active"],
      (s.producers ?? []).map((p) => [p.id, p.epoch, p.lastSeq, p.lastOffset, time(p.lastActiveAt)]),
      "No idempotent producer has written here."),
    s.producersTruncated ? el("p", { class: "muted" }, "Only the first 1,000 producers, by id, are listed.") : null,
  ];
}

/** #/subscriptions: choose a project. */
function subscriptionsHome() {
  const project = el("input", { name: "project", placeholder: "Project", value: "_default", required: "" });
  const open = (event) => {
    event.preventDefault();
    location.hash = `#/subscriptions/${encode(project.value)}`;
  };
  return [el("h1", {}, "Subscriptions"), el("form", { class: "inline", onsubmit: open }, project, el("button", { type: "submit" }, "Open project"))];
}

/** A listing with a "More" button that fetches the next page after the last row. */
async function listing(path, headers, row, empty) {
  const body = el("tbody");
  const more = el("button", { type: "button" }, "More");
  const load = async (after) => {
    const page = await api(`${path}${after ? `?after=${encode(after)}` : ""}`);
    body.append(...page.items.map((item) => el("tr", {}, row(item).map((cell) => el("td", {}, cell ?? "—")))));
    more.hidden = !page.next;
    more.onclick = () => load(page.next);
    return page.items.length;
  };
  const first = await load(null);
  if (first === 0) return el("p", { class: "muted" }, empty);
  return el("div", {}, el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))), body), more);
}

const sum = (series, key) => series.reduce((total, minute) => total + (minute[key] ?? 0), 0);
const ms = (v) => (v === null || v === undefined ? "—" : `${v} ms`);

/** Sends a change to the API; a log line saying what came back (fan-out headers too). */
async function change(path, method, body, contentType = "application/json") {
  const response = await fetch(`/admin/api/${path}`, {
    method,
    headers: body === undefined ? {} : { "Content-Type": contentType },
    body,
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    return { ok: false, line: `${method} => ${response.status} ${answer?.error?.code ?? ""}: ${answer?.error?.message ?? ""}` };
  }
  const fanout = ["Count", "Successes", "Failures", "Mode"]
    .map((h) => [h, response.headers.get(`Stream-Fanout-${h}`)])
    .filter(([, v]) => v !== null)
    .map(([h, v]) => `Stream-Fanout-${h}: ${v}`);
  return { ok: true, line: [`${method} => ${response.status} OK`, ...fanout].join(", "), answer };
}

/** A form of labelled inputs that runs `act` and logs its line in `log`. */
function actionForm(title, fields, button, act, log) {
  const submit = async (event) => {
    event.preventDefault();
    const result = await act(Object.fromEntries(fields.map((f) => [f.name, f.value])));
    if (result && log) log.prepend(el("li", { class: result.ok ? "" : "error" }, result.line));
  };
  return el("form", { class: "stack", onsubmit: submit }, el("h2", {}, title), ...fields, el("button", { type: "submit" }, button));
}

/** #/subscriptions/<project>: the overview cards, the sessions and the sources. */
async function subscriptionsProject(project) {
  const base = `subscriptions/${encode(project)}`;
  const o = await api(base);
  const series = o.series ?? [];
  const sessions = await listing(`${base}/sessions`, ["Session ID", "Subscriptions", "Created", "Expires"],
    (s) => [el("a", { href: `#/subscriptions/${encode(project)}/sessions/${encode(s.sessionId)}` }, s.sessionId), s.subscriptions, time(s.createdAt), time(s.expiresAt)],
    "No sessions.");
  const sources = await listing(`${base}/sources`, ["Stream ID", "Subscribers", ""],
    (s) => [el("a", { href: `#/subscriptions/${encode(project)}/sources/${encode(s.streamId)}` }, s.streamId), s.subscribers,
      el("a", { href: `#/streams/${encode(project)}/${encode(s.streamId)}` }, "console")],
    "No stream has subscribers.");
  return [
    el("h1", {}, `Subscriptions: ${project}`),
    grid([
      ["Sessions", o.sessions],
      ["Subscriptions", o.subscriptions],
      ["Streams with subscribers", o.sources],
      ["Publishes (last hour)", sum(series, "publishes")],
      ["Publish errors (last hour)", sum(series, "publish_errors")],
      ["Fan-out latency p50 / p99", `${ms(o.fanout_p50_ms)} / ${ms(o.fanout_p99_ms)}`],
      ["Fan-out failures (last hour)", sum(series, "fanout_failures")],
      ["Queued sessions (last hour)", sum(series, "queued_sessions")],
      ["Expirations (last hour)", sum(series, "expirations")],
    ]),
    el("h2", {}, "Sessions"), sessions,
    el("h2", {}, "Streams with subscribers"), sources,
    ...subscriptionForms(project),
  ];
}

/** Subscribe a session (a new one by default) and publish, on a project's page. */
function subscriptionForms(project) {
  const base = `subscriptions/${encode(project)}`;
  const log = el("ul", { class: "log", id: "actions-log" });
  const subscribe = actionForm("Subscribe a Session", [
    el("input", { name: "sessionId", placeholder: "Session ID", value: crypto.randomUUID(), required: "" }),
    el("input", { name: "streamId", placeholder: "Stream ID", required: "" }),
  ], "Subscribe", (v) => change(`${base}/sessions/${encode(v.sessionId)}/subscribe`, "POST", JSON.stringify({ streamId: v.streamId })), log);
  const publish = actionForm("Publish", [
    el("input", { name: "streamId", placeholder: "Stream ID", required: "" }),
    el("select", { name: "contentType" }, ["application/json", "text/plain"].map((t) => el("option", { value: t }, t))),
    el("textarea", { name: "body", rows: "3", placeholder: '{"hello":"world"}' }),
  ], "Publish", (v) => change(`${base}/publish/${encode(v.streamId)}`, "POST", v.body, v.contentType), log);
  return [subscribe, publish, log];
}

/** #/subscriptions/<project>/sessions/<id>: one session and what it follows. */
async function sessionPage(project, id) {
  const base = `subscriptions/${encode(project)}/sessions/${encode(id)}`;
  const log = el("ul", { class: "log", id: "actions-log" });
  // Runs a change, logs it, and shows the session again (the log survives the redraw).
  const act = async (run) => {
    const result = await run();
    await render();
    document.getElementById("actions-log")?.prepend(el("li", { class: result.ok ? "" : "error" }, result.line));
  };
  let s;
  try {
    s = await api(base);
  } catch (e) {
    if (e.status !== 404) throw e;
    return [el("h1", {}, `Session ${id}`), el("p", { class: "error" }, e.message)];
  }
  const streamId = s.sessionStreamPath.split("/stream/")[1] ?? "";
  return [
    el("h1", {}, `Session ${s.sessionId}`),
    grid([
      ["Session stream", el("a", { href: `#/streams/${encode(project)}/${streamId}` }, s.sessionStreamPath)],
      ["Content Type", s.contentType],
      ["Expires", time(s.expiresAt)],
      ["Subscriptions", s.subscriptions.length],
    ]),
    el("h2", {}, "Subscriptions"),
    table(["Stream ID", "Subscribed", ""], s.subscriptions.map((sub) => [sub.streamId, time(sub.subscribedAt),
      el("button", { type: "button", onclick: () => act(() => change(`${base}/unsubscribe`, "POST", JSON.stringify({ streamId: sub.streamId }))) }, "Unsubscribe")]),
    "No active subscriptions."),
    actionForm("Add Subscription", [el("input", { name: "streamId", placeholder: "Stream ID", required: "" })], "Subscribe",
      (v) => act(() => change(`${base}/subscribe`, "POST", JSON.stringify({ streamId: v.streamId }))), null),
    el("div", { class: "buttons" },
      el("button", { type: "button", onclick: () => act(() => change(`${base}/touch`, "POST")) }, "Touch"),
      el("button", { type: "button", onclick: () => act(() => change(base, "DELETE")) }, "Delete session")),
    log,
  ];
}

/** #/subscriptions/<project>/sources/<stream>: who follows the stream, and since when. */
async function subscribersPage(project, stream) {
  const subscribers = await listing(`subscriptions/${encode(project)}/sources/${encode(stream)}`, ["Session ID", "Subscribed"],
    (s) => [el("a", { href: `#/subscriptions/${encode(project)}/sessions/${encode(s.sessionId)}` }, s.sessionId), time(s.subscribedAt)],
    "No session follows this stream.");
  return [
    el("h1", {}, `Subscribers of ${stream}`),
    el("p", {}, el("a", { href: `#/streams/${encode(project)}/${encode(stream)}` }, "Open the stream's console")),
    subscribers,
  ];
}

/** A secret shown once, just after it was made, with a Copy button. */
function secretBox(label, secret) {
  const status = el("span", { class: "muted" });
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      status.textContent = " copied";
    } catch {
      status.textContent = " select the text to copy it";
    }
  };
  return el("div", { class: "secret", id: "new-secret" }, el("p", {}, `${label} It is shown this once: store it now.`),
    el("code", {}, secret), el("div", { class: "buttons" }, el("button", { type: "button", onclick: copy }, "Copy"), status));
}

/** #/projects: the registry's projects, page by page; open one by id; create one. */
async function projectsPage() {
  const openId = el("input", { name: "project", placeholder: "Project ID", required: "" });
  const open = (event) => {
    event.preventDefault();
    location.hash = `#/projects/${encode(openId.value)}`;
  };
  const head = [el("h1", {}, "Projects"),
    el("form", { class: "inline", onsubmit: open }, openId, el("button", { type: "submit" }, "Open project"))];
  let first;
  try {
    first = await api("projects");
  } catch (e) {
    if (e.code !== "REGISTRY_UNCONFIGURED") throw e;
    return [...head, el("p", { class: "muted", id: "no-registry" }, e.message)];
  }
  const body = el("tbody");
  const more = el("button", { type: "button" }, "More");
  const show = (page) => {
    body.append(...page.projects.map((p) => el("tr", {}, [
      el("a", { href: `#/projects/${encode(p.id)}` }, p.id),
      p.public === undefined ? "—" : p.public ? "public" : "private",
      p.keys ?? "—", p.corsOrigins ?? "—",
    ].map((cell) => el("td", {}, cell)))));
    more.hidden = !page.cursor;
    more.onclick = async () => show(await api(`projects?cursor=${encode(page.cursor)}`));
  };
  show(first);
  const log = el("ul", { class: "log", id: "actions-log" });
  const create = actionForm("Create Project", [el("input", { name: "id", placeholder: "Project ID (A-Z a-z 0-9 _ -)", required: "" })],
    "Create project", async (v) => {
      const answer = await change("projects", "POST", JSON.stringify({ id: v.id }));
      if (answer.ok) {
        // The list shows it now; the secret is shown once, above it.
        await render();
        document.getElementById("created")?.replaceChildren(
          secretBox(`Project ${answer.answer.id} was created with this signing secret.`, answer.answer.newSecret),
          el("p", {}, el("a", { href: `#/projects/${encode(answer.answer.id)}` }, `Open ${answer.answer.id}`)));
      }
      return answer;
    }, log);
  const list = first.projects.length === 0
    ? el("p", { class: "muted" }, "The registry holds no project yet.")
    : el("div", {}, el("table", { id: "projects" }, el("thead", {}, el("tr", {},
      ["Project", "Reads", "Signing keys", "CORS origins"].map((h) => el("th", {}, h)))), body), more);
  return [...head, el("div", { id: "created" }), list, create, log];
}

/** #/projects/<id>: the project's settings (when there is a registry) and its streams. */
async function projectPage(id) {
  const base = `projects/${encode(id)}`;
  const log = el("ul", { class: "log", id: "actions-log" });
  // Runs a change, shows the project again, and logs the answer (and any new secret).
  const act = async (run) => {
    const result = await run();
    await render();
    document.getElementById("actions-log")?.prepend(el("li", { class: result.ok ? "" : "error" }, result.line));
    if (result.ok && result.answer?.newSecret) {
      document.getElementById("created")?.replaceChildren(secretBox("A new signing key was generated.", result.answer.newSecret));
    }
  };
  let settings;
  try {
    const p = await api(base);
    settings = [
      grid([["Reads", p.public ? "public: anyone may read" : "private: reads need a token"], ["Signing keys", p.keys.length], ["CORS origins", p.corsOrigins.length === 0 ? "the deployment's" : p.corsOrigins.length]]),
      el("div", { class: "buttons" },
        el("button", { type: "button", id: "toggle-public", onclick: () => act(() => change(`${base}/public`, "POST", JSON.stringify({ public: !p.public }))) },
          p.public ? "Make private" : "Make public")),
      el("div", { id: "created" }),
      el("h2", {}, "Signing Keys"),
      table(["Key ID", "Use", ""], p.keys.map((k) => [k.id, k.primary ? "signs new tokens" : "still accepted",
        el("button", { type: "button", onclick: () => act(() => change(`${base}/keys/${encode(k.id)}`, "DELETE")) }, "Revoke")]), "No keys."),
      el("div", { class: "buttons" }, el("button", { type: "button", onclick: () => act(() => change(`${base}/keys`, "POST")) }, "Generate key")),
      el("h2", {}, "CORS Origins"),
      table(["Origin", ""], p.corsOrigins.map((o) => [o,
        el("button", { type: "button", onclick: () => act(() => change(`${base}/origins/${encode(o)}`, "DELETE")) }, "Remove")]),
      "None of its own: the deployment's CORS_ORIGINS apply."),
      actionForm("Add Origin", [el("input", { name: "origin", placeholder: "https://example.com", required: "" })], "Add",
        (v) => act(() => change(`${base}/origins`, "POST", JSON.stringify({ origin: v.origin }))), null),
      log,
    ];
  } catch (e) {
    if (e.code !== "REGISTRY_UNCONFIGURED" && e.code !== "PROJECT_NOT_FOUND") throw e;
    settings = [el("p", { class: "muted", id: "no-settings" }, e.message)];
  }
  return [el("h1", {}, `Project ${id}`), ...settings, el("h2", {}, "Streams"), await projectStreams(id), newStreamForm(id)];
}

/** The project's streams, from its registry, with each stream's own figures. */
async function projectStreams(project) {
  const body = el("tbody");
  const more = el("button", { type: "button" }, "More");
  const count = el("p", { class: "muted" });
  const load = async (after) => {
    const page = await api(`projects/${encode(project)}/streams${after ? `?after=${encode(after)}` : ""}`);
    count.textContent = plural(page.total, "stream");
    body.append(...page.streams.map((s) => el("tr", {}, [
      el("a", { href: `#/streams/${encode(project)}/${encode(s.id)}` }, s.id), s.contentType,
      s.error ? el("span", { class: "error" }, s.error) : s.messages, s.bytes === null ? null : bytes(s.bytes),
      time(s.lastWriteAt), s.closed === null ? null : s.closed ? "closed" : "open",
    ].map((cell) => el("td", {}, cell ?? "—")))));
    more.hidden = !page.next;
    more.onclick = () => load(page.next);
    return page.streams.length;
  };
  if ((await load(null)) === 0) return el("p", { class: "muted", id: "streams" }, "No streams.");
  return el("div", {}, count, el("table", { id: "streams" }, el("thead", {}, el("tr", {},
    ["Stream ID", "Content Type", "Messages", "Bytes", "Last Write", "Status"].map((h) => el("th", {}, h)))), body), more);
}

/** Creates a stream of the project, with a content type and an optional first message. */
function newStreamForm(project) {
  const result = el("p", { class: "muted" });
  const form = actionForm("Create Stream", [
    el("input", { name: "id", placeholder: "Stream ID", required: "" }),
    el("select", { name: "contentType" }, ["application/json", "text/plain", "application/octet-stream"].map((t) => el("option", { value: t }, t))),
    el("textarea", { name: "first", rows: "3", placeholder: "First message (optional)" }),
  ], "Create stream", async (v) => {
    const answer = await send(`streams/${encode(project)}/${encode(v.id)}`, "PUT", v.contentType, v.first);
    if (answer.error) {
      result.className = "error";
      result.textContent = `CREATE => ${answer.status} ${answer.error.code}: ${answer.error.message}`;
    } else {
      await render();
    }
  }, null);
  form.append(result);
  return form;
}

const routes = [
  [/^#?\/?$/, home],
  [/^#\/streams\/([^/]+)\/(.+)$/, (p, s) => streamConsole(decodeURIComponent(p), decodeURIComponent(s))],
  [/^#\/projects\/?$/, projectsPage],
  [/^#\/projects\/([^/]+)$/, (p) => projectPage(decodeURIComponent(p))],
  [/^#\/subscriptions\/?$/, subscriptionsHome],
  [/^#\/subscriptions\/([^/]+)$/, (p) => subscriptionsProject(decodeURIComponent(p))],
  [/^#\/subscriptions\/([^/]+)\/sessions\/(.+)$/, (p, s) => sessionPage(decodeURIComponent(p), decodeURIComponent(s))],
  [/^#\/subscriptions\/([^/]+)\/sources\/(.+)$/, (p, s) => subscribersPage(decodeURIComponent(p), decodeURIComponent(s))],
];

async function render() {
  liveSource?.close();
  liveSource = null;
  clearInterval(figuresTimer);
  figuresTimer = null;
  const hash = location.hash || "#/";
  const match = routes.map(([re, page]) => [hash.match(re), page]).find(([m]) => m);
  try {
    const content = match ? await match[1](...match[0].slice(1)) : [el("h1", {}, "Not found"), el("p", { class: "muted" }, hash)];
    view.replaceChildren(...[content].flat(Infinity).filter(Boolean));
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
