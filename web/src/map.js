// The public map: poles as clustered markers coloured by the chosen layer (air quality,
// EV chargers, Wi-Fi, street lights), a side panel per pole with its latest readings and
// charts, a district view of the official statistics, live updates over Server-Sent
// Events. Every domain rule (index bands, units, limits, licence) comes from the page
// configuration the server builds from its catalogue (GET /v1/map/config).
import "leaflet/dist/leaflet.css";
import "leaflet.markercluster/dist/MarkerCluster.css";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import L from "./leaflet-global.js";
import "leaflet.markercluster";
import uPlot from "uplot";
import { pickLanguage, translator } from "./i18n.js";

const CONFIG = JSON.parse(document.getElementById("smartpole-config").textContent);
const LANG_KEY = "smartpole.lang";
const LAYERS = ["aqi", "ev", "wifi", "lamps"];
const LAYER_CAPABILITY = { aqi: "env", ev: "ev", wifi: "wifi", lamps: "light" };
// Presentation only: colours of the non-index layers, each with a text colour that
// keeps 4.5:1 contrast, and a symbol so that colour is never the only signal.
const STATE_STYLE = {
  free: ["#1a7f37", "#fff", "F"],
  charging: ["#0b5cad", "#fff", "C"],
  faulted: ["#b00020", "#fff", "!"],
  unavailable: ["#595959", "#fff", "–"],
  up: ["#1a7f37", "#fff", "↑"],
  down: ["#b00020", "#fff", "↓"],
  ok: ["#595959", "#fff", "✓"],
  on: ["#ffd24d", "#000", "☀"],
  defective: ["#b00020", "#fff", "!"],
  day_burner: ["#f5a623", "#000", "D"],
  none: ["#e0e0e0", "#000", "·"],
  unknown: ["#e0e0e0", "#000", "?"],
};

const state = {
  lang: pickLanguage(safeStorage("get"), navigator.languages || [navigator.language]),
  layer: "aqi",
  freeNow: false,
  poles: new Map(),
  markers: new Map(),
  openPole: null,
  openDistricts: false,
  live: "off",
};
let t = translator(state.lang);

function safeStorage(op, value) {
  try {
    if (op === "get") return window.localStorage.getItem(LANG_KEY);
    window.localStorage.setItem(LANG_KEY, value);
  } catch {
    return null;
  }
  return null;
}

// --- tiny DOM helpers (no innerHTML with data) -------------------------------------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

