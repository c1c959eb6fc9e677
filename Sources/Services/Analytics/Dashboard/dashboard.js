// The providers' and admins' dashboard: signs in with the platform's API, reads the analytics
// endpoints and draws the charts as SVG (no library, no build step). It reloads every
// `refresh` seconds (30 unless the page's URL says otherwise). The URL may also fix the range:
// ?from=2026-12-01&to=2026-12-02&granularity=hour.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const params = new URLSearchParams(location.search);
const refreshSeconds = Math.max(2, Number(params.get("refresh") || 30));
const sessionKey = "marketplace.dashboard.session";
const deviceKey = "marketplace.dashboard.device";
let session = JSON.parse(sessionStorage.getItem(sessionKey) || "null");
let timer = null;

const $ = (id) => document.getElementById(id);

// ---- the API --------------------------------------------------------------------------------

async function api(path, options = {}, retried = false) {
  const headers = { "Accept": "application/json", ...(options.headers || {}) };
  if (session) headers["Authorization"] = "Bearer " + session.accessToken;
  if (options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401 && session && !retried && (await refresh())) return api(path, options, true);
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error((body && (body.detail || body.title)) || response.statusText);
    error.status = response.status;
    throw error;
  }
  return body;
}

async function refresh() {
  try {
    const response = await fetch("/v1/auth/refresh", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refreshToken: session.refreshToken }),
    });
    if (!response.ok) return false;
    keep(await response.json());
    return true;
  } catch { return false; }
}

function keep(tokens) {
  session = { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, user: tokens.user };
  sessionStorage.setItem(sessionKey, JSON.stringify(session));
  // A known device is not throttled by other people's failed logins from the same address.
  if (tokens.deviceToken) localStorage.setItem(deviceKey, tokens.deviceToken);
}

function signOut() {
  if (session) fetch("/v1/auth/logout", { method: "POST", headers: { "Authorization": "Bearer " + session.accessToken } }).catch(() => {});
  session = null;
  sessionStorage.removeItem(sessionKey);
  clearInterval(timer);
  show();
}

// ---- the range ------------------------------------------------------------------------------

function range() {
  const granularity = params.get("granularity") || $("granularity").value;
  if (params.get("from") && params.get("to")) return { from: params.get("from"), to: params.get("to"), granularity };
  const days = Number($("period").value);
  const to = new Date();
  const from = new Date(to.getTime() - days * 86400000);
  return { from: from.toISOString().slice(0, 19) + "Z", to: to.toISOString().slice(0, 19) + "Z", granularity };
}

function query(r) { return "from=" + encodeURIComponent(r.from) + "&to=" + encodeURIComponent(r.to) + "&granularity=" + r.granularity; }

// ---- charts ---------------------------------------------------------------------------------

function element(name, attributes = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (parent) parent.appendChild(node);
  return node;
}

// Points are labelled in the series' time zone (a provider's own; UTC for the platform).
let seriesZone = "UTC";
function label(date, granularity) {
  const options = granularity === "hour" ? { hour: "2-digit", minute: "2-digit", hourCycle: "h23" } : { month: "2-digit", day: "2-digit" };
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone: seriesZone, ...options }).format(new Date(date));
  } catch {
    return new Date(date).toISOString().slice(granularity === "hour" ? 11 : 5, granularity === "hour" ? 16 : 10);
  }
}

const geometry = { width: 600, height: 200, left: 64, right: 8, top: 14, bottom: 26 };

// Axis labels stay short (the caption names the unit): 1200 → 1.2k.
function compact(v) {
  const n = Number(v);
  if (Math.abs(n) >= 1000) return (n / 1000).toFixed(n % 1000 ? 1 : 0) + "k";
  return Number.isInteger(n) ? String(n) : n.toFixed(n < 1 ? 2 : 1);
}

