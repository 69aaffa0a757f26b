// Why was a visitor called out of order? The dashboard's "Out-of-order calls" section:
// a day's out-of-order calls (GET /api/v1/centers/{c}/out-of-order), each ticket number
// a button that opens the ticket's history (GET .../tickets/history) in a dialog, and a
// "Find a ticket" form opening the same history. Two clicks from the dashboard to the
// reason. Every text from the server goes in as text (Novbe.el), never as HTML.
"use strict";

(() => {
  const M = Manage;
  const { t, el } = Novbe;
  const { $, state } = M;
  const NUMBER = /^[A-Z]{1,3}[0-9]{3,6}$/;

  // What this part knows: the day shown and its calls, the history open (if any).
  Object.assign(state, { ooo: null, oooFetches: 0, history: null });

  // "1 of 2 (50%)", or "–" without calls: a staff member's rate (OutOfOrderRate).
  function outOfOrderRate(rate) {
    if (!rate || !rate.calls) return "–";
    return t("manage.ooo_rate", { n: rate.out_of_order, calls: rate.calls, share: M.percent(rate.share) });
  }

  function centerPath(path) {
    return `/api/v1/centers/${encodeURIComponent(state.centerCode)}${path}`;
  }

  // A time with seconds, in the center's time zone: the order of events matters here.
  function exactTime(iso) {
    const format = new Intl.DateTimeFormat(Novbe.language, {
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      timeZone: state.timezone || undefined,
    });
    return format.format(new Date(iso));
  }

  function today() {
    return state.dashboard ? state.dashboard.day : M.localToday();
  }

  // ---- the day's out-of-order calls ------------------------------------------------------

  async function loadCalls() {
    const code = state.centerCode;
    if (!code) return;
    const day = $("ooo-day").value || today();
    const fetch = ++state.oooFetches; // an older answer arriving late is dropped
    M.showInline($("ooo-error"), "");
    try {
      const body = await StaffSession.request("GET", `${centerPath("/out-of-order")}?day=${encodeURIComponent(day)}`);
      if (code !== state.centerCode || fetch !== state.oooFetches) return;
      state.ooo = body;
      renderCalls();
    } catch (err) {
      if (fetch === state.oooFetches) M.handleFetchError(err, $("ooo-error"));
    }
  }

  function renderCalls() {
    const body = state.ooo;
    if (!body) {
      $("ooo-rows").replaceChildren();
      $("ooo-empty").hidden = true;
      return;
    }
    const rows = body.calls.map((call) =>
      el(
        "tr",
        { dataset: { number: call.number } },
        el("td", { class: "time" }, exactTime(call.at)),
        el(
          "td",
          {},
          el(
            "button",
            {
              type: "button",
              class: "ticket-link",
              "aria-label": t("manage.history_open", { number: call.number }),
              onclick: () => openHistory(call.number, body.day),
            },
            call.number,
          ),
        ),
        el("td", { class: "name" }, el("strong", {}, call.service.prefix), " ", Novbe.named(call.service.name)),
        el("td", { class: "reason" }, call.reason ? M.word("manage.reason", call.reason) : "–"),
        el("td", { class: "by" }, call.staff || "–"),
        el("td", {}, call.counter || "–"),
        el("td", { class: "num", dataset: { figure: "passed" } }, call.passed),
      ),
    );
    $("ooo-rows").replaceChildren(...rows);
    $("ooo-empty").hidden = rows.length > 0;
    $("ooo-table").hidden = rows.length === 0;
  }

  // New figures for the center: today's list follows them while the section is open.
  function refreshCalls() {
    if (!$("ooo-details").open || !state.dashboard) return;
    if (!$("ooo-day").value) $("ooo-day").value = state.dashboard.day;
    if (!$("find-day").value) $("find-day").value = state.dashboard.day;
    if ($("ooo-day").value === state.dashboard.day) loadCalls();
  }

  // The section was just opened: the day shown (today unless one was chosen).
  function refreshOpened() {
    if (!$("ooo-details").open || !state.dashboard) return;
    if ($("ooo-day").value && $("ooo-day").value !== state.dashboard.day) loadCalls();
    else refreshCalls();
  }

  // Another center or a new login: what was shown belongs to someone else.
  function resetHistory() {
    state.ooo = null;
    state.oooFetches += 1;
    $("ooo-day").value = "";
    $("find-day").value = "";
    $("find-number").value = "";
    M.showInline($("ooo-error"), "");
    M.showInline($("find-error"), "");
    renderCalls();
    closeHistory();
  }

  // ---- one ticket's history ----------------------------------------------------------------

  async function openHistory(number, day) {
    const code = state.centerCode;
    M.showInline($("find-error"), "");
    const params = new URLSearchParams({ number, day });
    try {
      const body = await StaffSession.request("GET", `${centerPath("/tickets/history")}?${params}`);
      if (code !== state.centerCode) return;
      state.history = body;
      renderHistory();
      const dialog = $("history-dialog");
      if (!dialog.open) dialog.showModal();
      $("history-close").focus();
    } catch (err) {
      if (err instanceof Novbe.ApiError && err.status === 404) {
        M.showInline($("find-error"), t("manage.find_not_found", { number, day }));
      } else {
        M.handleFetchError(err, $("find-error"));
      }
    }
  }

  function closeHistory() {
    state.history = null;
    const dialog = $("history-dialog");
    if (dialog.open) dialog.close();
  }

  // A log entry's details ({to_service: "x", front: true}) in words ("To service: x ·
  // To the front: yes"): each key by our word for it (else the key), a priority class
  // by its name (the common words), yes/no for a flag; empty ones (an issue's
  // priority: null) say nothing.
  function details(entry) {
    const parts = [];
    if (entry.reason) {
      parts.push(entry.action === "call_out_of_order" ? M.word("manage.reason", entry.reason) : entry.reason);
    }
    for (const [key, value] of Object.entries(entry.details || {})) {
      if (value === null || value === undefined || value === "") continue;
      parts.push(`${M.word("manage.detail", key)}: ${detailValue(key, value)}`);
    }
    return parts.join(" · ") || "–";
  }

  function detailValue(key, value) {
    if (typeof value === "boolean") return t(value ? "manage.detail_yes" : "manage.detail_no");
    if (typeof value === "object") return JSON.stringify(value);
    if (key === "priority") return M.word("priority", value);
    if (key === "kind") return M.word("manage.ticket_kind", value);
    return String(value);
  }

  function renderHistory() {
    const h = state.history;
    if (!h) return;
    $("history-title").textContent = t("manage.history_title", { number: h.number });
    $("history-summary").textContent = [
      `${h.service.prefix} ${Novbe.named(h.service.name)}`,
      h.day,
      t(`status.${h.status}`),
      h.counter ? `${t("manage.counter")} ${h.counter}` : null,
    ]
      .filter(Boolean)
      .join(" · ");
    const rows = h.events.map((entry) =>
      el(
        "tr",
        { class: entry.action === "call_out_of_order" ? "out-of-order" : "", dataset: { action: entry.action } },
        el("td", { class: "time" }, exactTime(entry.at)),
        el("td", {}, M.word("manage.action", entry.action)),
        el("td", {}, entry.counter || "–"),
        el("td", { class: "by" }, entry.staff || entry.device || "–"),
        el("td", { class: "reason" }, details(entry)),
        // Its place in the day's fairness ledger; the hash on hover, for an auditor.
        entry.ledger
          ? el("td", { class: "num", title: entry.ledger.hash }, `#${entry.ledger.seq}`)
          : el("td", {}, "–"),
      ),
    );
    $("history-rows").replaceChildren(...rows);
  }

  function findTicket(event) {
    event.preventDefault();
    const number = $("find-number").value.trim().toUpperCase();
    $("find-number").value = number;
    if (!NUMBER.test(number)) {
      M.showInline($("find-error"), t("manage.find_bad_number"));
      $("find-number").focus();
      return;
    }
    openHistory(number, $("find-day").value || today());
  }

  // The language changed: write what is shown in it.
  function renderHistoryPart() {
    renderCalls();
    renderHistory();
  }

  function bindHistory() {
    // Opened before the center's figures came: its today (a local day, maybe not the
    // browser's) is not known yet, and refreshCalls loads the list when they come.
    $("ooo-details").addEventListener("toggle", refreshOpened);
    $("ooo-form").addEventListener("submit", (event) => {
      event.preventDefault();
      loadCalls();
    });
    $("ooo-day").addEventListener("change", loadCalls);
    $("find-form").addEventListener("submit", findTicket);
    $("history-close").addEventListener("click", closeHistory);
    $("history-dialog").addEventListener("close", () => {
      state.history = null;
    });
  }

  Object.assign(M, { outOfOrderRate, refreshCalls, resetHistory, renderHistoryPart, bindHistory });
})();