async function getJson(url) {
  const response = await fetch(url, { cache: "no-cache", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

const numberFormat = () => new Intl.NumberFormat(state.lang, { maximumFractionDigits: 2 });
function formatNumber(value) {
  return value === null || value === undefined ? "–" : numberFormat().format(value);
}
function formatTime(iso) {
  if (!iso) return "–";
  return new Intl.DateTimeFormat(state.lang, {
    dateStyle: "short",
    timeStyle: "medium",
    timeZone: CONFIG.time_zone,
  }).format(new Date(iso));
}

// --- the index, from the configuration ---------------------------------------------
const bands = new Map(CONFIG.aqi.bands.map((b) => [b.level, b]));
function bandLabel(level) {
  const band = bands.get(level);
  return band ? band.label[state.lang] || band.label.en : t("aqi_unknown");
}
function textColourOn(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  const lin = (c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const luminance = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  return luminance > 0.179 ? "#000" : "#fff";
}

// --- what a marker shows in each layer ---------------------------------------------
function markerLook(pole) {
  const has = (pole.capabilities || []).includes(LAYER_CAPABILITY[state.layer]);
  if (!has) return { style: STATE_STYLE.none, label: t("not_equipped"), key: "none" };
  if (state.layer === "aqi") {
    const level = pole.aqi ? pole.aqi.band : null;
    if (!level) return { style: STATE_STYLE.unknown, label: `${t("layer_aqi")}: ${t("aqi_unknown")}`, key: "aqi-none" };
    const colour = bands.get(level).colour;
    return {
      style: [colour, textColourOn(colour), String(level)],
      label: `${t("layer_aqi")}: ${bandLabel(level)} (${level}/6)`,
      key: `aqi-${level}`,
    };
  }
  if (state.layer === "ev") {
    const groups = pole.connectors.map((c) => c.group);
    const key = groups.includes("free")
      ? "free"
      : groups.includes("charging")
        ? "charging"
        : groups.includes("faulted")
          ? "faulted"
          : "unavailable";
    const counts = ["free", "charging", "faulted", "unavailable"]
      .map((g) => [g, groups.filter((x) => x === g).length])
      .filter(([, n]) => n > 0)
      .map(([g, n]) => `${n} ${t(`ev_${g}`)}`);
    return {
      style: STATE_STYLE[key],
      label: `${t("layer_ev")}: ${counts.join(", ") || t("no_reading")}`,
      key: `ev-${key}`,
    };
  }
  if (state.layer === "wifi") {
    if (!pole.wifi) return { style: STATE_STYLE.none, label: t("no_reading"), key: "wifi-none" };
    const key = pole.wifi.status === "up" ? "up" : "down";
    const [bg, fg] = STATE_STYLE[key];
    const clients = pole.wifi.connected_clients;
    return {
      style: [bg, fg, key === "up" && clients !== null ? String(clients) : STATE_STYLE[key][2]],
      label: `${t("layer_wifi")}: ${t(`wifi_${key}`)}${
        clients !== null ? `, ${clients} ${t("wifi_clients")}` : ""
      }`,
      key: `wifi-${key}`,
    };
  }
  if (!pole.lamp) return { style: STATE_STYLE.none, label: t("no_reading"), key: "lamp-none" };
  const key = pole.lamp.defective
    ? "defective"
    : pole.lamp.day_burner
      ? "day_burner"
      : ["on", "low"].includes(pole.lamp.power_state)
        ? "on"
        : "ok";
  const words = {
    defective: t("lamp_defective"),
    day_burner: t("lamp_day_burner"),
    on: t("lamp_on"),
    ok: `${t("lamp_ok")}, ${t("lamp_off")}`,
  };
  return { style: STATE_STYLE[key], label: `${t("layer_lamps")}: ${words[key]}`, key: `lamp-${key}` };
}

function visible(pole) {
  if (pole.latitude === null || pole.longitude === null) return false;
  if (state.layer === "ev" && state.freeNow) return pole.connectors.some((c) => c.group === "free");
  return true;
}

// --- the map ---------------------------------------------------------------------------
let map;
let cluster;
let districtLayer;

function buildMap() {
  map = L.map("map", { zoomControl: true, attributionControl: true, keyboard: true, maxZoom: 19, minZoom: 3 });
  map.attributionControl.setPrefix(false);
  if (CONFIG.tiles) {
    L.tileLayer(CONFIG.tiles.url, { attribution: CONFIG.tiles.attribution, maxZoom: 19 }).addTo(map);
  } else {
    document.getElementById("map").classList.add("no-tiles");
  }
  cluster = L.markerClusterGroup({
    showCoverageOnHover: false,
    maxClusterRadius: 50,
    iconCreateFunction(group) {
      const n = group.getChildCount();
      // The ring shows the most telling member: the worst air, a free charger, a hotspot
      // down, a defective lamp; its words go into the cluster's name.
      const looks = group.getAllChildMarkers().map((m) => m.options.look).filter(Boolean);
      const top = looks.reduce((a, b) => (lookRank(b) > lookRank(a) ? b : a), looks[0]);
      const ring = top && lookRank(top) > 0 ? top.style[0] : "#ffffff";
      const summary = top && lookRank(top) > 0 ? top.label : "";
      return L.divIcon({
        className: "pole-cluster",
        html: `<span class="cluster-count" data-count="${n}" data-summary="${escapeAttr(summary)}" style="box-shadow: 0 0 0 4px ${ring}, 0 0 0 5px #1f3a5f">${n}</span>`,
        iconSize: [36, 36],
      });
    },
  });
  cluster.on("clusterkeypress", (event) => {
    if (event.originalEvent && event.originalEvent.key === "Enter") event.layer.zoomToBounds();
  });
  cluster.on("animationend", labelClusters);
  // For the browser tests and the screenshot command (tests/support/web.py).
  window.smartpoleMap = map;
  map.on("zoomend moveend", labelClusters);
  map.addLayer(cluster);
}

// Which look a cluster shows (higher wins).
const RANKS = {
  ev: { free: 4, charging: 3, faulted: 2, unavailable: 1 },
  wifi: { down: 2, up: 1 },
  lamp: { defective: 4, day_burner: 3, on: 2, ok: 1 },
};
function lookRank(look) {
  const [layer, value] = look.key.split("-");
  if (layer === "aqi") return Number(value) || 0;
  return (RANKS[layer] || {})[value] || 0;
}

function escapeAttr(text) {
  return String(text).replace(/[&"<>]/g, (c) => ({ "&": "&amp;", '"': "&quot;", "<": "&lt;", ">": "&gt;" })[c]);
}

function labelClusters() {
  // Text alternative for cluster icons: "12 poles", and what its ring shows.
  for (const el of document.querySelectorAll(".pole-cluster")) {
    const count = el.querySelector(".cluster-count");
    if (!count) continue;
    const summary = count.dataset.summary ? `. ${count.dataset.summary}` : "";
    el.setAttribute("aria-label", `${t("poles_shown", { n: count.dataset.count })}${summary}`);
    el.setAttribute("role", "button");
  }
}

function markerIcon(look) {
  const [bg, fg, symbol] = look.style;
  const span = `<span class="pm" style="background:${bg};color:${fg}">${symbol}</span>`;
  return L.divIcon({ className: `pole-marker look-${look.key}`, html: span, iconSize: [28, 28] });
}

function markerLabel(pole, look) {
  return `${t("pole")} ${pole.pole_id}${pole.name ? ` (${pole.name})` : ""}${
    look.label ? `. ${look.label}` : ""
  }`;
}

// The icon element of a marker (made anew by Leaflet on setIcon and on each add): its
// name for screen readers, and Enter / Space to open the pole.
function decorate(marker, poleId, label) {
  const el = marker.getElement();
  if (!el) return;
  el.dataset.poleId = poleId;
  el.setAttribute("aria-label", label);
  el.setAttribute("role", "button");
  if (el.dataset.keys) return;
  el.dataset.keys = "1";
  el.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      openPole(poleId, marker);
    }
  });
}

function renderMarkers() {
  cluster.clearLayers();
  state.markers.clear();
  const markers = [];
  for (const pole of state.poles.values()) {
    if (!visible(pole)) continue;
    const look = markerLook(pole);
    const marker = L.marker([pole.latitude, pole.longitude], {
      icon: markerIcon(look),
      keyboard: true,
      title: pole.name || pole.pole_id,
      look,
    });
    const label = markerLabel(pole, look);
    marker.on("add", () => decorate(marker, pole.pole_id, label));
    marker.on("click", () => openPole(pole.pole_id, marker));
    state.markers.set(pole.pole_id, marker);
    markers.push(marker);
  }
  cluster.addLayers(markers);
  labelClusters();
  renderPoleList();
  document.getElementById("count").textContent = t("poles_shown", { n: markers.length });
}

function updatePoleMarker(pole) {
  const marker = state.markers.get(pole.pole_id);
  if (!marker || !visible(pole)) {
    renderMarkers();
    return;
  }
  const look = markerLook(pole);
  marker.options.look = look;
  marker.setIcon(markerIcon(look));
  decorate(marker, pole.pole_id, markerLabel(pole, look));
  cluster.refreshClusters(marker);
  renderPoleList();
}

async function drawDistricts() {
  let outlines = { features: [] };
  try {
    outlines = await getJson("/v1/map/districts.geojson");
  } catch {
    // The poles still show without outlines.
  }
  // Labels below the markers (markerPane is 600), above the outlines.
  map.createPane("districtLabels").style.zIndex = 450;
  districtLayer = L.geoJSON(outlines, {
    style: { color: "#1f3a5f", weight: 2, fillColor: "#dfe7f1", fillOpacity: CONFIG.tiles ? 0 : 0.6 },
    interactive: false,
  });
  districtLayer.eachLayer((layer) => {
    const name = layer.feature.properties.name;
    layer.bindTooltip(name, {
      permanent: !CONFIG.tiles,
      direction: "center",
      className: "district-label",
      pane: "districtLabels",
    });
  });
  districtLayer.addTo(map);
  return outlines.features.length ? districtLayer.getBounds() : null;
}

function fitAll(districtBounds) {
  const points = [...state.poles.values()]
    .filter((p) => p.latitude !== null && p.longitude !== null)
    .map((p) => [p.latitude, p.longitude]);
  let bounds = points.length ? L.latLngBounds(points) : null;
  if (districtBounds) bounds = bounds ? bounds.extend(districtBounds) : districtBounds;
  if (bounds && bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20] });
  else map.setView([51.0, 10.0], 6);
}

// --- side panel ------------------------------------------------------------------------
const panel = () => document.getElementById("panel");
let returnFocus = null;

function showPanel(title, ...content) {
  const el = panel();
  el.replaceChildren(
    h(
      "div",
      { class: "panel-head" },
      h("h2", { id: "panel-title", tabindex: "-1" }, title),
      h("button", { type: "button", class: "close", "aria-label": t("close"), onclick: closePanel }, "×"),
    ),
    ...content,
  );
  el.hidden = false;
  document.body.classList.add("panel-open");
  el.querySelector("#panel-title").focus();
}

function closePanel() {
  panel().hidden = true;
  document.body.classList.remove("panel-open");
  state.openPole = null;
  state.openDistricts = false;
  const marker = returnFocus;
  returnFocus = null;
  if (marker && marker.getElement && marker.getElement()) marker.getElement().focus();
  else if (marker instanceof HTMLElement) marker.focus();
}

function licenceLine() {
  return h(
    "p",
    { class: "licence" },
    `${t("licence")}: `,
    h("a", { href: CONFIG.license.url, rel: "license" }, CONFIG.license.id),
  );
}

function metricSpec(family, metric) {
  return (CONFIG.metrics[family] || []).find((m) => m.metric === metric);
}

// A dimensionless fraction ("1") is shown as a bare number.
const shownUnit = (unit) => (unit && unit !== "1" ? ` ${unit}` : "");
// State fields shown beside the measurements (their words are the vocabulary's).
const STATE_FIELDS = { light: ["lamp_status", "power_state"], wifi: ["status"] };

function readingRows(family, reading) {
  if (!reading) return [];
  const states = (STATE_FIELDS[family] || [])
    .filter((name) => reading[name] !== undefined && reading[name] !== null)
    .map((name) =>
      h(
        "tr",
        { "data-family": family, "data-state": name },
        h("th", { scope: "row" }, `${t(`layer_${family === "light" ? "lamps" : family}`)}: ${name}`),
        h("td", null, String(reading[name])),
        h("td", null, h("time", { datetime: reading.observed_at }, formatTime(reading.observed_at))),
      ),
    );
  const measured = (CONFIG.metrics[family] || [])
    .filter((m) => reading[m.metric] !== undefined)
    .map((m) =>
      h(
        "tr",
        { "data-family": family, "data-metric": m.metric },
        h("th", { scope: "row", title: m.description }, m.title),
        h(
          "td",
          { class: "value", "data-value": reading[m.metric] === null ? "" : reading[m.metric] },
          `${formatNumber(reading[m.metric])}${reading[m.metric] !== null ? shownUnit(m.unit) : ""}`,
        ),
        h("td", null, h("time", { datetime: reading.observed_at }, formatTime(reading.observed_at))),
      ),
    );
  return [...measured, ...states];
}

function aqiSection(pole) {
  if (!pole.aqi) return null;
  const level = pole.aqi.band;
  const band = bands.get(level);
  return h(
    "section",
    { class: "aqi", "aria-labelledby": "aqi-h" },
    h("h3", { id: "aqi-h" }, t("aqi_title")),
    h(
      "p",
      { class: "aqi-band", "data-band": level ?? "" },
      band
        ? h("span", { class: "swatch", style: `background:${band.colour}`, "aria-hidden": "true" })
        : null,
      ` ${bandLabel(level)}${level ? ` (${level}/6)` : ""}`,
    ),
    h(
      "ul",
      { class: "aqi-pollutants" },
      pole.aqi.pollutants.map((p) => {
        const spec = CONFIG.aqi.pollutants.find((x) => x.pollutant === p.pollutant);
        const how = p.averaging === "24h_running_mean" ? t("running_mean") : t("hourly_mean");
        const hours = p.valid_hours !== undefined ? `, ${p.valid_hours}/24 ${t("valid_hours")}` : "";
        return h(
          "li",
          { "data-pollutant": p.pollutant },
          `${spec ? spec.display : p.pollutant} (${how}${hours}): `,
          p.value === null ? t("no_data") : `${formatNumber(p.value)} µg/m³ – ${bandLabel(p.band)}`,
          p.at ? ` (${formatTime(p.at)})` : "",
        );
      }),
    ),
    h("p", { class: "indicative" }, h("strong", null, `${t("indicative")}: `), CONFIG.aqi.indicative_notice),
    h("p", { class: "small" }, t("band_version", { version: CONFIG.aqi.version })),
  );
}

function connectorTable(latestEv, pole) {
  if (!latestEv.length && !pole.connectors.length) return null;
  const info = new Map(pole.connectors.map((c) => [c.connector_id, c]));
  return h(
    "table",
    { class: "connectors" },
    h("caption", null, t("layer_ev")),
    h(
      "tr",
      null,
      h("th", { scope: "col" }, t("connector")),
      h("th", { scope: "col" }, t("status")),
      h("th", { scope: "col" }, t("plug")),
      h("th", { scope: "col" }, t("power")),
    ),
    pole.connectors.map((c) =>
      h(
        "tr",
        { "data-connector": c.connector_id, "data-group": c.group },
        h("td", null, String(c.connector_id)),
        h("td", null, `${t(`ev_${c.group}`)} (${c.status})`),
        h("td", null, (info.get(c.connector_id) || {}).plug_type || "–"),
        h("td", null, c.max_power_kw ? `${formatNumber(c.max_power_kw)} kW` : "–"),
      ),
    ),
  );
}

async function openPole(poleId, marker) {
  returnFocus = marker || document.activeElement;
  state.openPole = poleId;
  state.openDistricts = false;
  const pole = state.poles.get(poleId);
  showPanel(`${t("pole")} ${poleId}`, h("p", { class: "loading" }, t("loading")));
  await renderPolePanel(poleId, pole);
}

async function renderPolePanel(poleId, pole) {
  let latest;
  try {
    latest = await getJson(`/v1/poles/${encodeURIComponent(poleId)}/latest`);
  } catch {
    latest = { env: null, light: null, wifi: null, ev: [], status: "unknown" };
  }
  if (state.openPole !== poleId) return;
  const families = [
    ["env", latest.env],
    ["light", latest.light],
    ["wifi", latest.wifi],
  ];
  const rows = families.flatMap(([family, reading]) => readingRows(family, reading));
  const chartChoices = families
    .filter(([, reading]) => reading)
    .flatMap(([family]) => (CONFIG.metrics[family] || []).map((m) => [family, m]));
  const select = h(
    "select",
    { id: "chart-metric", onchange: () => drawCharts(poleId, select.value) },
    chartChoices.map(([family, m]) =>
      h("option", { value: `${family}/${m.metric}` }, `${m.title}${shownUnit(m.unit) ? ` (${m.unit})` : ""}`),
    ),
  );
  const title = h("h2", { id: "panel-title", tabindex: "-1" }, `${t("pole")} ${poleId}`);
  const content = [
    h(
      "p",
      { class: "pole-meta" },
      pole && pole.name ? `${pole.name} · ` : "",
      pole && pole.district ? `${t("district")}: ${pole.district} · ` : "",
      `${t("status")}: `,
      h("span", { "data-status": latest.status }, t(latest.status) || latest.status),
    ),
    pole ? aqiSection(pole) : null,
    rows.length
      ? h(
          "table",
          { class: "latest", id: "latest-table" },
          h("caption", null, t("latest")),
          h(
            "tr",
            null,
            h("th", { scope: "col" }, t("metric")),
            h("th", { scope: "col" }, t("value")),
            h("th", { scope: "col" }, t("time")),
          ),
          rows,
        )
      : h("p", null, t("no_reading")),
    pole ? connectorTable(latest.ev || [], pole) : null,
    pole && pole.lamp && (pole.lamp.defective || pole.lamp.day_burner)
      ? h("p", { class: "report" }, t("report_hint"))
      : null,
    chartChoices.length
      ? h(
          "section",
          { class: "charts", "aria-labelledby": "charts-h" },
          h("h3", { id: "charts-h" }, h("label", { for: "chart-metric" }, t("chart_metric")), " ", select),
          h("h4", null, t("last_24h")),
          h("div", { id: "chart-24h", class: "chart", role: "img", "aria-label": `${t("last_24h")}: ${t("loading")}` }),
          h("h4", null, t("last_7d")),
          h("div", { id: "chart-7d", class: "chart", role: "img", "aria-label": `${t("last_7d")}: ${t("loading")}` }),
          h("p", { id: "chart-links", class: "links" }),
        )
      : null,
    licenceLine(),
  ];
  const el = panel();
  el.replaceChildren(
    h(
      "div",
      { class: "panel-head" },
      title,
      h("button", { type: "button", class: "close", "aria-label": t("close"), onclick: closePanel }, "×"),
    ),
    ...content.filter(Boolean),
  );
  el.hidden = false;
  if (chartChoices.length) await drawCharts(poleId, select.value);
}

const charts = [];
async function drawCharts(poleId, choice) {
  const [family, metric] = choice.split("/");
  const spec = metricSpec(family, metric) || { title: metric, unit: "" };
  const now = Date.now();
  const base = `/v1/poles/${encodeURIComponent(poleId)}/series/${family}/${metric}`;
  const windows = [
    ["chart-24h", new Date(now - 24 * 3600e3), "5min", t("last_24h")],
    ["chart-7d", new Date(now - 7 * 24 * 3600e3), "hour", t("last_7d")],
  ];
  while (charts.length) charts.pop().destroy();
  for (const [id, from, interval, label] of windows) {
    const target = document.getElementById(id);
    if (!target) return;
    let points = [];
    try {
      const series = await getJson(`${base}?from=${encodeURIComponent(from.toISOString())}&interval=${interval}&agg=avg&limit=5000`);
      points = series.points;
    } catch {
      points = [];
    }
    if (state.openPole !== poleId) return;
    target.replaceChildren();
    const values = points.filter((p) => p.value !== null);
    target.setAttribute(
      "aria-label",
      values.length
        ? `${spec.title}, ${label}: ${values.length} values, min ${formatNumber(Math.min(...values.map((p) => p.value)))}, max ${formatNumber(Math.max(...values.map((p) => p.value)))} ${spec.unit || ""}`
        : `${spec.title}, ${label}: ${t("no_data")}`,
    );
    if (!values.length) {
      target.append(h("p", { class: "no-data" }, t("no_data")));
      continue;
    }
    const data = [points.map((p) => Date.parse(p.time) / 1000), points.map((p) => p.value)];
    const width = Math.max(240, Math.min(target.clientWidth || 320, 420));
    charts.push(
      new uPlot(
        {
          width,
          height: 150,
          legend: { show: false },
          scales: { x: { time: true } },
          axes: [{}, { label: spec.unit || "", size: 50 }],
          series: [{}, { label: spec.title, stroke: "#0b5cad", width: 2, spanGaps: false }],
          tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), CONFIG.time_zone),
        },
        data,
        target,
      ),
    );
  }
  const links = document.getElementById("chart-links");
  if (links) {
    const from = encodeURIComponent(new Date(now - 7 * 24 * 3600e3).toISOString());
    links.replaceChildren(
      h("a", { href: `${base}?from=${from}&interval=hour` }, t("api_json")),
      " · ",
      h("a", { href: `${base}/export.csv?from=${from}` }, t("api_csv")),
    );
  }
}

