// sluice's web console: a client of the REST API on the same origin
// (GET /pipelines, /pipelines/NAME, /pipelines/NAME/history; the action
// buttons). No framework. Text from the API is always set as text
// (textContent), never parsed as HTML.
"use strict";

(function () {
  const api = new URL("../", document.baseURI); // the console is served on /console/
  const every = 2000; // ms between refreshes
  const colors = ["#2a6fdb", "#1f8a4c", "#b7791f", "#c53030", "#6b46c1", "#2c7a7b", "#d53f8c", "#4a5568"];
  const svgNS = "http://www.w3.org/2000/svg";
  let selected = decodeURIComponent(location.hash.slice(1));
  let timer = null;
  let busy = false;
  let actedAt = 0; // when an action's outcome was shown: it stays a while

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const e = tag.startsWith("svg:") ? document.createElementNS(svgNS, tag.slice(4)) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.setAttribute("class", v);
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  }

  // request calls the API; it resolves to the parsed JSON body (null when
  // there is none) and rejects with the API's error message.
  async function request(method, path, body) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    const resp = await fetch(new URL(path, api), init);
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!resp.ok) {
      const msg = data && data.message ? data.message : text.trim() || resp.statusText;
      throw new Error(`${method} /${path}: ${resp.status} ${msg}`);
    }
    return data;
  }

  function showMessage(text, info) {
    const m = $("message");
    m.textContent = text;
    m.className = info ? "message info" : "message";
    m.hidden = !text;
  }

  // ---- formatting ----
  function num(v, digits) {
    if (v === undefined || v === null || isNaN(v)) return "–";
    return Number(v).toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 1 : digits });
  }
  function duration(s) {
    if (s === undefined || s === null || isNaN(s)) return "–";
    s = Math.max(0, Math.round(s));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
    return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
  }
  function bytes(v) {
    if (typeof v !== "number") return String(v);
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return `${num(v, i ? 1 : 0)} ${units[i]}`;
  }
  function since(t) {
    if (!t) return "";
    const d = new Date(t);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour12: false });
  }

  // ---- the list ----
  function renderList(list) {
    const tbody = $("pipelines").tBodies[0];
    tbody.replaceChildren();
    $("no-pipelines").hidden = list.length > 0;
    for (const p of list) {
      const tr = el("tr", { "data-name": p.name },
        el("td", { text: p.name }),
        el("td", {}, el("span", { class: `state ${p.state}`, text: p.state })),
        el("td", { text: p.kind === "connector" && p.connector ? `connector ${p.connector}` : p.kind }),
        el("td", { class: "num", text: String(p.restarts) }),
        el("td", { text: since(p.since) }));
      if (p.name === selected) tr.classList.add("selected");
      tr.addEventListener("click", () => select(p.name));
      tbody.append(tr);
    }
  }

  function select(name) {
    selected = name;
    history.replaceState(null, "", `#${encodeURIComponent(name)}`);
    refresh();
  }

  // ---- the graph ----
  // matches tells whether an input (a node's name, a stream's name, a glob)
  // names what the node called name produces.
  function matches(input, name) {
    if (input === name || input.startsWith(name + ".")) return true;
    if (!/[*?[]/.test(input)) return false;
    const re = new RegExp("^" + input.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
    return re.test(name) || re.test(name + ".x");
  }

  function renderGraph(info) {
    const nodes = [];
    const byName = new Map();
    const add = (n, kind) => {
      const node = { name: n.name, type: n.type, kind, inputs: n.inputs || [], col: 0 };
      nodes.push(node);
      byName.set(n.name, node);
    };
    info.sources.forEach((n) => add(n, "source"));
    info.processors.forEach((n) => add(n, "processor"));
    info.sinks.forEach((n) => add(n, "sink"));
    const edges = [];
    for (const n of nodes) {
      if (n.kind === "source") continue;
      for (const input of n.inputs) {
        for (const m of nodes) {
          if (m !== n && m.kind !== "sink" && matches(input, m.name)) edges.push([m, n]);
        }
      }
    }
    // Columns: sources first, each processor after its inputs, sinks last.
    for (let pass = 0; pass < nodes.length; pass++) {
      for (const [a, b] of edges) {
        if (b.kind === "processor" && b.col < a.col + 1) b.col = Math.min(a.col + 1, nodes.length);
      }
    }
    const lastCol = Math.max(0, ...nodes.filter((n) => n.kind !== "sink").map((n) => n.col)) + 1;
    nodes.filter((n) => n.kind === "sink").forEach((n) => { n.col = lastCol; });
    const cols = [];
    for (const n of nodes) (cols[n.col] = cols[n.col] || []).push(n);
    const w = 170, h = 44, gx = 60, gy = 18;
    const rows = Math.max(1, ...cols.map((c) => (c ? c.length : 0)));
    const width = (lastCol + 1) * w + lastCol * gx + 20, height = rows * h + (rows - 1) * gy + 20;
    // Drawn at its natural size, shrunk (never grown) to fit the panel.
    const svg = el("svg:svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": "pipeline graph" });
    cols.forEach((c, ci) => (c || []).forEach((n, ri) => {
      n.x = 10 + ci * (w + gx);
      n.y = 10 + ri * (h + gy) + (rows - c.length) * (h + gy) / 2;
    }));
    for (const [a, b] of edges) {
      const x1 = a.x + w, y1 = a.y + h / 2, x2 = b.x, y2 = b.y + h / 2, mx = (x1 + x2) / 2;
      svg.append(el("svg:path", { class: "edge", d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, "marker-end": "url(#arrow)", "data-from": a.name, "data-to": b.name }));
    }
    const defs = el("svg:defs", {}, el("svg:marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "6", markerHeight: "6", orient: "auto" },
      el("svg:path", { d: "M0,0 L10,5 L0,10 z", fill: "#8a94a8" })));
    svg.prepend(defs);
    for (const n of nodes) {
      const g = el("svg:g", { class: `node ${n.kind}`, "data-node": n.name, "data-kind": n.kind, transform: `translate(${n.x},${n.y})` },
        el("svg:rect", { width: w, height: h, rx: 5 }),
        el("svg:text", { x: 10, y: 18, text: n.name }),
        el("svg:text", { x: 10, y: 34, class: "type", text: `${n.kind} · ${n.type}` }));
      svg.append(g);
    }
    $("graph").replaceChildren(svg);
  }

  // ---- charts ----
  function renderChart(svg, series, unit, span) {
    // Drawn in the element's own pixels, so the labels are not stretched.
    const W = Math.max(svg.clientWidth, 100), H = Math.max(svg.clientHeight, 60);
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.replaceChildren();
    let maxV = 0, n = 0;
    for (const s of series) { n = Math.max(n, s.values.length); for (const v of s.values) maxV = Math.max(maxV, v); }
    maxV = maxV > 0 ? maxV * 1.1 : 1;
    svg.append(el("svg:text", { x: 4, y: 12, text: unit === "bytes" ? bytes(maxV) : `${num(maxV, maxV < 10 ? 2 : 1)} ${unit}` }));
    if (span > 0) {
      svg.append(el("svg:text", { x: 4, y: H - 4, text: `−${duration(span)}` }));
      svg.append(el("svg:text", { x: W - 4, y: H - 4, "text-anchor": "end", text: "now" }));
    }
    series.forEach((s, i) => {
      if (s.values.length === 0) return;
      const pts = s.values.map((v, j) => {
        const x = n > 1 ? (j + n - s.values.length) * W / (n - 1) : W;
        return `${x.toFixed(1)},${(H - (v / maxV) * (H - 16)).toFixed(1)}`;
      });
      svg.append(el("svg:polyline", { points: pts.join(" "), stroke: colors[i % colors.length], "data-series": s.name }));
    });
  }

  function renderHistory(hist) {
    const samples = hist ? hist.samples : [];
    const last = samples.length ? samples[samples.length - 1] : { sources: {}, sinks: {} };
    const names = (k) => [...new Set(samples.flatMap((s) => Object.keys(s[k] || {})))].sort();
    const srcs = names("sources"), sinks = names("sinks");
    const series = [];
    srcs.forEach((n) => series.push({ name: n, values: samples.map((s) => (s.sources[n] || {}).events_per_second || 0) }));
    sinks.forEach((n) => series.push({ name: n, values: samples.map((s) => (s.sinks[n] || {}).written_per_second || 0) }));

    const tbody = $("throughput").tBodies[0];
    tbody.replaceChildren();
    series.forEach((s, i) => {
      const isSrc = i < srcs.length;
      const pt = isSrc ? last.sources[s.name] || {} : last.sinks[s.name] || {};
      tbody.append(el("tr", { "data-node": s.name },
        el("td", {}, el("span", { class: "swatch", "data-color": colors[i % colors.length] }), `${isSrc ? "source" : "sink"} ${s.name}`),
        el("td", { class: "num rate", text: num(isSrc ? pt.events_per_second : pt.written_per_second) }),
        el("td", { class: "num total", text: num(isSrc ? pt.events : pt.written, 0) }),
        el("td", { class: "num lag", text: isSrc ? `${num(pt.lag_seconds, 2)} s` : "" }),
        el("td", { class: "num", text: isSrc ? duration(pt.checkpoint_age_seconds) : (pt.write_errors ? `${num(pt.write_errors, 0)} failed writes` : "") })));
      // A source's streams (tables): their own rates; the lag and the
      // checkpoint are the source's.
      for (const [sn, sp] of Object.entries(isSrc ? pt.streams || {} : {}).sort()) {
        tbody.append(el("tr", { class: "stream", "data-stream": sn },
          el("td", { text: `stream ${sn}` }),
          el("td", { class: "num rate", text: num(sp.events_per_second) }),
          el("td", { class: "num total", text: num(sp.events, 0) }),
          el("td", {}), el("td", {})));
      }
    });
    for (const sw of tbody.querySelectorAll(".swatch")) sw.style.background = sw.dataset.color;
    // The charts after the table: its width is theirs.
    const span = samples.length > 1 ? (new Date(samples[samples.length - 1].at) - new Date(samples[0].at)) / 1000 : 0;
    renderChart($("throughput-chart"), series, "events/s", span);
    renderChart($("lag-chart"), srcs.map((n) => ({ name: n, values: samples.map((s) => (s.sources[n] || {}).lag_seconds || 0) })), "s lag", span);

    const snaps = hist ? Object.entries(hist.snapshots || {}) : [];
    $("snapshots-panel").hidden = snaps.length === 0;
    $("snapshots").replaceChildren(...snaps.sort().map(([src, sp]) => {
      const pct = sp.rows_estimated > 0 ? Math.min(100, (100 * sp.rows_read) / sp.rows_estimated) : null;
      const bar = el("div", { class: "bar" }, el("div", {}));
      bar.firstChild.style.width = `${pct === null ? 0 : pct}%`;
      const eta = sp.eta_seconds === null || sp.eta_seconds === undefined ? "time left unknown" : `about ${duration(sp.eta_seconds)} left`;
      const total = sp.rows_estimated > 0 ? ` of ~${num(sp.rows_estimated, 0)} (${num(pct, 0)}%)` : "";
      return el("div", { class: "progress", "data-source": src },
        el("div", { class: "text", text: `${src}: ${num(sp.rows_read, 0)} rows${total}, ${num(sp.rows_per_second)} rows/s, ${eta}` }), bar);
    }));

    renderGauges(samples, srcs);
    const errs = hist ? hist.errors || [] : [];
    return errs;
  }

  // ---- the sources' own gauges (the PostgreSQL slot's retained WAL),
  // sampled while the console reads the history ----
  function gaugeName(g) {
    return g.replace(/^sluice_/, "").replace(/_/g, " ");
  }
  function renderGauges(samples, srcs) {
    const keys = [];
    for (const src of srcs) {
      const names = new Set(samples.flatMap((s) => Object.keys((s.sources[src] || {}).gauges || {})));
      [...names].sort().forEach((g) => keys.push([src, g]));
    }
    $("gauges-panel").hidden = keys.length === 0;
    if (keys.length === 0) return;
    const withGauges = samples.filter((s) => srcs.some((src) => (s.sources[src] || {}).gauges));
    const last = withGauges[withGauges.length - 1];
    const span = withGauges.length > 1 ? (new Date(last.at) - new Date(withGauges[0].at)) / 1000 : 0;
    const series = keys.filter(([, g]) => g.endsWith("_bytes")).map(([src, g]) => ({
      name: `${src} ${g}`, values: withGauges.map((s) => ((s.sources[src] || {}).gauges || {})[g] || 0) }));
    $("gauges").tBodies[0].replaceChildren(...keys.map(([src, g]) => {
      const v = ((last.sources[src] || {}).gauges || {})[g];
      return el("tr", { "data-source": src, "data-gauge": g },
        el("td", { text: src }), el("td", { text: gaugeName(g) }),
        el("td", { class: "num value", text: v === undefined ? "–" : g.endsWith("_bytes") ? bytes(v) : num(v) }));
    }));
    renderChart($("gauges-chart"), series, "bytes", span); // after the table: its width is the chart's
  }

  // ---- slots (the status's slots field, when the server has one) ----
  function renderSlots(slots) {
    const panel = $("slots-panel");
    if (!slots || (Array.isArray(slots) && slots.length === 0) || typeof slots !== "object") { panel.hidden = true; return; }
    panel.hidden = false;
    const rows = Array.isArray(slots) ? slots : Object.entries(slots).map(([k, v]) => (typeof v === "object" && v ? { name: k, ...v } : { name: k, value: v }));
    const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    const cell = (k, v) => {
      if (v === undefined || v === null) return "";
      if (typeof v === "number" && /bytes|wal|size/i.test(k)) return bytes(v);
      if (typeof v === "string" && /_at$/.test(k)) return since(v) || v;
      if (typeof v === "object") return JSON.stringify(v);
      return String(v);
    };
    $("slots").replaceChildren(el("table", {},
      el("thead", {}, el("tr", {}, ...keys.map((k) => el("th", { text: k.replace(/_/g, " ") })))),
      el("tbody", {}, ...rows.map((r) => el("tr", {}, ...keys.map((k) => el("td", { text: cell(k, r[k]) })))))));
  }

  function renderErrors(status, errs) {
    // The current failure is among the last errors even when the pipeline
    // failed before it had metrics (or between two samples).
    if (status.error && !errs.some((e) => e.kind === "failed" && e.message === status.error)) {
      errs = errs.concat([{ at: status.since, kind: "failed", message: status.error }]);
    }
    const list = errs.slice().reverse(); // newest first
    $("errors").replaceChildren(...list.map((e) => el("li", { "data-kind": e.kind },
      el("div", { class: "context", text: `${since(e.at)} · ${e.kind === "retry" ? `${e.node}: write failed, retry ${e.attempt}` : "pipeline failed"}` }),
      el("div", { class: "text", text: e.message }))));
    $("no-errors").hidden = list.length > 0;
    const cur = $("error");
    cur.textContent = status.error ? `${status.state}: ${status.error}` : "";
    cur.hidden = !status.error;
  }

  async function renderDetail() {
    const d = $("detail");
    if (!selected) { d.hidden = true; return; }
    const path = `pipelines/${encodeURIComponent(selected)}`;
    const info = await request("GET", path);
    let hist = null;
    try { hist = await request("GET", `${path}/history`); } catch (e) { hist = null; } // not started yet
    d.hidden = false;
    $("name").textContent = info.name;
    const st = $("state");
    st.textContent = info.state;
    st.className = `state ${info.state}`;
    $("origin").textContent = info.kind === "connector" ? `connector ${info.connector || ""}` : info.file || "";
    $("pause").disabled = info.state !== "RUNNING";
    $("resume").disabled = info.state === "RUNNING" || info.state === "RESTARTING";
    renderGraph(info);
    const errs = renderHistory(hist);
    renderSlots(info.slots);
    renderErrors(info, errs);
  }

  let again = false; // a refresh was asked while one ran
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    again = false;
    clearTimeout(timer);
    try {
      const list = await request("GET", "pipelines");
      if (!selected && list.length) selected = list[0].name;
      if (selected && !list.some((p) => p.name === selected)) selected = list.length ? list[0].name : "";
      renderList(list);
      await renderDetail();
      $("updated").textContent = `updated ${new Date().toLocaleTimeString([], { hour12: false })}`;
      if (Date.now() - actedAt > 10000) showMessage("");
    } catch (e) {
      showMessage(e.message);
    } finally {
      busy = false;
      timer = setTimeout(refresh, again ? 0 : every);
    }
  }

  async function act(method, verb, body) {
    const name = selected;
    if (!name) return;
    actedAt = Date.now();
    try {
      await request(method, `pipelines/${encodeURIComponent(name)}/${verb}`, body);
      showMessage(`${verb} ${name}: accepted`, true);
    } catch (e) {
      showMessage(e.message);
      return;
    }
    refresh();
  }

  $("pause").addEventListener("click", () => act("PUT", "pause"));
  $("resume").addEventListener("click", () => act("PUT", "resume"));
  $("restart").addEventListener("click", () => act("POST", "restart"));
  $("snapshot").addEventListener("click", () => {
    const tables = $("snapshot-tables").value.split(",").map((s) => s.trim()).filter(Boolean);
    act("POST", "snapshot", tables.length ? { tables } : {});
  });
  window.addEventListener("hashchange", () => { selected = decodeURIComponent(location.hash.slice(1)); refresh(); });
  refresh();
})();
