// Reports for a range of days on the dashboard: GET /api/v1/centers/{c}/report shown
// as two tables (per service, per staff member), or its CSV through a plain link.
"use strict";

(() => {
  const M = Manage;
  const { t, el } = Novbe;
  const { $, state, minutes, percent } = M;

  // Shown in both report tables, in this order (manage.html's report_head), with how
  // each figure is written.
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

  // Both dates default to the center's today (its local day) once its figures arrive.
  function defaultReportRange(day) {
    if ($("report-from").value || $("report-to").value) return;
    $("report-from").value = day;
    $("report-to").value = day;
    updateCsvLink();
  }

  // Another center or a new login: the last report belongs to someone else.
  function resetReport() {
    state.report = null;
    $("report-from").value = "";
    $("report-to").value = "";
    $("report-result").hidden = true;
    M.showInline($("report-error"), "");
    updateCsvLink();
  }

  async function showReport(event) {
    event.preventDefault();
    const code = state.centerCode;
    M.showInline($("report-error"), "");
    $("report-show").disabled = true;
    try {
      const body = await StaffSession.request("GET", reportUrl("json"));
      if (code !== state.centerCode) return;
      state.report = body;
      renderReport();
    } catch (err) {
      // A bad range (from after to, over a year) is refused with words that say why.
      $("report-result").hidden = true;
      M.handleFetchError(err, $("report-error"));
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
          el("td", { class: "name" }, el("strong", {}, s.prefix), " ", Novbe.named(s.name)),
          ...figureCells(s),
        ),
      ),
    );
    $("report-staff-rows").replaceChildren(
      ...r.staff.map((p) =>
        el(
          "tr",
          { dataset: { staff: p.username } },
          el("td", { class: "name" }, p.username),
          ...figureCells(p),
          el("td", { class: "num", dataset: { figure: "out_of_order" } }, M.outOfOrderRate(p.out_of_order)),
        ),
      ),
    );
    $("report-staff-empty").hidden = r.staff.length > 0;
    M.renderAppointmentReport(r);
    $("report-result").hidden = false;
  }

  function bindReports() {
    $("report-form").addEventListener("submit", showReport);
    $("report-from").addEventListener("input", updateCsvLink);
    $("report-to").addEventListener("input", updateCsvLink);
  }

  Object.assign(M, { defaultReportRange, resetReport, renderReport, updateCsvLink, bindReports });
})();