// --- district view ----------------------------------------------------------------------
async function openDistricts(trigger) {
  returnFocus = trigger;
  state.openPole = null;
  state.openDistricts = true;
  showPanel(t("district_view"), h("p", { class: "loading" }, t("loading")));
  const year = new Date().getFullYear();
  const limits = CONFIG.limits.standards;
  let yearly = { items: [] };
  try {
    yearly = await getJson(`/v1/air-quality/statistics/districts?year=${year}`);
  } catch {
    // shown as "no statistics"
  }
  const today = await todayByDistrict(limits);
  if (!state.openDistricts) return;
  const zones = yearly.items.filter((z) => z.measurement === "indicative");
  const names = [...new Set([...zones.map((z) => z.zone), ...Object.keys(today)])].sort();
  const sections = names.map((name) => {
    const zone = zones.find((z) => z.zone === name);
    const stats = zone ? zone.statistics.filter((s) => s.in_force) : [];
    return h(
      "section",
      { class: "district", "data-district": name },
      h("h3", null, name),
      h(
        "table",
        null,
        h("caption", null, t("today")),
        h("tr", null, h("th", { scope: "col" }, t("statistic")), h("th", { scope: "col" }, t("value")), h("th", { scope: "col" }, t("limit"))),
        (today[name] || []).length ? null : h("tr", null, h("td", { colspan: "3" }, t("no_data"))),
        (today[name] || []).map((row) =>
          h(
            "tr",
            { class: row.over ? "over" : null },
            h("td", null, row.label),
            h("td", null, `${formatNumber(row.value)} µg/m³${row.over ? " ▲" : ""}`),
            h("td", null, `${formatNumber(row.threshold)} µg/m³`),
          ),
        ),
      ),
      h(
        "table",
        null,
        h("caption", null, t("this_year", { year })),
        h("tr", null, h("th", { scope: "col" }, t("statistic")), h("th", { scope: "col" }, t("worst")), h("th", { scope: "col" }, t("limit")), h("th", { scope: "col" }, t("verdict"))),
        stats.length ? null : h("tr", null, h("td", { colspan: "4" }, t("no_statistics"))),
        stats.map((s) =>
          h(
            "tr",
            { "data-key": s.key },
            h("td", null, s.key),
            h("td", null, s.worst_published === null ? "–" : formatNumber(s.worst_published)),
            h("td", null, `${formatNumber(s.threshold)}${s.allowed_exceedances !== null ? ` (${s.allowed_exceedances}×)` : ""}`),
            h("td", null, s.verdict),
          ),
        ),
      ),
    );
  });
  const el = panel();
  const head = el.querySelector(".panel-head");
  el.replaceChildren(
    head,
    sections.length ? h("div", null, sections) : h("p", null, t("no_districts")),
    h("p", { class: "small" }, t("today_note")),
    h("p", { class: "small" }, `${CONFIG.limits.rule_set}. ${CONFIG.limits.time_convention}`),
    zones.length ? h("p", { class: "indicative" }, zones[0].notice) : null,
    licenceLine(),
  );
}

