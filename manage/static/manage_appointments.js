// Booked visits on the dashboard: the hall's occupancy tile and today's bookings
// (figures from GET .../dashboard, so live like the rest), the day's list (GET
// .../appointments) while its section is open, fetched again with every refresh of
// the figures; and the bookings' part of a report for a range of days.
"use strict";

(() => {
  const M = Manage;
  const { t, el } = Novbe;
  const { $, state, minutes, percent } = M;

  // server/reports/appointments.py PUNCTUALITY_BUCKETS, in order.
  const BUCKETS = [
    "early_60_plus",
    "early_30_60",
    "early_10_30",
    "early_0_10",
    "late_0_5",
    "late_5_10",
    "late_10_plus",
  ];
  const REPORT_COLUMNS = [
    ["booked", (v) => v],
    ["cancelled", (v) => v],
    ["checked_in", (v) => v],
    ["no_shows", (v) => v],
    ["no_show_rate", percent],
    ["late_walk_ins", (v) => v],
    ["avg_wait_after_start_s", minutes],
    ["p90_wait_after_start_s", minutes],
  ];

  // ---- the dashboard -----------------------------------------------------------------

  function renderAppointments(d) {
    const hall = d.hall;
    $("k-hall").textContent =
      hall.capacity === null
        ? String(hall.present)
        : t("hall.present_of", { present: hall.present, capacity: hall.capacity });
    $("hall-tile").classList.toggle("full", hall.full);
    $("hall-tile").title = hall.full ? t("hall.full") : "";
    $("hall-full").hidden = !hall.full; // "full" in words, not only the red border
    $("k-hall").dataset.full = String(hall.full);
    const a = d.appointments;
    $("a-booked").textContent = a.booked;
    $("a-checked-in").textContent = a.checked_in;
    $("a-no-shows").textContent = a.no_shows;
    $("a-no-show-rate").textContent = percent(a.no_show_rate);
    $("a-p90").textContent = minutes(a.p90_wait_after_start_s);
    // A day without bookings has no section (most centers book nothing).
    $("appointments").hidden = a.booked + a.cancelled === 0;
    refreshList();
  }

  function refreshList() {
    if ($("appointments").hidden || !$("appt-details").open || !state.dashboard) return;
    loadList();
  }

  async function loadList() {
    const code = state.centerCode;
    const fetchId = ++state.apptFetches;
    const path = `/api/v1/centers/${encodeURIComponent(code)}/appointments`;
    try {
      const body = await StaffSession.request("GET", `${path}?date=${state.dashboard.day}`);
      if (fetchId !== state.apptFetches || code !== state.centerCode) return; // an older answer
      state.appointments = body.appointments;
      M.showInline($("appt-error"), "");
      renderList();
    } catch (err) {
      M.handleFetchError(err, $("appt-error"));
    }
  }

  function punctuality(minutesLate) {
    if (minutesLate === null) return "–";
    if (minutesLate === 0) return t("appointments.on_time");
    const n = Math.abs(minutesLate);
    return minutesLate < 0 ? t("appointments.early_by", { n }) : t("appointments.late_by", { n });
  }

  function renderList() {
    const rows = (state.appointments || []).map((a) =>
      el(
        "tr",
        { dataset: { code: a.code, stage: a.stage } },
        el("td", { class: "time" }, M.clockTime(a.start)),
        el("td", { class: "code" }, a.code),
        el("td", { class: "name" }, el("strong", {}, a.service.prefix), " ", Novbe.named(a.service.name)),
        el("td", {}, el("span", { class: `stage ${a.stage}` }, t(`appointments.stage.${a.stage}`))),
        el("td", { class: "time" }, a.ticket ? a.ticket.number : "–"),
        el("td", { class: "num", dataset: { figure: "punctuality" } }, punctuality(a.punctuality_min)),
      ),
    );
    $("appt-rows").replaceChildren(...rows);
    $("appt-empty").hidden = rows.length > 0;
  }

  // Another center or a new login: what was shown belongs to someone else.
  function resetAppointments() {
    state.appointments = null;
    state.apptFetches = (state.apptFetches || 0) + 1;
    $("appointments").hidden = true;
    $("appt-rows").replaceChildren();
    M.showInline($("appt-error"), "");
  }

  // ---- the report ----------------------------------------------------------------------

  function renderAppointmentReport(r) {
    const part = r.appointments;
    const center = part.centers[0];
    const any = part.services.length > 0 || (center && center.booked + center.cancelled > 0);
    $("report-appointments").hidden = !any;
    if (!any) return;
    $("report-appt-rows").replaceChildren(
      ...part.services.map((s) =>
        el(
          "tr",
          { dataset: { service: s.service } },
          el("td", { class: "name" }, el("strong", {}, s.prefix), " ", Novbe.named(s.name)),
          ...REPORT_COLUMNS.map(([name, format]) =>
            el("td", { class: "num", dataset: { figure: name } }, format(s[name])),
          ),
        ),
      ),
    );
    const checkedIn = BUCKETS.reduce((sum, b) => sum + center.punctuality[b], 0);
    $("report-punctuality-rows").replaceChildren(
      ...BUCKETS.map((b) =>
        el(
          "tr",
          { dataset: { bucket: b } },
          el("td", {}, t(`appointments.bucket.${b}`)),
          el("td", { class: "num" }, center.punctuality[b]),
          el("td", { class: "num" }, checkedIn ? percent(center.punctuality[b] / checkedIn) : "–"),
        ),
      ),
    );
  }

  function bindAppointments() {
    state.apptFetches = 0;
    $("appt-details").addEventListener("toggle", refreshList);
  }

  Object.assign(M, {
    renderAppointments,
    renderAppointmentList: renderList,
    resetAppointments,
    renderAppointmentReport,
    bindAppointments,
  });
})();