function frame(svg, values, format) {
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${geometry.width} ${geometry.height}`);
  const max = Math.max(0, ...values.filter((v) => v != null));
  const top = max > 0 ? max : 1;
  const plotHeight = geometry.height - geometry.top - geometry.bottom;
  const y = (v) => geometry.top + plotHeight - (v / top) * plotHeight;
  element("line", { class: "axis", x1: geometry.left, x2: geometry.width - geometry.right, y1: y(0), y2: y(0) }, svg);
  const axis = format === percent ? percent : compact;
  element("text", { class: "tick", x: geometry.left - 6, y: y(top) + 5, "text-anchor": "end" }, svg).textContent = axis(top);
  element("text", { class: "tick", x: geometry.left - 6, y: y(0), "text-anchor": "end" }, svg).textContent = axis(0);
  if (!values.some((v) => v != null && v !== 0)) {
    element("text", { class: "empty", x: geometry.width / 2, y: geometry.height / 2, "text-anchor": "middle" }, svg).textContent = "no data in this period";
  }
  return y;
}

function xTicks(svg, points, x, granularity) {
  const every = Math.max(1, Math.ceil(points.length / 8));
  points.forEach((p, i) => {
    if (i % every) return;
    element("text", { class: "tick", x: x(i), y: geometry.height - 8, "text-anchor": "middle" }, svg).textContent = label(p.start, granularity);
  });
}

// One bar per point: `data-start` and `data-value` carry what it shows.
function barChart(svg, points, value, granularity, format = String) {
  const values = points.map(value);
  const y = frame(svg, values, format);
  const slot = (geometry.width - geometry.left - geometry.right) / Math.max(1, points.length);
  const x = (i) => geometry.left + slot * i + slot / 2;
  points.forEach((p, i) => {
    const v = values[i] || 0;
    const bar = element("rect", {
      class: "bar", x: geometry.left + slot * i + slot * 0.15, width: Math.max(1, slot * 0.7),
      y: y(v), height: Math.max(0, y(0) - y(v)), "data-start": p.start, "data-value": String(v),
    }, svg);
    element("title", {}, bar).textContent = `${label(p.start, granularity)}: ${format(v)}`;
  });
  xTicks(svg, points, x, granularity);
}

// A line through the points that have a value; one circle per such point.
function lineChart(svg, points, value, granularity, format = String) {
  const values = points.map(value);
  const y = frame(svg, values, format);
  const slot = (geometry.width - geometry.left - geometry.right) / Math.max(1, points.length);
  const x = (i) => geometry.left + slot * i + slot / 2;
  const known = points.map((p, i) => [i, values[i]]).filter(([, v]) => v != null);
  if (known.length > 1) element("polyline", { class: "line", points: known.map(([i, v]) => `${x(i)},${y(v)}`).join(" ") }, svg);
  for (const [i, v] of known) {
    const dot = element("circle", { class: "point", cx: x(i), cy: y(v), r: 3.5, "data-start": points[i].start, "data-value": String(v) }, svg);
    element("title", {}, dot).textContent = `${label(points[i].start, granularity)}: ${format(v)}`;
  }
  xTicks(svg, points, x, granularity);
}

function cards(container, entries) {
  container.replaceChildren(...entries.map(([name, key, value]) => {
    const card = document.createElement("div");
    card.className = "card";
    card.dataset.metric = key;
    card.innerHTML = '<div class="label"></div><div class="value"></div>';
    card.querySelector(".label").textContent = name;
    card.querySelector(".value").textContent = value;
    return card;
  }));
}

const percent = (v) => (v == null ? "–" : (v * 100).toFixed(v * 100 % 1 ? 1 : 0) + "%");
const money = (list) => (list.length ? list.map((m) => `${m.amount} ${m.currency}`).join(" · ") : "–");
// The amount of `currency` in a list of money (0 when absent).
const amountIn = (list, currency) => Number((list.find((m) => m.currency === currency) || { amount: 0 }).amount);

// ---- views ----------------------------------------------------------------------------------

async function loadProvider(r) {
  const series = await api("/v1/providers/me/analytics?" + query(r));
  seriesZone = series.timeZone || "UTC";
  const t = series.totals;
  const currency = (t.earnings[0] || {}).currency;
  cards($("provider-totals"), [
    ["Offers received", "offersReceived", t.offersReceived],
    ["Acceptance", "acceptanceRate", percent(t.acceptanceRate)],
    ["Jobs completed", "jobsCompleted", t.jobsCompleted],
    ["Earnings (net)", "earningsNet", money(t.earnings.map((e) => e.net))],
    ["Rating", "rating", t.ratingAverage == null ? "–" : `${t.ratingAverage} (${t.ratingCount})`],
    ["Repeat clients", "repeatClientJobs", t.repeatClientJobs],
  ]);
  $("caption-earnings").textContent = currency ? `Earnings (net, ${currency})` : "Earnings (net)";
  barChart($("chart-earnings"), series.points, (p) => (currency ? amountIn(p.earnings.map((e) => e.net), currency) : 0), series.granularity,
    (v) => (currency ? `${Number(v).toFixed(2)} ${currency}` : String(v)));
  barChart($("chart-jobs"), series.points, (p) => p.jobsCompleted, series.granularity);
  lineChart($("chart-acceptance"), series.points, (p) => p.acceptanceRate, series.granularity, percent);
  lineChart($("chart-rating"), series.points, (p) => p.ratingAverage, series.granularity, (v) => Number(v).toFixed(2));
}

async function loadAdmin(r) {
  const [series, areas] = await Promise.all([
    api("/v1/admin/analytics/overview?" + query(r) + (params.get("category") ? "&category=" + encodeURIComponent(params.get("category")) : "")),
    api("/v1/admin/analytics/areas?from=" + encodeURIComponent(r.from) + "&to=" + encodeURIComponent(r.to)),
  ]);
  seriesZone = "UTC";
  const t = series.totals;
  const currency = (t.gmv[0] || {}).currency;
  cards($("admin-totals"), [
    ["Requests", "requests", t.requests],
    ["Fill rate", "fillRate", percent(t.fillRate)],
    ["Unfulfilled", "unfulfilledRate", percent(t.unfulfilledRate)],
    ["Time to match p50", "timeToMatchP50", t.timeToMatchP50Ms == null ? "–" : (t.timeToMatchP50Ms / 1000).toFixed(1) + " s"],
    ["GMV", "gmv", money(t.gmv)],
    ["Revenue", "revenue", money(t.revenue)],
    ["Providers online", "onlineProviders", t.onlineProviders],
  ]);
  barChart($("chart-requests"), series.points, (p) => p.requests, series.granularity);
  lineChart($("chart-fill"), series.points, (p) => p.fillRate, series.granularity, percent);
  lineChart($("chart-match"), series.points, (p) => (p.timeToMatchP50Ms == null ? null : p.timeToMatchP50Ms / 1000), series.granularity, (v) => Number(v).toFixed(1));
  $("caption-gmv").textContent = currency ? `GMV (${currency})` : "GMV";
  barChart($("chart-gmv"), series.points, (p) => (currency ? amountIn(p.gmv, currency) : 0), series.granularity,
    (v) => (currency ? `${Number(v).toFixed(2)} ${currency}` : String(v)));
  barChart($("chart-online"), series.points, (p) => p.onlineProviders, series.granularity);
  drawAreas(areas.areas);
}

// Geohash cells placed where they are: longitude across, latitude up.
function geohashBounds(hash) {
  const alphabet = "0123456789bcdefghjkmnpqrstuvwxyz";
  let lat = [-90, 90], lng = [-180, 180], even = true;
  for (const c of hash) {
    const bits = alphabet.indexOf(c);
    for (let b = 4; b >= 0; b--) {
      const range = even ? lng : lat;
      const mid = (range[0] + range[1]) / 2;
      if ((bits >> b) & 1) range[0] = mid; else range[1] = mid;
      even = !even;
    }
  }
  return { lat, lng };
}

function drawAreas(areas) {
  const svg = $("areas-map");
  svg.replaceChildren();
  const width = 600, height = 360;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const body = $("areas-table").querySelector("tbody");
  body.replaceChildren();
  if (!areas.length) {
    element("text", { class: "empty", x: width / 2, y: height / 2, "text-anchor": "middle" }, svg).textContent = "no areas in this period";
    return;
  }
  const cells = areas.map((a) => ({ ...a, bounds: geohashBounds(a.geohash) }));
  const minLng = Math.min(...cells.map((c) => c.bounds.lng[0])), maxLng = Math.max(...cells.map((c) => c.bounds.lng[1]));
  const minLat = Math.min(...cells.map((c) => c.bounds.lat[0])), maxLat = Math.max(...cells.map((c) => c.bounds.lat[1]));
  const scale = Math.min((width - 20) / (maxLng - minLng), (height - 20) / (maxLat - minLat));
  const worst = Math.max(1, ...cells.map((c) => (c.onlineProviders ? c.demandPerProvider : c.requests)));
  for (const c of cells) {
    // Red where requests outnumber online providers, green where supply covers demand.
    const pressure = c.onlineProviders ? c.demandPerProvider / worst : (c.requests ? 1 : 0);
    const hue = 120 - 120 * Math.min(1, pressure);
    const x = 10 + (c.bounds.lng[0] - minLng) * scale, y = 10 + (maxLat - c.bounds.lat[1]) * scale;
    const w = (c.bounds.lng[1] - c.bounds.lng[0]) * scale, h = (c.bounds.lat[1] - c.bounds.lat[0]) * scale;
    const cell = element("rect", {
      class: "area", x, y, width: w, height: h, fill: `hsl(${hue}, 65%, 45%)`,
      "data-geohash": c.geohash, "data-requests": c.requests, "data-online": c.onlineProviders, "data-fill": c.fillRate == null ? "" : c.fillRate,
    }, svg);
    element("title", {}, cell).textContent = `${c.geohash}: ${c.requests} requests, ${c.onlineProviders} online, fill ${percent(c.fillRate)}`;
    if (w > 40) element("text", { class: "area-label", x: x + 4, y: y + 12 }, svg).textContent = c.geohash;
    const row = document.createElement("tr");
    row.dataset.geohash = c.geohash;
    for (const v of [c.geohash, c.requests, c.onlineProviders, percent(c.fillRate), c.demandPerProvider == null ? "–" : c.demandPerProvider]) {
      const td = document.createElement("td");
      td.textContent = v;
      row.appendChild(td);
    }
    body.appendChild(row);
  }
}

// ---- the page -------------------------------------------------------------------------------

async function load() {
  if (!session) return;
  try {
    const r = range();
    if (session.user.role === "provider") await loadProvider(r);
    else if (session.user.role === "admin") await loadAdmin(r);
    $("load-error").textContent = "";
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.loads = String(Number(document.body.dataset.loads) + 1);
  } catch (error) {
    if (error.status === 401) return signOut();
    $("load-error").textContent = error.message;
  }
}

function show() {
  const role = session && session.user.role;
  $("sign-in").hidden = !!session;
  $("who").hidden = !session;
  $("controls").hidden = !(role === "provider" || role === "admin");
  $("provider").hidden = role !== "provider";
  $("admin").hidden = role !== "admin";
  $("not-for-you").hidden = !session || role === "provider" || role === "admin";
  document.body.dataset.view = role || "signed-out";
  if (!session) return;
  $("who-name").textContent = `${session.user.name} (${role})`;
  load();
  clearInterval(timer);
  timer = setInterval(load, refreshSeconds * 1000);
}

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  $("sign-in-error").textContent = "";
  try {
    const deviceToken = localStorage.getItem(deviceKey);
    keep(await api("/v1/auth/login", {
      method: "POST",
      body: JSON.stringify({ email: form.get("email"), password: form.get("password"), ...(deviceToken ? { deviceToken } : {}) }),
    }));
    show();
  } catch (error) {
    $("sign-in-error").textContent = error.message;
  }
});
$("sign-out").addEventListener("click", signOut);
$("period").addEventListener("change", load);
$("granularity").addEventListener("change", load);
if (params.get("granularity")) $("granularity").value = params.get("granularity");
if (params.get("from") && params.get("to")) {
  // The URL fixes the range: show it instead of offering a period.
  const period = $("period");
  period.replaceChildren(new Option(`${params.get("from")} – ${params.get("to")}`, "fixed", true, true));
  period.disabled = true;
}
show();