async function todayByDistrict(limits) {
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  const wanted = limits.filter(
    (s) => ["daily_mean", "hourly_mean"].includes(s.indicator) && s.objective === "limit value",
  );
  const out = {};
  for (const pollutant of [...new Set(wanted.map((s) => s.pollutant))]) {
    let points = [];
    try {
      const series = await getJson(
        `/v1/aggregates/env/${pollutant}?group=district&interval=hour&agg=avg&from=${encodeURIComponent(midnight.toISOString())}&limit=5000`,
      );
      points = series.points.filter((p) => p.value !== null && p.group);
    } catch {
      continue;
    }
    const display = (CONFIG.aqi.pollutants.find((p) => p.pollutant === pollutant) || {}).display || pollutant;
    const byDistrict = {};
    for (const p of points) (byDistrict[p.group] ||= []).push(p.value);
    for (const [district, values] of Object.entries(byDistrict)) {
      for (const standard of wanted.filter((s) => s.pollutant === pollutant)) {
        const value =
          standard.indicator === "daily_mean"
            ? values.reduce((a, b) => a + b, 0) / values.length
            : Math.max(...values);
        (out[district] ||= []).push({
          label: `${display} ${standard.indicator === "daily_mean" ? t("daily_mean") : t("max_hourly")}`,
          value,
          threshold: standard.threshold,
          over: value > standard.threshold,
        });
      }
    }
  }
  return out;
}

