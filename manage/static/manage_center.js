// One center on the dashboard: its figures (GET /api/v1/centers/{c}/dashboard), its
// alerts and its charts. The page follows the center over /live and fetches the
// figures again whenever something happens there (a ticket issued or called, a counter
// changed, fresh queue figures), a few hundred milliseconds after the last event so
// that a burst of events costs one request. Nothing polls.
"use strict";

(() => {
  const M = Manage;
  const { t, el } = Novbe;
  const { $, state, minutes, percent } = M;

  const CHART_MIN_INTERVAL_MS = 60 * 1000; // charts are hourly: redraw at most once a minute
  const MAX_ALERT_LOG = 8;
  const LIVE_EVENTS = [
    "queue.stats",
    "ticket.issued",
    "ticket.called",
    "ticket.updated",
    "counter.updated",
  ];

  function openCenter(code) {
    state.centerCode = code;
    state.dashboard = null;
    state.timezone = null;
    state.printers = new Map();
    state.alertLog = [];
    state.chartsAt = 0;
    sessionStorage.setItem(M.KEYS.center, code);
    $("chart-date").value = ""; // set to the center's today with its first figures
    M.resetReport();
    M.resetHistory();
    M.resetAppointments();
    M.resetForecast(); // manage_forecast.js
    M.resetWhatIf(); // manage_whatif.js
    M.showView("center");
    $("center-name").textContent = code;
    connect(code);
    refresh();
  }

  // A (re)connect brings a snapshot, after which the figures are fetched again, so
  // nothing missed while away stays missing.
  function connect(code) {
    M.disconnect();
    const auth = StaffSession.user.center ? {} : { center: code }; // a network admin names it
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
        if (alert.kind === "forecast") M.refreshForecast(true); // a warning raised or cleared
      },
    };
    for (const event of LIVE_EVENTS) handlers[event] = scheduleRefresh;
    const banner = Novbe.statusBanner($("connection"));
    const socket = Novbe.live(auth, handlers, {
      onStatus: (status, reason) => {
        if (state.socket !== socket) return; // closed on purpose
        banner(status, reason);
        // The session may have ended: StaffSession signs out if so.
        if (status === "refused") StaffSession.recheck().catch(() => {});
      },
    });
    state.socket = socket;
  }

  function scheduleRefresh() {
    clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(refresh, M.REFRESH_DELAY_MS);
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
      const path = `/api/v1/centers/${encodeURIComponent(code)}/dashboard`;
      const body = await StaffSession.request("GET", path);
      if (code === state.centerCode) {
        state.dashboard = body;
        M.showInline($("center-error"), "");
        render();
      }
    } catch (err) {
      M.handleFetchError(err, $("center-error"));
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
    state.timezone = d.timezone; // before any time is written
    $("center-name").textContent = Novbe.named(d.name) || d.center;
    if (!$("chart-date").value) $("chart-date").value = d.day; // the center's local day
    M.defaultReportRange(d.day);
    $("as-of").textContent = t("manage.as_of", { time: M.clockTime(d.at) });
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
    M.renderAppointments(d); // the hall and today's bookings (manage_appointments.js)
    renderAlerts();
    renderCharts(false);
    M.refreshCalls(); // today's out-of-order calls, if that section is open
    M.refreshForecast(); // the next hour (manage_forecast.js), at most every 15 s
    M.defaultWhatIfDays(d.day); // manage_whatif.js
  }

  function renderServices(services) {
    const rows = services
      .filter((s) => s.active || s.waiting || s.today.visitors)
      .map((s) =>
        el(
          "tr",
          { class: s.over_target ? "over" : "", dataset: { service: s.service } },
          el("td", { class: "name" }, el("strong", {}, s.prefix), " ", Novbe.named(s.name)),
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
          ? `${t(`manage.state.${c.state}`)}: ${M.word("manage.pause", c.pause_reason)}`
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
        el("td", { class: "name" }, p.username),
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
    return t("manage.alert_printer", { device, problem: M.word("manage.printer", problem) });
  }

  // What is wrong now (from the figures and the printers' last status), then the
  // alerts heard over the live channel, with their time.
  function renderAlerts() {
    const items = [];
    const d = state.dashboard;
    if (d) {
      for (const s of d.services.filter((row) => row.over_target)) {
        items.push(
          el("li", { class: "now", dataset: { alert: "wait", service: s.service } }, waitAlertText(s)),
        );
      }
    }
    for (const printer of state.printers.values()) {
      const problem =
        printer.problem || (printer.mode === null && printer.online !== null ? "offline" : null);
      if (problem) {
        items.push(
          el(
            "li",
            { class: "now", dataset: { alert: "printer" } },
            printerAlertText(printer.device, problem),
          ),
        );
      }
    }
    const current = items.length;
    for (const a of state.alertLog) {
      let text;
      if (a.kind === "wait") text = waitAlertText(a);
      else if (a.kind === "forecast") text = M.forecastAlertText(a);
      else text = printerAlertText(a.device, a.problem);
      items.push(
        el(
          "li",
          { class: a.active ? "log" : "log cleared" },
          `${M.clockTime(a.at)} · `,
          a.active ? text : t("manage.alert_cleared", { text }),
        ),
      );
    }
    $("alert-list").replaceChildren(...items);
    // The forecast's warnings (manage_forecast.js) have a list of their own above.
    const forecast = M.forecastAlertCount();
    $("alerts").hidden = items.length === 0 && forecast === 0;
    $("alerts").classList.toggle("active", current > 0 || forecast > 0);
  }

  // ---- charts --------------------------------------------------------------------------

  // Images from the server; the login cookie goes with them. Today's charts are redrawn
  // with the figures, at most once a minute (they are hourly); another day's only when
  // the date or the language changes.
  function renderCharts(force) {
    const code = state.centerCode;
    const today = state.dashboard ? state.dashboard.day : M.localToday();
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

  Object.assign(M, { openCenter, render, renderCharts, renderAlerts });
})();
