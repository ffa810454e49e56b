// loadhopper web UI: one page, no build step. Data arrives by server-sent events
// (/api/stream): a "hello" with everything, then an "update" once a second. Controls are
// POSTs with the page's CSRF token in a header. Nothing here uses innerHTML with data
// from the server: every name, error and traceback is set as text.
"use strict";

(function () {
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const MAX_POINTS = 3600;  // the server keeps one hour of one-second points too
  const $ = (id) => document.getElementById(id);

  const ui = {
    status: null,
    stats: null,
    fields: [],
    chartsReady: false,
    bands: [],  // shaded seconds: stalled, hot or lagging (the newest MAX_BANDS)
    bounds: { cpu: 90, lag: 10 },  // hot and lagging windows are above these (stats.health)
    points: [],  // the chart points drawn (the newest MAX_POINTS), to redraw with new series
    present: {},  // optional series the points have: "corrected", "arrivals"
    lastPointTime: null,
    showStart: false,
    sort: { key: null, dir: 1 },
    activeTab: "stats",
    classPicker: false,
    logsNext: 0,  // the sequence number of the next log line to ask for
    logsTimer: null,
  };
  const MAX_LOG_LINES = 500;  // as the server's buffer (web/_logs.py)

  // ---- formatting -------------------------------------------------------------------

  // Latencies to 3 significant digits, as the console and CSV reports print them.
  function ms(value) {
    if (value === null || value === undefined) return "-";
    if (value === 0) return "0";
    if (value >= 1000) return String(Math.round(value));
    const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(value))));
    return Number(value.toPrecision(3)).toFixed(digits);
  }
  const rate = (value) => value.toFixed(2);
  const count = (value) => value.toLocaleString("en-US");
  const bytes = (value) => String(Math.round(value));

  // ---- controls -------------------------------------------------------------------

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF },
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
    });
    let answer = {};
    try { answer = await response.json(); } catch (e) { answer = {}; }
    if (!response.ok) {
      showError(answer.error || ("The server answered " + response.status + "."));
      return null;
    }
    showError(null);
    if (answer.status) applyStatus(answer.status);
    return answer;
  }

  function showError(message) {
    const banner = $("banner");
    banner.hidden = !message;
    banner.textContent = message || "";
  }

  function startForm() {
    const classes = Array.from(document.querySelectorAll("#f-classes input.cp-run:checked"))
      .map((box) => box.value);
    const form = {
      users: Number($("f-users").value),
      spawn_rate: Number($("f-rate").value),
      host: $("f-host").value,
      run_time: $("f-runtime").value,
      user_classes: classes,
    };
    if (ui.classPicker) {
      form.class_settings = {};
      document.querySelectorAll("#f-classes .cp-row").forEach((row) => {
        form.class_settings[row.dataset.name] = {
          weight: row.querySelector(".cp-weight").value,
          fixed_count: row.querySelector(".cp-fixed").value,
        };
      });
    }
    const options = {};
    document.querySelectorAll("#f-options [data-dest]").forEach((field) => {
      if (field.type === "checkbox") options[field.dataset.dest] = field.checked;
      else if (field.multiple) {
        options[field.dataset.dest] = Array.from(field.selectedOptions).map((o) => o.value);
      } else options[field.dataset.dest] = field.value;
    });
    if (Object.keys(options).length) form.options = options;
    return form;
  }

  function wireControls() {
    $("start-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      $("btn-start").disabled = true;
      const answer = await post("api/start", startForm());
      $("btn-start").disabled = false;
      if (answer) { ui.showStart = false; render(); }
    });
    $("btn-stop").addEventListener("click", () => post("api/stop"));
    $("btn-reset").addEventListener("click", () => post("api/reset"));
    $("btn-new").addEventListener("click", () => { ui.showStart = true; render(); });
    $("btn-cancel-new").addEventListener("click", () => { ui.showStart = false; render(); });
    $("btn-edit").addEventListener("click", () => {
      $("e-users").value = ui.status ? ui.status.target_users : 1;
      $("e-rate").value = ui.status && ui.status.spawn_rate ? ui.status.spawn_rate : 1;
      $("edit-dialog").showModal();
    });
    $("btn-edit-cancel").addEventListener("click", () => $("edit-dialog").close());
    $("edit-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const answer = await post("api/edit", {
        users: Number($("e-users").value),
        spawn_rate: Number($("e-rate").value),
      });
      if (answer) $("edit-dialog").close();
    });
    document.querySelectorAll(".tabs button").forEach((button) => {
      button.addEventListener("click", () => selectTab(button.dataset.tab));
    });
    $("all-percentiles").addEventListener("change", renderStats);
  }

  function selectTab(name) {
    ui.activeTab = name;
    document.querySelectorAll(".tabs button").forEach((button) => {
      button.classList.toggle("active", button.dataset.tab === name);
    });
    document.querySelectorAll("main .tab").forEach((section) => {
      section.hidden = section.id !== "tab-" + name;
    });
    // Plotly sizes a chart from its container, which is zero while the tab is hidden.
    pollLogs();
    if (name === "charts" && ui.chartsReady) {
      CHARTS.forEach((chart) => { if (!$(chart.id).hidden) Plotly.Plots.resize($(chart.id)); });
    }
  }

  function fillStartForm(payload) {
    const defaults = payload.defaults;
    $("f-users").value = defaults.users;
    $("f-rate").value = defaults.spawn_rate;
    $("f-host").value = defaults.host || "";
    $("f-runtime").value = defaults.run_time ? defaults.run_time + "s" : "";
    fillClassPicker(payload);
    fillOptions(payload.custom_options || []);
    $("tab-button-logs").hidden = !payload.logs_enabled;
  }

  // Which classes run needs no flag (loadhopper's form has always offered it); with
  // --class-picker, as in Locust, each class's weight and fixed count are editable too.
  function fillClassPicker(payload) {
    const box = $("f-classes");
    ui.classPicker = Boolean(payload.class_picker);
    box.querySelectorAll("label, .cp-row, .cp-head").forEach((el) => el.remove());
    const settings = {};
    (payload.class_settings || []).forEach((s) => { settings[s.name] = s; });
    if (ui.classPicker) {
      const head = document.createElement("div");
      head.className = "cp-head";
      ["Run", "User class", "Weight", "Fixed count"].forEach((text) => {
        const cell = document.createElement("span");
        cell.textContent = text;
        head.append(cell);
      });
      box.append(head);
    }
    payload.user_classes.forEach((name) => {
      const input = document.createElement("input");
      input.type = "checkbox";
      input.className = "cp-run";
      input.value = name;
      input.checked = true;
      if (!ui.classPicker) {
        const label = document.createElement("label");
        label.append(input, " " + name);
        box.append(label);
        return;
      }
      const row = document.createElement("div");
      row.className = "cp-row";
      row.dataset.name = name;
      const label = document.createElement("label");
      label.append(input, " " + name);
      const setting = settings[name] || { weight: 1, fixed_count: 0 };
      row.append(label, numberField("cp-weight", setting.weight, "Weight of " + name),
        numberField("cp-fixed", setting.fixed_count, "Fixed count of " + name));
      box.append(row);
    });
    box.classList.toggle("picker", ui.classPicker);
    box.hidden = payload.user_classes.length < 2 && !ui.classPicker;
  }

  function numberField(className, value, title) {
    const input = document.createElement("input");
    input.type = "number";
    input.min = "0";
    input.step = "1";
    input.className = className;
    input.value = value;
    input.title = title;
    input.setAttribute("aria-label", title);
    return input;
  }

  // The locustfile's own options (init_command_line_parser, include_in_web_ui), shown as
  // Locust shows them: a checkbox for a flag, a select for choices, a password field for a
  // secret (whose value the page never receives: left empty, it keeps the command line's).
  function fillOptions(options) {
    const box = $("f-options");
    box.querySelectorAll("label").forEach((label) => label.remove());
    options.forEach((option) => {
      const label = document.createElement("label");
      let field;
      if (option.kind === "flag") {
        field = document.createElement("input");
        field.type = "checkbox";
        field.checked = Boolean(option.default);
        label.className = "flag";
        label.append(field, " " + option.flag);
      } else if (option.kind === "choice") {
        field = document.createElement("select");
        field.multiple = option.multiple;
        const chosen = [].concat(option.default === null ? [] : option.default).map(String);
        option.choices.forEach((choice) => {
          const item = document.createElement("option");
          item.value = choice;
          item.textContent = choice;
          item.selected = chosen.includes(choice);
          field.append(item);
        });
        label.append(option.flag, field);
      } else {
        field = document.createElement("input");
        if (option.kind === "secret") {
          field.type = "password";
          field.autocomplete = "off";
          if (option.has_default) field.placeholder = "unchanged (set on the command line)";
        } else {
          field.type = "text";
          field.value = option.default === null ? "" : String(option.default);
        }
        label.append(option.flag, field);
      }
      field.dataset.dest = option.dest;
      field.name = option.dest;
      if (option.required && !(option.kind === "secret" && option.has_default)) {
        field.required = true;
      }
      if (option.help) {
        const help = document.createElement("small");
        help.textContent = option.help;
        label.append(help);
      }
      box.append(label);
    });
    box.hidden = options.length === 0;
  }

  // The users of each class, as a tooltip on the header's user count.
  function renderClassCounts(counts) {
    $("m-users").title = Object.entries(counts || {})
      .map(([name, n]) => name + ": " + n).join(", ");
  }

  // ---- logs -------------------------------------------------------------------------

  // Asked for only while the Logs tab is open, and then only for the lines not yet shown.
  async function pollLogs() {
    clearTimeout(ui.logsTimer);
    ui.logsTimer = null;
    if (ui.activeTab !== "logs") return;
    try {
      const response = await fetch("api/logs?after=" + ui.logsNext, { credentials: "same-origin" });
      if (response.ok) appendLogs(await response.json());
    } catch (e) { /* the stream's error handler shows the disconnection */ }
    if (ui.activeTab === "logs") ui.logsTimer = setTimeout(pollLogs, 1000);
  }

  function appendLogs(answer) {
    const list = $("logs-list");
    answer.lines.forEach((line) => {
      const item = document.createElement("li");
      item.className = "log-" + line.level.toLowerCase();
      const when = new Date(line.time * 1000).toISOString().replace("T", " ").slice(0, 23);
      item.textContent = when + " " + line.level + " " + line.logger + ": " + line.message;
      list.append(item);
    });
    while (list.children.length > MAX_LOG_LINES) list.firstElementChild.remove();
    ui.logsNext = answer.next;
    list.dataset.next = String(answer.next);
  }

  // ---- status ----------------------------------------------------------------------

  function applyStatus(status) {
    // A control's answer and the event stream race; the newer status wins.
    if (ui.status && status.generation < ui.status.generation) return;
    ui.status = status;
    render();
  }

  function render() {
    const status = ui.status;
    if (!status) return;
    const running = status.running;
    const fresh = !running && status.tests_started === 0;
    $("m-state").textContent = status.state.toUpperCase();
    $("m-users").textContent = count(status.user_count);
    $("m-rps").textContent = rate(status.current_rps);
    $("m-fail").textContent = Math.round(status.fail_ratio * 100) + "%";
    $("host-display").textContent = status.host || "";
    $("load-model").hidden = !status.load_model;
    $("load-model").textContent = status.load_model ? "load model: " + status.load_model : "";
    $("btn-edit").hidden = !running || status.state === "stopping";
    $("btn-stop").hidden = !running || status.state === "stopping";
    $("btn-reset").hidden = fresh;
    $("btn-new").hidden = running || fresh || ui.showStart;
    $("start-panel").hidden = running || !(fresh || ui.showStart);
    $("btn-cancel-new").hidden = fresh;
    if (status.error) showError("The test ended with an unexpected error: " + status.error);
  }

  // ---- statistics table ---------------------------------------------------------------

  function columns() {
    const base = [
      { key: "method", label: "Type", text: true, show: (r) => r.method },
      { key: "name", label: "Name", text: true, name: true, show: (r) => r.name },
      { key: "num_requests", label: "# Requests", show: (r) => count(r.num_requests) },
      { key: "num_failures", label: "# Fails", show: (r) => count(r.num_failures) },
      { key: "median", label: "Median (ms)", show: (r) => ms(r.median) },
      { key: "p95", label: "95%ile (ms)", show: (r) => ms(r.p95) },
      { key: "p99", label: "99%ile (ms)", show: (r) => ms(r.p99) },
      { key: "avg", label: "Average (ms)", show: (r) => ms(r.avg) },
      { key: "min", label: "Min (ms)", show: (r) => ms(r.min) },
      { key: "max", label: "Max (ms)", show: (r) => ms(r.max) },
      { key: "avg_size", label: "Average size (bytes)", show: (r) => bytes(r.avg_size) },
      { key: "current_rps", label: "Current RPS", show: (r) => rate(r.current_rps) },
      { key: "current_fail_per_sec", label: "Current failures/s",
        show: (r) => rate(r.current_fail_per_sec) },
    ];
    // Latency from each iteration's intended start, beside the measured columns, only when
    // some row had a schedule (an open model, constant_pacing, constant_throughput).
    const corrected = hasCorrected();
    if (corrected) {
      const at = base.findIndex((col) => col.key === "p99") + 1;
      base.splice(at, 0,
        { key: "corrected_median", label: "Corrected median (ms)", corrected: true,
          show: (r) => ms(r.corrected_median) },
        { key: "corrected_p95", label: "Corrected 95%ile (ms)", corrected: true,
          show: (r) => ms(r.corrected_p95) },
        { key: "corrected_p99", label: "Corrected 99%ile (ms)", corrected: true,
          show: (r) => ms(r.corrected_p99) });
    }
    if ($("all-percentiles").checked && ui.stats) {
      ui.stats.percentiles.forEach((label, index) => {
        base.push({ key: "p:" + index, label: label, show: (r) => ms(r.percentiles[index]) });
      });
      if (corrected) {
        ui.stats.percentiles.forEach((label, index) => {
          base.push({ key: "cp:" + index, label: "corrected " + label, corrected: true,
            show: (r) => ms(r.corrected_percentiles[index]) });
        });
      }
    }
    return base;
  }

  function hasCorrected() {
    const stats = ui.stats;
    return !!stats && (stats.total.corrected_count > 0 ||
      stats.rows.some((row) => row.corrected_count > 0));
  }

  function sortValue(row, key) {
    if (key.startsWith("p:")) return row.percentiles[Number(key.slice(2))];
    if (key.startsWith("cp:")) return row.corrected_percentiles[Number(key.slice(3))];
    return row[key];
  }

  function sortedRows(rows) {
    const { key, dir } = ui.sort;
    if (!key) return rows;
    return rows.slice().sort((a, b) => {
      const x = sortValue(a, key);
      const y = sortValue(b, key);
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;  // no value sorts last either way
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * dir;
    });
  }

  function cells(tr, row, cols) {
    cols.forEach((col) => {
      const td = document.createElement("td");
      td.textContent = col.show(row);
      if (col.name) td.className = "name";
      else if (col.text) td.className = "text";
      else if (col.corrected) td.className = "corrected";
      tr.append(td);
    });
  }

  function renderStats() {
    const stats = ui.stats;
    if (!stats) return;
    const cols = columns();
    const table = $("stats-table");
    const head = document.createElement("tr");
    cols.forEach((col) => {
      const th = document.createElement("th");
      th.textContent = col.label;
      th.dataset.key = col.key;
      if (col.text) th.className = "text";
      if (col.corrected) {
        th.className = "corrected";
        th.title = "Corrected for coordinated omission (from each iteration's intended start)";
      }
      if (ui.sort.key === col.key) th.classList.add(ui.sort.dir > 0 ? "sorted-asc" : "sorted-desc");
      th.addEventListener("click", () => {
        ui.sort = { key: col.key, dir: ui.sort.key === col.key ? -ui.sort.dir : 1 };
        renderStats();
      });
      head.append(th);
    });
    table.tHead.replaceChildren(head);
    const body = document.createDocumentFragment();
    sortedRows(stats.rows).forEach((row) => {
      const tr = document.createElement("tr");
      cells(tr, row, cols);
      body.append(tr);
    });
    table.tBodies[0].replaceChildren(body);
    const total = document.createElement("tr");
    cells(total, Object.assign({}, stats.total, { method: "", name: "Aggregated" }), cols);
    table.tFoot.replaceChildren(total);
    $("overflow-note").hidden = !stats.overflowed;
    $("corrected-note").hidden = !hasCorrected();
  }

  function renderFailures() {
    const stats = ui.stats;
    const rows = document.createDocumentFragment();
    stats.failures.forEach((failure) => {
      const tr = document.createElement("tr");
      [count(failure.occurrences), failure.method, failure.name, failure.error].forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (i > 0) td.className = i === 2 ? "name" : "text";
        tr.append(td);
      });
      rows.append(tr);
    });
    $("failures-table").tBodies[0].replaceChildren(rows);
    $("n-failures").textContent = stats.failures.length ? "(" + stats.failures.length + ")" : "";
    const more = $("failures-more");
    more.hidden = !stats.failures_left_out;
    more.textContent = "… and " + stats.failures_left_out + " more groups: see the failures CSV.";
  }

  function renderExceptions() {
    const stats = ui.stats;
    const rows = document.createDocumentFragment();
    stats.exceptions.forEach((exception) => {
      const tr = document.createElement("tr");
      const n = document.createElement("td");
      n.textContent = count(exception.count);
      const message = document.createElement("td");
      message.className = "text";
      message.textContent = exception.message;
      const trace = document.createElement("td");
      const pre = document.createElement("pre");
      pre.textContent = exception.traceback;
      trace.append(pre);
      tr.append(n, message, trace);
      rows.append(tr);
    });
    $("exceptions-table").tBodies[0].replaceChildren(rows);
    const total = stats.exceptions.length;
    $("n-exceptions").textContent = total ? "(" + total + ")" : "";
    const more = $("exceptions-more");
    more.hidden = !stats.exceptions_left_out;
    more.textContent = "… and " + stats.exceptions_left_out + " more: see the exceptions CSV.";
  }

  // ---- the open model: arrivals ------------------------------------------------------

  function renderArrivals(arrivals) {
    const active = !!arrivals && arrivals.active;
    $("m-late-box").hidden = !active;
    $("m-dropped-box").hidden = !active;
    const banner = $("arrival-banner");
    if (!active) {
      banner.hidden = true;
      return;
    }
    $("m-late").textContent = count(arrivals.late);
    $("m-dropped").textContent = count(arrivals.dropped);
    // Like the stall banner: while the generator cannot keep the rate, say so above all.
    const late = arrivals.recent_late;
    const dropped = arrivals.recent_dropped;
    banner.hidden = !(late > 0 || dropped > 0);
    banner.textContent = late > 0 || dropped > 0
      ? "The generator cannot keep the arrival rate: in the last " + arrivals.recent_seconds +
        " s, " + count(late) + " of " + count(arrivals.recent_due) + " iterations started late" +
        " and " + count(dropped) + " were dropped, because no user was free. Raise " +
        "--max-users, or lower the rate."
      : "";
  }

  // ---- thresholds -------------------------------------------------------------------

  // The verdicts as evaluated so far on the merged statistics (the final ones once the
  // test has ended). No thresholds: no tab, no header metric.
  function renderThresholds(results) {
    const any = !!results && results.length > 0;
    $("tab-button-thresholds").hidden = !any;
    $("m-thresholds-box").hidden = !any;
    if (!any) {
      if (ui.activeTab === "thresholds") selectTab("stats");
      return;
    }
    const failed = results.filter((r) => !r.passed).length;
    const box = $("m-thresholds");
    box.textContent = failed ? "FAIL " + failed + "/" + results.length : "PASS";
    box.className = failed ? "fail" : "pass";
    $("n-thresholds").textContent = failed ? "(" + failed + " failing)" : "";
    const aborted = results.find((r) => r.aborted);
    const verdict = $("thresholds-verdict");
    verdict.className = "verdict " + (failed ? "fail" : "pass");
    verdict.textContent = (failed
      ? "FAIL: " + failed + " of " + results.length + " thresholds fail."
      : "PASS: all " + results.length + " thresholds hold.") +
      (aborted ? " The run was stopped by " + aborted.expression + "." : "");
    const rows = document.createDocumentFragment();
    results.forEach((r) => {
      const tr = document.createElement("tr");
      tr.className = r.passed ? "pass" : "fail";
      const breach = r.first_breach ? new Date(r.first_breach * 1000).toISOString()
        .replace("T", " ").slice(0, 19) + " UTC" : "-";
      [
        [r.expression, "text expr"], [r.row || "the whole run", "name"], [r.metric, "text"],
        [r.operator + " " + r.limit_text, ""], [r.value_text, "value"],
        [r.passed ? "PASS" : "FAIL", "verdict"], [breach, ""], [r.aborted ? "yes" : "", ""],
      ].forEach(([text, cls]) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (cls) td.className = cls;
        tr.append(td);
      });
      rows.append(tr);
    });
    $("thresholds-table").tBodies[0].replaceChildren(rows);
  }

  // ---- workers (a distributed run) --------------------------------------------------

  // `workers` is null for a one-process run: no tab, no header metric.
  function renderWorkers(workers) {
    const distributed = workers !== null && workers !== undefined;
    $("tab-button-workers").hidden = !distributed;
    $("m-workers-box").hidden = !distributed;
    if (!distributed) {
      if (ui.activeTab === "workers") selectTab("stats");
      return;
    }
    const total = workers.workers.length;
    $("m-workers").textContent = workers.lost ? workers.live + " of " + total : String(total);
    $("n-workers").textContent = workers.lost ? "(" + workers.lost + " lost)" : "";
    $("workers-cpu-limit").textContent = String(workers.cpu_warning_percent);
    $("workers-empty").hidden = total > 0;
    const rows = document.createDocumentFragment();
    workers.workers.forEach((worker) => {
      const tr = document.createElement("tr");
      tr.dataset.state = worker.state;
      if (worker.state === "lost") tr.className = "lost";
      const note = worker.state === "lost"
        ? "lost: " + (worker.lost_cause || "no cause given")
        : (worker.cpu_warning ? "CPU above " + workers.cpu_warning_percent + "%" : "");
      const values = [
        [worker.name, "text"],
        [worker.host || "-", "text"],
        [worker.pid ? String(worker.pid) : "-", ""],
        [worker.state, "text state"], [count(worker.user_count), "users"],
        // A lost worker's last report is history, not its load now.
        [worker.state === "lost" ? "-" : worker.cpu_percent.toFixed(1),
          worker.cpu_warning ? "cpu hot" : "cpu"],
        [note, "text note"],
      ];
      values.forEach(([text, cls]) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (cls) td.className = cls;
        tr.append(td);
      });
      rows.append(tr);
    });
    $("workers-table").tBodies[0].replaceChildren(rows);
  }

  // ---- charts -----------------------------------------------------------------------

  // A trace is [field, name, color, style, needs]: style "dash" or "bar"; `needs` names an
  // optional series (see present()) without which the trace is left out.
  const CHARTS = [
    { id: "chart-rps", title: "Requests per second", unit: "per second",
      traces: [["rps", "RPS", "#2563eb"], ["fail_per_sec", "Failures/s", "#c62828"]] },
    { id: "chart-latency", title: "Response times of each second (ms)", unit: "ms",
      traces: [["p50", "p50", "#16a34a"], ["p95", "p95", "#d97706"], ["p99", "p99", "#7c3aed"],
        ["corrected_p95", "p95 corrected", "#d97706", "dash", "corrected"],
        ["corrected_p99", "p99 corrected", "#7c3aed", "dash", "corrected"]] },
    { id: "chart-arrivals", title: "Iterations per second (arrival rate)", unit: "per second",
      traces: [["due", "Due", "#2563eb", "", "arrivals"],
        ["late", "Late", "#d97706", "bar", "arrivals"],
        ["dropped", "Dropped", "#c62828", "bar", "arrivals"]] },
    { id: "chart-users", title: "Number of users", unit: "users",
      traces: [["users", "Users", "#0f766e"]] },
  ];

  // Which optional series `points` have, added to `found`: corrected latencies, arrivals.
  function present(points, found) {
    const fields = ["corrected_p95", "corrected_p99", "due", "late", "dropped"]
      .map((field) => ui.fields.indexOf(field));
    const result = Object.assign({}, found);
    points.forEach((point) => {
      if ((fields[0] >= 0 && point[fields[0]] !== null) ||
          (fields[1] >= 0 && point[fields[1]] !== null)) result.corrected = true;
      if (fields.slice(2).some((i) => i >= 0 && point[i] > 0)) result.arrivals = true;
    });
    return result;
  }

  function traces(chart) {
    return chart.traces.filter((trace) => !trace[4] || ui.present[trace[4]]);
  }

  function column(points, field) {
    const index = ui.fields.indexOf(field);
    return points.map((point) => point[index]);
  }

  function times(points) {
    return points.map((point) => new Date(point[0] * 1000));
  }

  function marks(starts) {
    return starts.map((start) => ({
      type: "line", xref: "x", yref: "paper", x0: new Date(start * 1000),
      x1: new Date(start * 1000), y0: 0, y1: 1, line: { color: "#9ca3af", dash: "dot", width: 1 },
    }));
  }

  // One shaded band per flagged second, from the point before it to its own point: orange
  // where the event loop stalled (a blocking call), red where the generator was hot (CPU)
  // or its loop lagging, without a stall to name; the latencies of both include its delay.
  const MAX_BANDS = 600;  // each is a plotly shape: enough for ten flagged minutes

  function flagBands(points, previous) {
    const bands = [];
    const [stalled, cpu, lag] = ["stalled_ms", "cpu_percent", "loop_lag_ms"]
      .map((field) => ui.fields.indexOf(field));
    let before = previous;
    points.forEach((point) => {
      const stall = stalled >= 0 && point[stalled] > 0;
      const busy = (cpu >= 0 && point[cpu] !== null && point[cpu] > ui.bounds.cpu) ||
        (lag >= 0 && point[lag] !== null && point[lag] > ui.bounds.lag);
      if (stall || busy) {
        const x0 = before === null ? point[0] - 1 : before;
        bands.push({
          type: "rect", xref: "x", yref: "paper", x0: new Date(x0 * 1000),
          x1: new Date(point[0] * 1000), y0: 0, y1: 1,
          fillcolor: stall ? "#f0a020" : "#dc2626", opacity: stall ? 0.25 : 0.15,
          line: { width: 0 }, name: stall ? "stall" : "busy",
        });
      }
      before = point[0];
    });
    return bands;
  }

  function drawCharts(points, starts) {
    ui.points = points.slice(-MAX_POINTS);
    ui.present = present(points, {});
    ui.bands = flagBands(points, null).slice(-MAX_BANDS);
    ui.lastPointTime = points.length ? points[points.length - 1][0] : null;
    const x = times(points);
    CHARTS.forEach((chart) => {
      const shown = traces(chart);
      const element = $(chart.id);
      element.hidden = !shown.length;
      if (!shown.length) {
        Plotly.purge(element);
        return;
      }
      const data = shown.map(([field, name, color, style]) => (style === "bar"
        ? { x: x, y: column(points, field), name: name, type: "bar", marker: { color: color } }
        : { x: x, y: column(points, field), name: name, type: "scatter", mode: "lines",
            line: { color: color, width: 2, dash: style === "dash" ? "dash" : "solid" },
            connectgaps: false }));
      const layout = {
        title: { text: chart.title, font: { size: 14 } },
        margin: { l: 55, r: 20, t: 40, b: 40 },
        hovermode: "x unified",
        xaxis: { type: "date" },
        yaxis: { title: { text: chart.unit }, rangemode: "tozero" },
        legend: { orientation: "h", y: -0.2 },
        shapes: marks(starts).concat(ui.bands),
        barmode: "stack",
      };
      Plotly.newPlot(chart.id, data, layout, { responsive: true, displaylogo: false });
    });
    ui.chartsReady = true;
  }

  function extendCharts(points, starts) {
    if (!points.length) return;
    const all = ui.points.concat(points).slice(-MAX_POINTS);
    const now = present(points, ui.present);
    if (now.corrected !== ui.present.corrected || now.arrivals !== ui.present.arrivals) {
      drawCharts(all, starts);  // a series appeared: draw every chart again with it
      return;
    }
    ui.points = all;
    const bands = flagBands(points, ui.lastPointTime);
    ui.lastPointTime = points[points.length - 1][0];
    ui.bands = ui.bands.concat(bands).slice(-MAX_BANDS);
    const x = times(points);
    CHARTS.forEach((chart) => {
      const shown = traces(chart);
      if (!shown.length) return;
      const update = {
        x: shown.map(() => x),
        y: shown.map(([field]) => column(points, field)),
      };
      Plotly.extendTraces(chart.id, update, shown.map((_, i) => i), MAX_POINTS);
      const element = $(chart.id);
      if (bands.length || element.layout.shapes.length !== starts.length + ui.bands.length) {
        Plotly.relayout(chart.id, { shapes: marks(starts).concat(ui.bands) });
      }
    });
  }

  // ---- the feed -----------------------------------------------------------------------

  // While the event loop stalls (blocking code in a task), the latencies shown include the
  // stall: say so above everything, with the call site, until the stalls are 10 s old.
  function renderStallBanner(health) {
    const banner = $("stall-banner");
    const ms = health ? health.recent_stall_ms : 0;
    banner.hidden = !(ms > 0);
    banner.textContent = ms > 0
      ? "The event loop was blocked for " + Math.round(ms) + " ms in the last " +
        health.recent_seconds + " s at " + health.recent_stall_site +
        ": latencies measured then include the stall (shaded on the charts). Run blocking " +
        "calls with loadhopper.run_blocking(fn, ...)."
      : "";
  }

  // The generator's own CPU and loop lag: its latest second in the header, and while it was
  // above a bound in the last 10 s a banner, since the latencies measured then include its
  // own queueing. Nothing shows before a second was measured (or on a fake clock).
  function renderBusy(health) {
    const measured = !!health && health.measured && health.current_cpu_percent !== null;
    $("m-cpu-box").hidden = !measured;
    $("m-lag-box").hidden = !measured;
    const banner = $("busy-banner");
    if (!measured) {
      banner.hidden = true;
      return;
    }
    ui.bounds = { cpu: health.cpu_bound_percent, lag: health.lag_bound_ms };
    const cpu = health.current_cpu_percent;
    const lag = health.current_lag_ms;
    $("m-cpu").textContent = Math.round(cpu) + " %";
    $("m-cpu").className = cpu > health.cpu_bound_percent ? "hot" : "";
    $("m-lag").textContent = ms(lag) + " ms";
    $("m-lag").className = lag > health.lag_bound_ms ? "hot" : "";
    const hot = health.recent_hot_seconds > 0;
    const late = health.recent_lagging_seconds > 0;
    banner.hidden = !(hot || late);
    if (!(hot || late)) {
      banner.textContent = "";
      return;
    }
    const used = "used " + Math.round(health.recent_cpu_peak_percent) + " % of a core";
    const ran = "ran up to " + Math.round(health.recent_lag_max_ms) + " ms late";
    const what = hot && late ? "The generator " + used + " and its event loop " + ran
      : (hot ? "The generator " + used : "The generator's event loop " + ran);
    banner.textContent = what + " in the last " + health.recent_health_seconds + " s: " +
      "latencies measured now include its own queueing (shaded on the charts); add " +
      "--processes or reduce users.";
  }

  function applyStats(stats) {
    ui.stats = stats;
    renderStallBanner(stats.health);
    renderBusy(stats.health);
    renderArrivals(stats.arrivals);
    renderStats();
    renderFailures();
    renderExceptions();
  }

  function onHello(event) {
    const payload = JSON.parse(event.data);
    ui.fields = payload.point_fields;
    if (!ui.status) fillStartForm(payload);  // keep what the user typed across reconnects
    ui.status = null;  // a restarted server counts generations from 0 again
    applyStatus(payload.status);
    applyStats(payload.stats);
    renderClassCounts(payload.class_counts);
    renderWorkers(payload.workers);
    renderThresholds(payload.thresholds);
    drawCharts(payload.points, payload.test_starts);
    document.body.dataset.ready = "true";
  }

  function onUpdate(event) {
    const payload = JSON.parse(event.data);
    applyStatus(payload.status);
    applyStats(payload.stats);
    renderClassCounts(payload.class_counts);
    renderWorkers(payload.workers);
    renderThresholds(payload.thresholds);
    if (ui.chartsReady) extendCharts(payload.points, payload.test_starts);
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  }

  function connect() {
    const source = new EventSource("api/stream");
    source.addEventListener("hello", onHello);
    source.addEventListener("update", onUpdate);
    source.addEventListener("error", () => {
      $("m-state").textContent = "DISCONNECTED";  // EventSource retries by itself
    });
  }

  wireControls();
  connect();
})();