// --- nearest free charger -------------------------------------------------------------
function announce(text) {
  document.getElementById("announce").textContent = text;
}

function nearestFree() {
  if (!navigator.geolocation) {
    announce(`${t("geo_denied")} ${t("geo_hint")}`);
    return;
  }
  navigator.geolocation.getCurrentPosition(
    async (position) => {
      const { latitude, longitude } = position.coords;
      const free = CONFIG.ev.free.join(",");
      let found;
      try {
        const page = await getJson(
          `/v1/ev/connectors?status=${encodeURIComponent(free)}&lat=${latitude}&lon=${longitude}&limit=1`,
        );
        found = page.items[0];
      } catch {
        found = null;
      }
      if (!found) {
        announce(t("no_free"));
        return;
      }
      announce(
        t("located", {
          pole: found.pole_id,
          connector: found.connector_id,
          distance: Math.round(found.distance_m ?? 0),
        }),
      );
      const pole = state.poles.get(found.pole_id);
      if (pole && pole.latitude !== null) {
        map.setView([pole.latitude, pole.longitude], Math.max(map.getZoom(), 17));
        const marker = state.markers.get(found.pole_id);
        openPole(found.pole_id, marker);
      }
    },
    () => announce(`${t("geo_denied")} ${t("geo_hint")}`),
    { enableHighAccuracy: false, timeout: 10000, maximumAge: 60000 },
  );
}

