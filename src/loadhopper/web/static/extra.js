// loadhopper web UI, the on-demand views: the Ratio tab (/api/tasks), a chart per stats
// row (/api/row-history), the response-time distribution (/api/distribution) and the tabs
// that locustfiles add through `web_ui` (/api/extensions). Each view is fetched only while
// it is on screen, never pushed with the one-second update. As in app.js, data from the
// server is only ever set as text, never as HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 2000;  // the open view is read again this often
  const ROW_REFRESH_MS = 1000;  // a row chart gains one point per second
  const COLORS = { rps: "#2563eb", fail: "#c62828", p50: "#16a34a", p95: "#d97706",
    p99: "#7c3aed", row: "#c62828", total: "#2563eb" };
  const PLOT_CONFIG = { responsive: true, displaylogo: false };

  const view = {
    row: null,  // the row whose chart is open: {method, name}
    compare: "",  // the distribution's chosen row, as JSON [method, name], or ""
    extensionTabs: [],  // [{key, url, section}]
    last: {},  // view name -> time it was last read
  };

  async function getJson(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(path + " answered " + response.status);
    return response.json();
  }

  function query(method, name) {
    return "method=" + encodeURIComponent(method) + "&name=" + encodeURIComponent(name);
  }

  function ms(value) {
    if (value === null || value === undefined) return "";
    return Number(value.toPrecision(3)).toString();
  }

  function cell(tag, text, className) {
    const element = document.createElement(tag);
    element.textContent = text;
    if (className) element.className = className;
    return element;
  }

  function shown(id) {
    const element = $(id);
    return element !== null && !element.hidden && !element.closest("[hidden]");
  }

  // ---- the Ratio tab ----------------------------------------------------------------

  function ratioRows(body, tree, depth) {
    Object.keys(tree).forEach((name) => {
      const node = tree[name];
      const tr = document.createElement("tr");
      tr.append(cell("td", (100 * node.ratio).toFixed(1) + " %"));
      const label = cell("td", name, "name");
      label.style.paddingLeft = (0.5 + 1.5 * depth) + "rem";
      tr.append(label);
      tr.dataset.depth = String(depth);
      body.append(tr);
      ratioRows(body, node.tasks, depth + 1);
    });
  }

  function ratioTable(title, tree) {
    const fragment = document.createDocumentFragment();
    fragment.append(cell("h3", title));
    const table = document.createElement("table");
    table.className = "data ratio";
    const head = document.createElement("tr");
    head.append(cell("th", "Ratio"), cell("th", "User class / task", "text"));
    table.createTHead().append(head);
    const body = table.createTBody();
    ratioRows(body, tree, 0);
    fragment.append(table);
    return fragment;
  }

  async function refreshRatio() {
    const ratios = await getJson("api/tasks");
    $("ratio-per-class").replaceChildren(ratioTable("Per User class", ratios.per_class));
    $("ratio-total").replaceChildren(ratioTable("Of all tasks run", ratios.total));
    $("tab-ratio").dataset.loaded = "true";
  }

  // ---- the response-time distribution ------------------------------------------------

  // HdrHistogram's percentile axis: 1/(1-q) on a log scale, labelled in percent.
  const SPECTRUM_TICKS = [1, 2, 4, 10, 100, 1e3, 1e4, 1e5, 1e6];
  const SPECTRUM_LABELS = ["0%", "50%", "75%", "90%", "99%", "99.9%", "99.99%", "99.999%",
    "99.9999%"];

  function spectrumTrace(spectrum, color) {
    // q = 1 (the maximum) is drawn at x = count: where `count` samples run out.
    const x = spectrum.q.map((q) => (q < 1 ? 1 / (1 - q) : Math.max(spectrum.count, 1)));
    const text = spectrum.q.map((q) => (q < 1 ? "p" + Math.round(q * 1e7) / 1e5 : "max"));
    return { x: x, y: spectrum.ms, text: text, name: spectrum.label, type: "scatter",
      mode: "lines+markers", line: { color: color, width: 1.5 },
      marker: { size: 5 }, hovertemplate: "%{text}: %{y} ms<extra>%{fullData.name}</extra>" };
  }

  function fillRowChoice(rows) {
    const select = $("distribution-row");
    const keep = select.value;
    const options = [cell("option", "(none)")];
    options[0].value = "";
    rows.forEach((row) => {
      const option = cell("option", row.method + " " + row.name);
      option.value = JSON.stringify([row.method, row.name]);
      options.push(option);
    });
    select.replaceChildren(...options);
    select.value = options.some((o) => o.value === keep) ? keep : "";
  }

  async function refreshDistribution() {
    const chosen = view.compare ? JSON.parse(view.compare) : null;
    const path = "api/distribution" + (chosen ? "?" + query(chosen[0], chosen[1]) : "");
    const answer = await getJson(path);
    fillRowChoice(answer.rows);
    const traces = answer.spectra.map((s, i) => spectrumTrace(s, i ? COLORS.row : COLORS.total));
    const chart = $("chart-distribution");
    const layout = {
      title: { text: "Response time by percentile (ms)", font: { size: 14 } },
      margin: { l: 60, r: 20, t: 40, b: 50 },
      legend: { orientation: "h", x: 0, y: -0.2 },
      xaxis: { type: "log", title: { text: "percentile" }, tickvals: SPECTRUM_TICKS,
        ticktext: SPECTRUM_LABELS },
      yaxis: { title: { text: "ms" }, rangemode: "tozero" },
    };
    Plotly.react(chart, traces, layout, PLOT_CONFIG);
    chart.dataset.points = String(traces.reduce((n, t) => n + t.x.length, 0));
  }

  // ---- a chart per stats row ---------------------------------------------------------

  function rowOf(tr) {
    if (tr.closest("tfoot")) return { method: "", name: "Aggregated" };
    if (tr.cells.length < 2) return null;
    return { method: tr.cells[0].textContent, name: tr.cells[1].textContent };
  }

  function openRow(row) {
    view.row = row;
    $("row-charts").hidden = false;
    $("row-charts-title").textContent = row.method ? row.method + " " + row.name : row.name;
    view.last.row = 0;
    refresh();
  }

  function rowLayout(title, unit) {
    return { title: { text: title, font: { size: 14 } }, margin: { l: 60, r: 20, t: 40, b: 40 },
      legend: { orientation: "h", x: 0, y: -0.15 }, xaxis: { type: "date" },
      yaxis: { title: { text: unit }, rangemode: "tozero" } };
  }

  async function refreshRow() {
    const row = view.row;
    const answer = await getJson("api/row-history?" + query(row.method, row.name));
    if (view.row !== row) return;  // closed or another row opened meanwhile
    const at = (field) => answer.fields.indexOf(field);
    const series = (field) => answer.points.map((p) => p[at(field)]);
    const x = answer.points.map((p) => new Date(p[at("time")] * 1000));
    const line = (field, name, color) => ({ x: x, y: series(field), name: name, type: "scatter",
      mode: "lines", line: { color: color, width: 1.5 } });
    Plotly.react("row-chart-rps", [line("rps", "RPS", COLORS.rps),
      line("fail_per_sec", "Failures/s", COLORS.fail)],
    rowLayout("Requests per second", "per second"), PLOT_CONFIG);
    Plotly.react("row-chart-latency", [line("p50", "p50", COLORS.p50),
      line("p95", "p95", COLORS.p95), line("p99", "p99", COLORS.p99)],
    rowLayout("Response time percentiles (ms)", "ms"), PLOT_CONFIG);
    $("row-charts").dataset.points = String(answer.points.length);
  }

  // ---- tabs added by the locustfile (web_ui.add_tab) ---------------------------------

  function selectExtension(tab) {
    document.querySelectorAll(".tabs button").forEach((button) => {
      button.classList.toggle("active", button === tab.button);
    });
    document.querySelectorAll("main .tab").forEach((section) => {
      section.hidden = section !== tab.section;
    });
    view.last[tab.key] = 0;
    refresh();
  }

  function objectTable(items) {
    const keys = [];
    items.forEach((item) => Object.keys(item).forEach((k) => { if (!keys.includes(k)) keys.push(k); }));
    const table = document.createElement("table");
    table.className = "data";
    const head = document.createElement("tr");
    keys.forEach((key) => head.append(cell("th", key, "text")));
    table.createTHead().append(head);
    const body = table.createTBody();
    items.forEach((item) => {
      const tr = document.createElement("tr");
      keys.forEach((key) => {
        const value = item[key];
        const text = value === null || value === undefined ? "" :
          (typeof value === "object" ? JSON.stringify(value) : String(value));
        tr.append(cell("td", text, typeof value === "number" ? "" : "text"));
      });
      body.append(tr);
    });
    return table;
  }

  async function refreshExtension(tab) {
    const response = await fetch(tab.url);
    const type = response.headers.get("content-type") || "";
    let content;
    if (!response.ok) {
      content = cell("p", tab.url + " answered " + response.status, "note");
    } else if (type.startsWith("application/json")) {
      const data = await response.json();
      if (Array.isArray(data) && data.every((x) => x && typeof x === "object")) {
        content = objectTable(data);
      } else if (data && typeof data === "object" && !Array.isArray(data)) {
        content = objectTable(Object.keys(data).map((k) => ({ name: k, value: data[k] })));
      } else {
        content = cell("pre", JSON.stringify(data, null, 2));
      }
    } else {
      content = cell("pre", await response.text());
    }
    tab.section.replaceChildren(content);
    tab.section.dataset.loaded = "true";
  }

  async function loadExtensions() {
    const answer = await getJson("api/extensions");
    const downloads = document.querySelector(".tabs button[data-tab=downloads]");
    answer.tabs.forEach((item, index) => {
      const key = "ext-" + index;
      const button = cell("button", item.title);
      button.type = "button";
      button.setAttribute("role", "tab");
      button.dataset.extension = key;
      const section = document.createElement("section");
      section.id = "tab-" + key;
      section.className = "tab extension";
      section.hidden = true;
      document.querySelector("main").append(section);
      downloads.before(button);
      const tab = { key: key, url: item.url, button: button, section: section };
      button.addEventListener("click", () => selectExtension(tab));
      view.extensionTabs.push(tab);
    });
    answer.links.forEach((link) => {
      const li = document.createElement("li");
      const a = cell("a", link.title);
      a.href = link.url;
      a.setAttribute("download", "");
      li.append(a);
      $("downloads").append(li);
    });
  }

  // ---- one loop reads whichever view is on screen --------------------------------------

  function due(name, every) {
    const now = Date.now();
    if (now - (view.last[name] || 0) < every) return false;
    view.last[name] = now;
    return true;
  }

  function report(error) {
    console.warn("loadhopper:", error.message);  // the next round tries again
  }

  function refresh() {
    if (shown("tab-ratio") && due("ratio", REFRESH_MS)) refreshRatio().catch(report);
    if (shown("tab-distribution") && due("distribution", REFRESH_MS)) {
      refreshDistribution().catch(report);
    }
    if (view.row && shown("row-charts") && due("row", ROW_REFRESH_MS)) refreshRow().catch(report);
    view.extensionTabs.forEach((tab) => {
      if (!tab.section.hidden && due(tab.key, REFRESH_MS)) refreshExtension(tab).catch(report);
    });
  }

  function wire() {
    ["ratio", "distribution"].forEach((name) => {
      document.querySelector(".tabs button[data-tab=" + name + "]").addEventListener("click",
        () => { view.last[name] = 0; setTimeout(refresh, 0); });  // after app.js shows it
    });
    $("distribution-row").addEventListener("change", (event) => {
      view.compare = event.target.value;
      view.last.distribution = 0;
      refresh();
    });
    $("stats-table").addEventListener("click", (event) => {
      const tr = event.target.closest("tbody tr, tfoot tr");
      if (!tr) return;  // a header click sorts (app.js)
      const row = rowOf(tr);
      if (row) openRow(row);
    });
    $("row-charts-close").addEventListener("click", () => {
      view.row = null;
      $("row-charts").hidden = true;
    });
    setInterval(refresh, 500);
  }

  wire();
  loadExtensions().catch(report);
})();
