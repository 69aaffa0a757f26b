// The managers' live dashboard (/manage). Managers and admins log in with the web
// session (an HttpOnly cookie plus a CSRF token, as on the counter page). The figures
// come from GET /api/v1/centers/{c}/dashboard; the page follows the center over /live
// and fetches the figures again whenever something happens there (a ticket issued or
// called, a counter changed, fresh queue figures), a few hundred milliseconds after
// the last event so that a burst of events costs one request. Nothing polls.
//
// A network admin's all-centers table follows the network over /live too (auth
// {network: true}): each `network.center` event rewrites that center's row in place
// (waiting, longest wait, service level, over target). The table is fetched whole at
// each (re)connect's snapshot and at most every few minutes while events come, for
// what the events do not carry (today's visitors, a center added since).
"use strict";

(() => {
  const { t, el, api, ApiError } = Novbe;
  const $ = (id) => document.getElementById(id);

  const KEYS = { language: "novbe.manage.language", center: "novbe.manage.center" };
  const REFRESH_DELAY_MS = 300; // events in a burst collapse into one fetch
  const CHART_MIN_INTERVAL_MS = 60 * 1000; // charts are hourly: redraw at most once a minute
  const MAX_ALERT_LOG = 8;
  const LIVE_EVENTS = ["queue.stats", "ticket.issued", "ticket.called", "ticket.updated", "counter.updated"];
  const NETWORK_FETCH_EVERY_MS = 5 * 60 * 1000; // the whole table again, while events come

  const state = {
    user: null, // {username, role, center}
    centerCode: null, // the center on screen, or null for the network view
    dashboard: null, // the last GET .../dashboard
    printers: new Map(), // device -> printer.status body
    alertLog: [], // `alert` events heard, newest first
    socket: null,
    refreshTimer: null,
    fetching: false,
    fetchAgain: false,
    chartsAt: 0,
    report: null, // the last GET .../report shown
    network: null, // {centers, boards}: the all-centers table as last fetched
    networkLive: new Map(), // center code -> its latest network.center row
    networkFetches: 0, // the latest fetch of the table; an older answer is dropped
    networkFetchedAt: 0, // Date.now() of the latest fetch
    networkTimer: null,
  };

  // ---- formatting ------------------------------------------------------------------

  function minutes(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 60) return t("manage.under_minute");
    const total = Math.round(seconds / 60);
    if (total < 60) return t("minutes", { n: total });
    return t("manage.hours_minutes", { h: Math.floor(total / 60), m: String(total % 60).padStart(2, "0") });
  }

  function percent(share) {
    return share === null || share === undefined ? "–" : `${Math.round(share * 100)}%`;
  }

  // Our word for a code (pause reasons, printer problems), or the code itself.
  function word(prefix, code) {
    const key = `${prefix}.${code}`;
    const text = t(key);
    return text === key ? code : text;
  }

  function clockTime(iso) {
    return new Date(iso).toLocaleTimeString(Novbe.language, { hour: "2-digit", minute: "2-digit" });
  }

  function localToday() {
    const now = new Date();
    return new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
  }

  function showInline(element, text) {
    element.textContent = text;
    element.hidden = !text;
  }

  function describe(err) {
    if (!(err instanceof ApiError)) return t("manage.no_answer");
    const message = err.body && err.body.error ? err.body.error.message : "";
    return `${t("manage.refused", { status: err.status })} ${message}`.trim();
  }

  // ---- views -----------------------------------------------------------------------

  function showView(name) {
    for (const view of ["login", "refused", "network", "center"]) {
      $(`${view}-view`).hidden = view !== name;
    }
    $("who").hidden = !state.user;
    $("who-name").textContent = state.user ? state.user.username : "";
    // Only a network admin has more than one center to go back to.
    $("to-network").hidden = !(isNetworkAdmin() && name === "center");
  }

  function isNetworkAdmin() {
    return !!state.user && state.user.role === "admin" && !state.user.center;
  }

  function route() {
    disconnect();
    if (!state.user) {
      showView("login");
      $("username").focus();
      return;
    }
    if (!["manager", "admin"].includes(state.user.role)) {
      showView("refused");
      return;
    }
    if (state.user.center) {
      openCenter(state.user.center);
      return;
    }
    const remembered = new URLSearchParams(location.search).get("center") || sessionStorage.getItem(KEYS.center);
    if (remembered) openCenter(remembered);
    else openNetwork();
  }

  // ---- logging in and out -------------------------------------------------------------

  async function loadSession() {
    try {
      const body = await api("GET", "/api/v1/auth/session");
      state.user = body.user;
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) throw err;
      state.user = null;
    }
  }

  async function onLogin(event) {
    event.preventDefault();
    const error = $("login-error");
    showInline(error, "");
    $("login-submit").disabled = true;
    try {
      const body = await api("POST", "/api/v1/auth/session", {
        body: { username: $("username").value.trim(), password: $("password").value },
      });
      state.user = body.user;
      $("password").value = "";
      route();
    } catch (err) {
      showInline(error, err instanceof ApiError && err.status === 401 ? t("manage.bad_login") : describe(err));
    } finally {
      $("login-submit").disabled = false;
    }
  }

  async function logout() {
    try {
      await api("DELETE", "/api/v1/auth/session");
    } catch {
      // No answer: the cookie may still work, but this screen forgets the user.
    }
    sessionEnded("");
  }

  function sessionEnded(message) {
    state.user = null;
    state.centerCode = null;
    sessionStorage.removeItem(KEYS.center);
    route();
    showInline($("login-error"), message);
  }

  // A fetch refused with 401 means the session is gone (expired, logged out elsewhere).
  function handleFetchError(err, inline) {
    if (err instanceof ApiError && err.status === 401) sessionEnded(t("manage.expired"));
    else showInline(inline, describe(err));
  }

  // ---- all centers ------------------------------------------------------------------

  function openNetwork() {
    state.centerCode = null;
    sessionStorage.removeItem(KEYS.center);
    disconnect();
    state.network = null;
    state.networkLive = new Map();
    $("network-rows").replaceChildren();
    showView("network");
    connectNetwork(); // its snapshot fetches the table
  }

  // Only a network admin (no center of their own) may follow the whole network; the
  // server says so too. The table is fetched after the socket has joined, so a change
  // made meanwhile is in the fetch or in an event, never in neither.
  function connectNetwork() {
    const handlers = {
      snapshot: () => scheduleNetworkFetch(0),
      "network.center": onNetworkCenter,
    };
    const banner = Novbe.statusBanner($("connection"));
    const socket = Novbe.live({ network: true }, handlers, {
      onStatus: (status, reason) => {
        if (state.socket !== socket) return; // closed on purpose
        banner(status, reason);
        if (status !== "refused") return;
        // The session has ended, or the server will not let us follow: the table
        // still shows, fetched once (the Refresh button fetches it again).
        loadSession().then(() => (state.user ? refreshNetwork() : sessionEnded(t("manage.expired"))));
      },
    });
    state.socket = socket;
  }

  // One center's figures just now: its row is rewritten in place; today's visitors
  // stay as last fetched until the next fetch, which comes within a few minutes.
  function onNetworkCenter(row) {
    if (state.centerCode !== null || !row || typeof row.center !== "string") return;
    state.networkLive.set(row.center, row);
    const tr = networkRow(row.center);
    if (!tr) {
      if (state.network) scheduleNetworkFetch(REFRESH_DELAY_MS); // a center new to the table
      return;
    }
    applyNetworkRow(tr, row);
    scheduleNetworkFetch(Math.max(0, state.networkFetchedAt + NETWORK_FETCH_EVERY_MS - Date.now()));
  }

  // A fetch of the whole table after `delay`, unless one is due sooner already.
  function scheduleNetworkFetch(delay) {
    const at = Date.now() + delay;
    if (state.networkTimer && state.networkTimer.at <= at) return;
    clearNetworkTimer();
    state.networkTimer = { at, id: setTimeout(refreshNetwork, delay) };
  }

  function clearNetworkTimer() {
    if (state.networkTimer) clearTimeout(state.networkTimer.id);
    state.networkTimer = null;
  }

  // Today's figures of every center the admin may see (GET /report lists them), then
  // each center's live dashboard for waiting now and the longest wait.
  async function refreshNetwork() {
    clearNetworkTimer();
    const mine = ++state.networkFetches;
    state.networkFetchedAt = Date.now();
    const error = $("network-error");
    try {
      const today = localToday();
      const report = await api("GET", `/api/v1/report?from=${today}&to=${today}`);
      const boards = await Promise.all(
        report.centers.map((c) =>
          api("GET", `/api/v1/centers/${encodeURIComponent(c.center)}/dashboard`).catch(() => null),
        ),
      );
      if (mine !== state.networkFetches) return; // superseded, or the view was left
      showInline(error, "");
      state.network = { centers: report.centers, boards };
      renderNetwork();
    } catch (err) {
      if (mine === state.networkFetches) handleFetchError(err, error);
    }
  }

  function networkRow(code) {
    return [...$("network-rows").rows].find((tr) => tr.dataset.center === code) || null;
  }

  function renderNetwork() {
    if (!state.network) return;
    const { centers, boards } = state.network;
    const rows = centers.map((center, i) => {
      const board = boards[i];
      const over = board && board.services.some((s) => s.over_target);
      const tr = el(
        "tr",
        { class: over ? "over" : "", dataset: { center: center.center } },
        el("td", {}, Novbe.named(center.name)),
        el("td", { class: "num", dataset: { figure: "waiting" } }, board ? board.waiting : "–"),
        el("td", { class: "num", dataset: { figure: "longest" } }, board ? minutes(board.longest_wait_s) : "–"),
        el(
          "td",
          { class: "num", dataset: { figure: "level" } },
          percent(board ? board.today.service_level : center.service_level),
        ),
        el("td", { class: "num", dataset: { figure: "visitors" } }, board ? board.today.visitors : center.visitors),
        el("td", {}, el("button", { type: "button", onclick: () => openCenter(center.center) }, t("manage.open"))),
      );
      // An event newer than the fetched figures (it came while they were on the way).
      const live = state.networkLive.get(center.center);
      if (live && (!board || Date.parse(live.at) >= Date.parse(board.at))) applyNetworkRow(tr, live);
      return tr;
    });
    $("network-rows").replaceChildren(...rows);
  }

  function applyNetworkRow(tr, row) {
    const cell = (figure) => tr.querySelector(`[data-figure="${figure}"]`);
    cell("waiting").textContent = row.waiting;
    cell("longest").textContent = minutes(row.longest_wait_s);
    cell("level").textContent = percent(row.service_level);
    tr.classList.toggle("over", !!row.over_target);
  }

  // ---- one center --------------------------------------------------------------------

  function openCenter(code) {
    state.centerCode = code;
    state.dashboard = null;
    state.printers = new Map();
    state.alertLog = [];
    state.chartsAt = 0;
    sessionStorage.setItem(KEYS.center, code);
    $("chart-date").value = ""; // set to the center's today with its first figures
    resetReport();
    showView("center");
    $("center-name").textContent = code;
    connect(code);
    refresh();
  }

  // The page follows the center live; a (re)connect brings a snapshot, after which
  // the figures are fetched again, so nothing missed while away stays missing.
  function connect(code) {
    disconnect();
    const auth = state.user.center ? {} : { center: code }; // a network admin names it
    const handlers = {
      snapshot: (snap) => {
        state.printers = new Map((snap.printers || []).map((p) => [p.device, p]));
        scheduleRefresh();
      },
      "printer.status": (printer) => {
        state.printers.set(printer.device, printer);
        renderAlerts();
      },
      alert: (alert) => {
        state.alertLog.unshift(alert);
        state.alertLog.length = Math.min(state.alertLog.length, MAX_ALERT_LOG);
        renderAlerts();
        scheduleRefresh();
      },
    };
    for (const event of LIVE_EVENTS) handlers[event] = scheduleRefresh;
    const banner = Novbe.statusBanner($("connection"));
    const socket = Novbe.live(auth, handlers, {
      onStatus: (status, reason) => {
        if (state.socket !== socket) return; // closed on purpose
        banner(status, reason);
        if (status === "refused") loadSession().then(() => !state.user && sessionEnded(t("manage.expired")));
      },
    });
    state.socket = socket;
  }

  // Leaving a view: its socket is closed on purpose (no "connection lost" banner).
  function disconnect() {
    const socket = state.socket;
    state.socket = null;
    if (socket) socket.disconnect();
    $("connection").hidden = true;
    clearTimeout(state.refreshTimer);
    clearNetworkTimer();
    state.networkFetches += 1; // a table fetch still on its way is for nobody
  }

  function scheduleRefresh() {
    clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(refresh, REFRESH_DELAY_MS);
  }

  // One request at a time; an event during a fetch asks for one more afterwards.
  async function refresh() {
    const code = state.centerCode;
    if (!code) return;
    if (state.fetching) {
      state.fetchAgain = true;
      return;
    }
    state.fetching = true;
    try {
      const body = await api("GET", `/api/v1/centers/${encodeURIComponent(code)}/dashboard`);
      if (code === state.centerCode) {
        state.dashboard = body;
        showInline($("center-error"), "");
        render();
      }
    } catch (err) {
      handleFetchError(err, $("center-error"));
    } finally {
      state.fetching = false;
      if (state.fetchAgain) {
        state.fetchAgain = false;
        refresh();
      }
    }
  }

  function render() {
    const d = state.dashboard;
    if (!d) return;
    $("center-name").textContent = Novbe.named(d.name) || d.center;
    if (!$("chart-date").value) $("chart-date").value = d.day; // the center's local day
    if (!$("report-from").value && !$("report-to").value) {
      $("report-from").value = d.day;
      $("report-to").value = d.day;
      updateCsvLink();
    }
    $("as-of").textContent = t("manage.as_of", { time: clockTime(d.at) });
    $("k-waiting").textContent = d.waiting;
    $("k-longest").textContent = minutes(d.longest_wait_s);
    $("k-longest").parentElement.classList.toggle("over", d.services.some((s) => s.over_target));
    $("k-avg").textContent = minutes(d.today.avg_wait_s);
    $("k-p90").textContent = minutes(d.today.p90_wait_s);
    $("k-level").textContent = percent(d.today.service_level);
    $("k-noshow").textContent = percent(d.today.no_show_rate);
    $("k-served").textContent = d.today.served;
    renderServices(d.services);
    renderCounters(d.counters);
    renderStaff(d.staff);
    renderAlerts();
    renderCharts(false);
  }

  function renderServices(services) {
    const rows = services
      .filter((s) => s.active || s.waiting || s.today.visitors)
      .map((s) =>
        el(
          "tr",
          { class: s.over_target ? "over" : "", dataset: { service: s.service } },
          el("td", {}, el("strong", {}, s.prefix), " ", Novbe.named(s.name)),
          el("td", { class: "num", dataset: { figure: "waiting" } }, s.waiting),
          el("td", { class: "num" }, minutes(s.longest_wait_s)),
          el("td", { class: "num" }, t("minutes", { n: s.target_wait_min })),
          el("td", { class: "num" }, minutes(s.today.avg_wait_s)),
          el("td", { class: "num" }, minutes(s.today.p90_wait_s)),
          el("td", { class: "num" }, percent(s.today.service_level)),
          el("td", { class: "num" }, s.today.visitors),
        ),
      );
    $("service-rows").replaceChildren(...rows);
  }

  function renderCounters(counters) {
    const rows = counters.map((c) => {
      const stateText =
        c.state === "paused" && c.pause_reason
          ? `${t(`manage.state.${c.state}`)}: ${word("manage.pause", c.pause_reason)}`
          : t(`manage.state.${c.state}`);
      const ticket = c.current_ticket;
      return el(
        "tr",
        { dataset: { counter: c.label, state: c.state } },
        el("td", {}, el("strong", {}, c.label)),
        el("td", {}, el("span", { class: `chip ${c.state}` }, stateText)),
        el("td", {}, ticket ? `${ticket.number} · ${t(`status.${ticket.status}`)}` : "–"),
        el("td", { class: "num" }, c.idle_s === null ? "–" : minutes(c.idle_s)),
      );
    });
    $("counter-rows").replaceChildren(...rows);
  }

  function renderStaff(staff) {
    const rows = staff.map((p) =>
      el(
        "tr",
        {},
        el("td", {}, p.username),
        el("td", { class: "num" }, p.served),
        el("td", { class: "num" }, minutes(p.avg_service_s)),
        el("td", { class: "num" }, p.no_shows),
      ),
    );
    $("staff-rows").replaceChildren(...rows);
    $("staff-empty").hidden = staff.length > 0;
  }

  // ---- alerts ------------------------------------------------------------------------

  function waitAlertText(a) {
    return t("manage.alert_wait", {
      service: `${a.prefix} ${Novbe.named(a.name)}`,
      wait: minutes(a.longest_wait_s),
      target: t("minutes", { n: a.target_wait_min }),
    });
  }

  function printerAlertText(device, problem) {
    return t("manage.alert_printer", { device, problem: word("manage.printer", problem) });
  }

  // What is wrong now (from the figures and the printers' last status), then the
  // alerts heard over the live channel, with their time.
  function renderAlerts() {
    const items = [];
    const d = state.dashboard;
    if (d) {
      for (const s of d.services.filter((row) => row.over_target)) {
        items.push(el("li", { class: "now", dataset: { alert: "wait", service: s.service } }, waitAlertText(s)));
      }
    }
    for (const printer of state.printers.values()) {
      const problem = printer.problem || (printer.mode === null && printer.online !== null ? "offline" : null);
      if (problem) {
        items.push(el("li", { class: "now", dataset: { alert: "printer" } }, printerAlertText(printer.device, problem)));
      }
    }
    const current = items.length;
    for (const a of state.alertLog) {
      const text = a.kind === "wait" ? waitAlertText(a) : printerAlertText(a.device, a.problem);
      items.push(
        el(
          "li",
          { class: a.active ? "log" : "log cleared" },
          `${clockTime(a.at)} · `,
          a.active ? text : t("manage.alert_cleared", { text }),
        ),
      );
    }
    $("alert-list").replaceChildren(...items);
    $("alerts").hidden = items.length === 0;
    $("alerts").classList.toggle("active", current > 0);
  }

  // ---- charts --------------------------------------------------------------------------

  // Images from the server; the login cookie goes with them. Today's charts are redrawn
  // with the figures, at most once a minute (they are hourly); another day's only when
  // the date or the language changes.
  function renderCharts(force) {
    const code = state.centerCode;
    const today = state.dashboard ? state.dashboard.day : localToday();
    const day = $("chart-date").value || today;
    const isToday = day === today;
    if (!force && (!isToday || Date.now() - state.chartsAt < CHART_MIN_INTERVAL_MS)) return;
    state.chartsAt = Date.now();
    const base = `/api/v1/centers/${encodeURIComponent(code)}/charts`;
    const lang = Novbe.language;
    const stamp = `&v=${state.chartsAt}`; // a new address: the browser fetches it again
    $("chart-arrivals").src = `${base}/arrivals.svg?date=${day}&lang=${lang}${stamp}`;
    $("chart-arrivals").alt = t("manage.chart_arrivals");
    $("chart-waits").src = `${base}/waits.svg?date=${day}&lang=${lang}${stamp}`;
    $("chart-waits").alt = t("manage.chart_waits");
    $("chart-week").src = `${base}/week.svg?end=${day}&lang=${lang}${stamp}`;
    $("chart-week").alt = t("manage.chart_week");
  }

  // ---- reports for a range of days ---------------------------------------------------

  // Shown in both report tables, in this order, with how each figure is written.
  const REPORT_COLUMNS = [
    ["visitors", (v) => v],
    ["served", (v) => v],
    ["avg_wait_s", minutes],
    ["p90_wait_s", minutes],
    ["service_level", percent],
    ["avg_service_s", minutes],
    ["no_shows", (v) => v],
    ["transferred", (v) => v],
    ["approval_rate", percent],
  ];

  function reportUrl(format) {
    const params = new URLSearchParams({ from: $("report-from").value, to: $("report-to").value });
    if (format === "csv") {
      params.set("format", "csv");
      params.set("lang", Novbe.language);
    }
    return `/api/v1/centers/${encodeURIComponent(state.centerCode)}/report?${params}`;
  }

  // A plain link: the login cookie goes with the GET, and the browser saves the file
  // under the name the server gives it.
  function updateCsvLink() {
    const link = $("report-csv");
    const ready = state.centerCode && $("report-from").value && $("report-to").value;
    if (ready) link.href = reportUrl("csv");
    else link.removeAttribute("href");
  }

  // Another center or a new login: the last report belongs to someone else.
  function resetReport() {
    state.report = null;
    $("report-from").value = "";
    $("report-to").value = "";
    $("report-result").hidden = true;
    showInline($("report-error"), "");
    updateCsvLink();
  }

  async function showReport(event) {
    event.preventDefault();
    const code = state.centerCode;
    showInline($("report-error"), "");
    $("report-show").disabled = true;
    try {
      const body = await api("GET", reportUrl("json"));
      if (code !== state.centerCode) return;
      state.report = body;
      renderReport();
    } catch (err) {
      // A bad range (from after to, over a year) is refused with words that say why.
      $("report-result").hidden = true;
      handleFetchError(err, $("report-error"));
    } finally {
      $("report-show").disabled = false;
    }
  }

  function figureCells(row) {
    return REPORT_COLUMNS.map(([name, format]) =>
      el("td", { class: "num", dataset: { figure: name } }, format(row[name])),
    );
  }

  function renderReport() {
    const r = state.report;
    if (!r) return;
    $("report-range").textContent = t("manage.report_range", { from: r.from, to: r.to });
    $("report-service-rows").replaceChildren(
      ...r.services.map((s) =>
        el(
          "tr",
          { dataset: { service: s.service } },
          el("td", {}, el("strong", {}, s.prefix), " ", Novbe.named(s.name)),
          ...figureCells(s),
        ),
      ),
    );
    $("report-staff-rows").replaceChildren(
      ...r.staff.map((p) => el("tr", { dataset: { staff: p.username } }, el("td", {}, p.username), ...figureCells(p))),
    );
    $("report-staff-empty").hidden = r.staff.length > 0;
    $("report-result").hidden = false;
  }

  // ---- language ----------------------------------------------------------------------

  function setLanguage(lang) {
    Novbe.setLanguage(lang);
    localStorage.setItem(KEYS.language, lang);
    for (const button of document.querySelectorAll("#langs button")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    }
    document.title = `${t("manage.title")} · Növbə`;
    if (state.dashboard) {
      render();
      renderCharts(true);
    }
    if (state.centerCode === null) renderNetwork(); // names and minutes in the new language
    renderReport(); // names and minutes in the new language
    updateCsvLink(); // the CSV names services in the page's language
  }

  // ---- start -------------------------------------------------------------------------

  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", logout);
  $("to-network").addEventListener("click", openNetwork);
  $("network-refresh").addEventListener("click", refreshNetwork);
  $("chart-date").addEventListener("change", () => state.centerCode && renderCharts(true));
  $("report-form").addEventListener("submit", showReport);
  $("report-from").addEventListener("input", updateCsvLink);
  $("report-to").addEventListener("input", updateCsvLink);
  for (const button of document.querySelectorAll("#langs button")) {
    button.addEventListener("click", () => setLanguage(button.dataset.lang));
  }
  const savedLanguage = localStorage.getItem(KEYS.language);
  setLanguage(savedLanguage && Novbe.page.i18n[savedLanguage] ? savedLanguage : Novbe.language);
  loadSession()
    .then(route)
    .catch(() => {
      showView("login");
      showInline($("login-error"), t("manage.no_answer"));
    });
})();