// --- keyboard-friendly list of poles (a text alternative to the map) ---------------------
function renderPoleList() {
  const list = document.getElementById("pole-list");
  if (!list) return;
  const items = [...state.poles.values()].filter(visible).map((pole) =>
    h(
      "li",
      null,
      h(
        "button",
        { type: "button", "data-pole-id": pole.pole_id, onclick: (e) => openPole(pole.pole_id, e.currentTarget) },
        `${pole.pole_id}${pole.district ? ` (${pole.district})` : ""}${markerLook(pole).label ? ` – ${markerLook(pole).label}` : ""}`,
      ),
    ),
  );
  list.replaceChildren(...items);
}

// --- legend ------------------------------------------------------------------------------
function renderLegend() {
  const legend = document.getElementById("legend");
  let entries;
  if (state.layer === "aqi") {
    entries = CONFIG.aqi.bands.map((b) => [b.colour, textColourOn(b.colour), String(b.level), bandLabel(b.level)]);
    entries.push([...STATE_STYLE.unknown, t("aqi_unknown")]);
  } else if (state.layer === "ev") {
    entries = ["free", "charging", "faulted", "unavailable"].map((k) => [...STATE_STYLE[k], t(`ev_${k}`)]);
  } else if (state.layer === "wifi") {
    entries = [
      [...STATE_STYLE.up.slice(0, 2), "12", `${t("wifi_up")} (${t("wifi_clients")})`],
      [...STATE_STYLE.down, t("wifi_down")],
    ];
  } else {
    entries = [
      [...STATE_STYLE.ok, `${t("lamp_ok")}, ${t("lamp_off")}`],
      [...STATE_STYLE.on, t("lamp_on")],
      [...STATE_STYLE.defective, t("lamp_defective")],
      [...STATE_STYLE.day_burner, t("lamp_day_burner")],
    ];
  }
  entries.push([...STATE_STYLE.none, t("not_equipped")]);
  legend.replaceChildren(
    h("h2", null, t("legend")),
    h(
      "ul",
      null,
      entries.map(([bg, fg, symbol, text]) =>
        h("li", null, h("span", { class: "pm", style: `background:${bg};color:${fg}`, "aria-hidden": "true" }, symbol), ` ${text}`),
      ),
    ),
    ...(state.layer === "aqi" ? [h("p", { class: "small" }, t("band_version", { version: CONFIG.aqi.version }))] : []),
  );
}

// --- live updates (Server-Sent Events) ---------------------------------------------------
const pending = new Set();
let flushTimer = null;

function setLive(status) {
  state.live = status;
  const el = document.getElementById("live");
  el.dataset.live = status;
  el.textContent = { on: t("live_on"), off: t("live_off"), reconnecting: t("live_reconnecting") }[status];
}

function queueRefresh(poleIds) {
  for (const id of poleIds) pending.add(id);
  if (flushTimer === null) flushTimer = setTimeout(flushRefresh, CONFIG.live.refetch_delay_ms);
}

async function flushRefresh() {
  flushTimer = null;
  const ids = [...pending].slice(0, 100);
  for (const id of ids) pending.delete(id);
  if (pending.size) flushTimer = setTimeout(flushRefresh, CONFIG.live.refetch_delay_ms);
  if (!ids.length) return;
  let page;
  try {
    page = await getJson(`/v1/map/poles?pole_id=${ids.map(encodeURIComponent).join(",")}`);
  } catch {
    return;
  }
  for (const item of page.items) {
    state.poles.set(item.pole_id, item);
    updatePoleMarker(item);
    if (state.openPole === item.pole_id) renderPolePanel(item.pole_id, item);
  }
}

async function reloadAll() {
  const page = await getJson("/v1/map/poles");
  state.poles = new Map(page.items.map((p) => [p.pole_id, p]));
  renderMarkers();
  if (state.openPole && state.poles.has(state.openPole)) {
    renderPolePanel(state.openPole, state.poles.get(state.openPole));
  }
}

function connectLive() {
  if (typeof EventSource === "undefined") {
    setLive("off");
    return;
  }
  const source = new EventSource("/v1/stream");
  source.addEventListener("open", () => setLive("on"));
  source.addEventListener("reading", (event) => {
    try {
      const data = JSON.parse(event.data);
      if (data.pole_id) queueRefresh([data.pole_id]);
    } catch {
      // a malformed event changes nothing
    }
  });
  source.addEventListener("status", (event) => {
    try {
      const data = JSON.parse(event.data);
      queueRefresh(data.pole_ids || (data.pole_id ? [data.pole_id] : []));
    } catch {
      // ignored
    }
  });
  for (const name of ["dropped", "reset"]) {
    source.addEventListener(name, () => {
      reloadAll().catch(() => {});
    });
  }
  source.addEventListener("error", () => {
    setLive(source.readyState === EventSource.CLOSED ? "off" : "reconnecting");
  });
}

// --- page --------------------------------------------------------------------------------
function buildPage() {
  document.documentElement.lang = state.lang;
  document.title = t("title");
  const layerButtons = LAYERS.map((layer) =>
    h(
      "label",
      { class: "layer" },
      h("input", {
        type: "radio",
        name: "layer",
        value: layer,
        checked: state.layer === layer,
        onchange: () => {
          state.layer = layer;
          document.body.dataset.layer = layer;
          renderMarkers();
          renderLegend();
        },
      }),
      ` ${t(`layer_${layer}`)}`,
    ),
  );
  const app = document.getElementById("app");
  app.replaceChildren(
    h("a", { class: "skip", href: "#pole-list-section" }, t("skip")),
    h(
      "header",
      null,
      h("h1", null, t("title")),
      h(
        "div",
        { class: "controls" },
        h("fieldset", { class: "layers" }, h("legend", null, t("layers")), layerButtons),
        h(
          "div",
          { class: "ev-controls" },
          h(
            "label",
            null,
            h("input", {
              type: "checkbox",
              id: "free-now",
              checked: state.freeNow,
              onchange: (e) => {
                state.freeNow = e.currentTarget.checked;
                renderMarkers();
              },
            }),
            ` ${t("free_now")}`,
          ),
          h("button", { type: "button", id: "nearest", onclick: nearestFree }, t("nearest")),
        ),
        h("button", { type: "button", id: "districts", onclick: (e) => openDistricts(e.currentTarget) }, t("districts")),
        h(
          "label",
          { class: "lang" },
          `${t("language")} `,
          h(
            "select",
            {
              id: "lang",
              onchange: (e) => {
                state.lang = e.currentTarget.value;
                safeStorage("set", state.lang);
                t = translator(state.lang);
                relabel();
              },
            },
            h("option", { value: "de", selected: state.lang === "de" }, "Deutsch"),
            h("option", { value: "en", selected: state.lang === "en" }, "English"),
          ),
        ),
        h("span", { id: "count", class: "count", "aria-live": "polite" }),
        h("span", { id: "live", class: "live", role: "status", "data-live": state.live }),
      ),
      h("p", { id: "announce", class: "announce", role: "status", "aria-live": "polite" }),
    ),
    h(
      "main",
      null,
      h("div", { id: "map", role: "region", "aria-label": t("title") }),
      h("aside", { id: "panel", hidden: true, "aria-labelledby": "panel-title", tabindex: "-1" }),
      h("aside", { id: "legend", class: "legend", "aria-label": t("legend") }),
    ),
    h(
      "section",
      { id: "pole-list-section", "aria-labelledby": "pole-list-h" },
      h("details", null, h("summary", { id: "pole-list-h" }, t("pole_list")), h("ul", { id: "pole-list" })),
    ),
  );
  document.body.dataset.layer = state.layer;
}

function relabel() {
  // Rebuild what carries words; the map and its markers stay.
  const mapEl = document.getElementById("map");
  const panelWasOpen = state.openPole;
  const districtsWereOpen = state.openDistricts;
  mapEl.remove();
  buildPage();
  document.getElementById("map").replaceWith(mapEl);
  mapEl.setAttribute("aria-label", t("title"));
  map.invalidateSize();
  setLive(state.live);
  renderMarkers();
  renderLegend();
  if (panelWasOpen) openPole(panelWasOpen, state.markers.get(panelWasOpen));
  else if (districtsWereOpen) openDistricts(document.getElementById("districts"));
}

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !panel().hidden) closePanel();
});

async function start() {
  buildPage();
  buildMap();
  setLive("off");
  renderLegend();
  const [page, districtBounds] = await Promise.all([getJson("/v1/map/poles"), drawDistricts()]);
  state.poles = new Map(page.items.map((p) => [p.pole_id, p]));
  fitAll(districtBounds);
  renderMarkers();
  document.body.dataset.ready = "true";
  connectLive();
}

start().catch((error) => {
  announce(String(error));
  document.body.dataset.ready = "error";
});
