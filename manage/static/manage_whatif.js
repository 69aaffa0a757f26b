// What if, and the policy check (issue 17, server/forecast/whatif.py): a past day (its
// real visitors) or a typical weekday replayed by the simulation as it was and with
// other counters or another call policy (POST .../what-if), and, in the reports, the
// center's call policy against first come, first served on a recorded day (GET
// .../reports/policy-check). The counters and their services come from GET .../admin
// when the panel is first opened; only the rows a manager changed are sent.
"use strict";

(() => {
  const M = Manage;
  const { t, el, ApiError } = Novbe;
  const { $, state, minutes, percent } = M;

  const wi = {
    setup: null, // GET .../admin: {center, services, counters}
    setupFor: null, // the center it is for
    counters: [], // [{label, open, services: [codes], wasOpen, wasServices}]
    result: null, // the last POST .../what-if
    running: false,
    policy: null, // the last GET .../reports/policy-check
    checking: false,
  };

  function base() {
    return `/api/v1/centers/${encodeURIComponent(state.centerCode)}`;
  }

  function serviceName(code) {
    return M.forecastServiceName(code);
  }

  function addDays(day, n) {
    const d = new Date(`${day}T12:00:00Z`);
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }

  // The center's yesterday for both day fields, once its figures say what today is.
  function defaultWhatIfDays(today) {
    const yesterday = addDays(today, -1);
    if (!$("whatif-day").value) $("whatif-day").value = yesterday;
    if (!$("policy-day").value) $("policy-day").value = yesterday;
    $("whatif-day").max = today;
    $("policy-day").max = today;
    if (!$("whatif-weekday").dataset.chosen) {
      $("whatif-weekday").value = String((new Date(`${today}T12:00:00Z`).getUTCDay() + 6) % 7);
    }
  }

  function resetWhatIf() {
    wi.setup = null;
    wi.setupFor = null;
    wi.counters = [];
    wi.result = null;
    wi.policy = null;
    $("whatif-day").value = "";
    $("policy-day").value = "";
    delete $("whatif-weekday").dataset.chosen;
    $("whatif-ratio").value = "";
    $("whatif-policy").value = "";
    $("whatif-result").hidden = true;
    $("policy-result").hidden = true;
    M.showInline($("whatif-error"), "");
    M.showInline($("policy-error"), "");
    $("whatif-counter-rows").replaceChildren();
    $("whatif-details").open = false;
  }

  // ---- the form ----------------------------------------------------------------------

  // Monday first (the API's weekday 0), named in the page's language.
  function renderWeekdays() {
    const select = $("whatif-weekday");
    const chosen = select.value;
    const format = new Intl.DateTimeFormat(Novbe.language, { weekday: "long", timeZone: "UTC" });
    const options = [0, 1, 2, 3, 4, 5, 6].map((n) =>
      el("option", { value: String(n) }, format.format(new Date(Date.UTC(2024, 0, 1 + n)))),
    );
    select.replaceChildren(...options);
    select.value = chosen || "0";
  }

  async function loadSetup() {
    const code = state.centerCode;
    if (!code || wi.setupFor === code) return;
    wi.setupFor = code;
    try {
      const body = await StaffSession.request("GET", `${base()}/admin`);
      if (code !== state.centerCode) return;
      wi.setup = body;
      wi.counters = body.counters.map((c) => ({
        label: c.label,
        open: c.state !== "closed",
        services: [...c.services],
        wasOpen: c.state !== "closed",
        wasServices: [...c.services],
      }));
      $("whatif-ratio").placeholder = String(body.center.priority_ratio ?? "");
      renderLegend();
      renderCounters();
    } catch (err) {
      wi.setupFor = null; // try again when opened again
      M.handleFetchError(err, $("whatif-error"));
    }
  }

  function changed(c) {
    return c.open !== c.wasOpen || c.services.join(",") !== c.wasServices.join(",");
  }

  // One row per counter: open, its services in order (codes, comma-separated; the
  // first is served first), and whether the row differs from today's set-up.
  function renderCounters() {
    const rows = wi.counters.map((c, i) => {
      const open = el("input", {
        type: "checkbox",
        checked: c.open,
        "aria-label": t("whatif.open_counter", { counter: c.label }),
        onchange: (e) => {
          c.open = e.target.checked;
          markRow(i);
        },
      });
      const services = el("input", {
        type: "text",
        class: "codes",
        value: c.services.join(", "),
        spellcheck: "false",
        autocomplete: "off",
        "aria-label": t("whatif.services_of", { counter: c.label }),
        oninput: (e) => {
          c.services = parseCodes(e.target.value);
          markRow(i);
        },
      });
      return el(
        "tr",
        { dataset: { counter: c.label }, class: changed(c) ? "changed" : "" },
        el("td", {}, el("strong", {}, c.label)),
        el("td", { class: "check" }, open),
        el(
          "td",
          { class: "codes" },
          services,
          el("span", { class: "names muted" }, namesOf(c.services)),
        ),
        el("td", { class: "mark" }, changed(c) ? t("whatif.changed") : ""),
      );
    });
    $("whatif-counter-rows").replaceChildren(...rows);
  }

  // Codes or the services' letters ("A, C"), as a manager reads them off the tickets.
  function parseCodes(text) {
    const byPrefix = new Map(
      ((wi.setup && wi.setup.services) || []).map((s) => [String(s.prefix).toUpperCase(), s.code]),
    );
    return text
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean)
      .map((x) => byPrefix.get(x.toUpperCase()) || x);
  }

  // The services' letters under the field (the names are in the legend).
  function namesOf(codes) {
    const services = (wi.setup && wi.setup.services) || [];
    return codes
      .map((code) => {
        const s = services.find((x) => x.code === code);
        return s ? s.prefix : `${code}?`;
      })
      .join(" · ");
  }

  function renderLegend() {
    const services = (wi.setup && wi.setup.services) || [];
    $("whatif-service-codes").replaceChildren(
      ...services.map((s) =>
        el(
          "tr",
          {},
          el("td", { class: "code" }, s.code),
          el("td", { class: "name" }, el("strong", {}, s.prefix), " ", Novbe.named(s.name)),
        ),
      ),
    );
  }

  function markRow(i) {
    const c = wi.counters[i];
    const row = $("whatif-counter-rows").children[i];
    row.classList.toggle("changed", changed(c));
    row.querySelector(".mark").textContent = changed(c) ? t("whatif.changed") : "";
    row.querySelector(".names").textContent = namesOf(c.services);
  }

  function resetCounters() {
    for (const c of wi.counters) {
      c.open = c.wasOpen;
      c.services = [...c.wasServices];
    }
    renderCounters();
    M.showInline($("whatif-error"), "");
  }

  // The request, or an error naming the field.
  function whatIfBody() {
    const body = {};
    if ($("whatif-use-weekday").checked) body.weekday = Number($("whatif-weekday").value);
    else {
      if (!$("whatif-day").value) throw new Error(t("whatif.need_day"));
      body.day = $("whatif-day").value;
    }
    const known = new Set(wi.setup ? wi.setup.services.map((s) => s.code) : []);
    const counters = [];
    for (const c of wi.counters.filter(changed)) {
      const unknown = c.services.filter((code) => !known.has(code));
      if (unknown.length) {
        const codes = unknown.join(", ");
        throw new Error(t("whatif.unknown_service", { counter: c.label, codes }));
      }
      counters.push({ label: c.label, services: c.services, open: c.open });
    }
    if (counters.length) body.counters = counters;
    if ($("whatif-policy").value) body.call_policy = $("whatif-policy").value;
    if ($("whatif-ratio").value !== "") {
      const ratio = Number($("whatif-ratio").value);
      if (!Number.isInteger(ratio) || ratio < 1) throw new Error(t("whatif.bad_ratio"));
      body.priority_ratio = ratio;
    }
    return body;
  }

  // The server's 4xx names its field: said with the words for it.
  function describeError(err) {
    if (err instanceof ApiError && err.body && err.body.error) {
      const details = err.body.error.details || {};
      const field = details.field || "";
      const prefix = field ? `${t("whatif.field", { field })} ` : "";
      return `${prefix}${M.describe(err)}`;
    }
    return M.describe(err);
  }

  async function runWhatIf(event) {
    event.preventDefault();
    if (wi.running) return;
    const code = state.centerCode;
    let body;
    try {
      body = whatIfBody();
    } catch (err) {
      M.showInline($("whatif-error"), err.message);
      return;
    }
    M.showInline($("whatif-error"), "");
    wi.running = true;
    $("whatif-run").disabled = true;
    $("whatif-spinner").hidden = false;
    $("whatif").setAttribute("aria-busy", "true");
    try {
      const result = await StaffSession.request("POST", `${base()}/what-if`, body);
      if (code !== state.centerCode) return;
      wi.result = result;
      renderResult();
    } catch (err) {
      if (code !== state.centerCode) return;
      $("whatif-result").hidden = true;
      if (!(err instanceof ApiError && err.status === 401)) {
        M.showInline($("whatif-error"), describeError(err));
      }
    } finally {
      wi.running = false;
      $("whatif-run").disabled = false;
      $("whatif-spinner").hidden = true;
      $("whatif").removeAttribute("aria-busy");
    }
  }

  // ---- results -----------------------------------------------------------------------

  // Lower waits and a higher share within target are better; equal within a rounding.
  function compare(name, before, after) {
    if (before === null || before === undefined || after === null || after === undefined) return "";
    const diff = after - before;
    if (name === "within_target") {
      if (Math.abs(diff) < 0.005) return "";
      return diff > 0 ? "better" : "worse";
    }
    if (Math.abs(diff) < 30) return "";
    return diff < 0 ? "better" : "worse";
  }

  function figure(name, value) {
    if (name === "visitors") return value ?? "–";
    return name === "within_target" ? percent(value) : minutes(value);
  }

  function numCell(name, text) {
    return el("td", { class: "num", dataset: { figure: name } }, text);
  }

  // A changed figure, coloured and said in words (colour only backs up the word).
  function changedCell(name, before, after) {
    const verdict = compare(name, before, after);
    return el(
      "td",
      { class: `num changed-figure ${verdict}`, dataset: { figure: `changed_${name}`, verdict } },
      figure(name, after),
      // The arrow says which way the figure went; the colour and the word whether that is good.
      verdict
        ? el("span", { class: "verdict", "aria-hidden": "true" }, after > before ? " ▲" : " ▼")
        : null,
      verdict ? el("span", { class: "sr-only" }, ` (${verdictWord(verdict)})`) : null,
    );
  }

  function verdictWord(verdict) {
    return verdict === "better" ? t("whatif.better") : t("whatif.worse");
  }

  function columnName(column) {
    if (column === "recorded") return t("whatif.col_recorded");
    return column === "baseline" ? t("whatif.col_baseline") : t("whatif.col_changed");
  }

  function policyWord(policy) {
    if (policy === "ratio") return t("whatif.policy_ratio");
    if (policy === "fcfs") return t("whatif.policy_fcfs");
    return policy === "strict" ? t("whatif.policy_strict") : policy;
  }

  const FIGURES = [
    ["p90_wait_s", () => t("whatif.p90_wait")],
    ["within_target", () => t("whatif.within_target")],
    ["priority_p90_wait_s", () => t("whatif.priority_p90")],
  ];

  function renderResult() {
    const r = wi.result;
    if (!r) return;
    const recorded = r.recorded || null;
    const columns = recorded ? ["recorded", "baseline", "changed"] : ["baseline", "changed"];
    const head1 = el(
      "tr",
      {},
      el("th", { rowspan: 2 }, t("manage.service")),
      el("th", { rowspan: 2, class: "num" }, t("whatif.visitors")),
      ...FIGURES.map(([, title]) => el("th", { colspan: columns.length, class: "group" }, title())),
    );
    const head2 = el(
      "tr",
      {},
      ...FIGURES.flatMap(() => columns.map((c) => el("th", { class: "num" }, columnName(c)))),
    );
    $("whatif-head").replaceChildren(head1, head2);
    const byService = (figs) => new Map(((figs && figs.services) || []).map((s) => [s.service, s]));
    const rec = byService(recorded);
    const changedRows = byService(r.changed);
    const row = (name, base, real, after, attrs) =>
      el(
        "tr",
        attrs,
        el("td", { class: "name" }, name),
        el("td", { class: "num" }, figure("visitors", (base || after || {}).visitors)),
        ...FIGURES.flatMap(([key]) => {
          const was = base ? base[key] : null;
          const cells = [];
          const actual = real ? real[key] : null;
          if (recorded) cells.push(numCell(`recorded_${key}`, figure(key, actual)));
          cells.push(numCell(`baseline_${key}`, figure(key, was)));
          cells.push(changedCell(key, was, after ? after[key] : null));
          return cells;
        }),
      );
    $("whatif-rows").replaceChildren(
      ...r.baseline.services.map((b) =>
        row(serviceName(b.service), b, rec.get(b.service), changedRows.get(b.service), {
          dataset: { service: b.service },
        }),
      ),
    );
    const real = recorded && recorded.overall;
    $("whatif-foot").replaceChildren(
      row(t("whatif.overall"), r.baseline.overall, real, r.changed.overall, { class: "overall" }),
    );
    const source =
      r.source === "recorded"
        ? t("whatif.source_recorded", { day: r.day })
        : t("whatif.source_typical", { weekday: weekdayName(r.weekday) });
    $("whatif-summary").textContent = t("whatif.summary", {
      source,
      visitors: r.visitors,
      seconds: ((r.elapsed_ms || 0) / 1000).toFixed(1),
    });
    $("whatif-result").hidden = false;
  }

  function weekdayName(n) {
    const format = new Intl.DateTimeFormat(Novbe.language, { weekday: "long", timeZone: "UTC" });
    return format.format(new Date(Date.UTC(2024, 0, 1 + Number(n))));
  }

  // ---- policy check --------------------------------------------------------------------

  async function checkPolicy(event) {
    event.preventDefault();
    if (wi.checking) return;
    const code = state.centerCode;
    const day = $("policy-day").value;
    M.showInline($("policy-error"), "");
    if (!day) {
      M.showInline($("policy-error"), t("whatif.need_day"));
      return;
    }
    wi.checking = true;
    $("policy-show").disabled = true;
    $("policy-spinner").hidden = false;
    try {
      const path = `${base()}/reports/policy-check?${new URLSearchParams({ day })}`;
      const body = await StaffSession.request("GET", path);
      if (code !== state.centerCode) return;
      wi.policy = body;
      renderPolicy();
    } catch (err) {
      if (code !== state.centerCode) return;
      $("policy-result").hidden = true;
      if (!(err instanceof ApiError && err.status === 401)) {
        M.showInline($("policy-error"), describeError(err));
      }
    } finally {
      wi.checking = false;
      $("policy-show").disabled = false;
      $("policy-spinner").hidden = true;
    }
  }

  function policyName(p) {
    if (!p) return "";
    const name = policyWord(p.call_policy);
    return p.call_policy === "ratio" ? `${name} (1:${p.priority_ratio})` : name;
  }

  // What the policy buys against first come, first served, in one sentence.
  function policySentence(overall) {
    const known = (v) => v !== null && v !== undefined;
    const diff = (a, b) => (known(a) && known(b) ? a - b : null);
    const priority = diff(overall.fcfs.priority_p90_wait_s, overall.policy.priority_p90_wait_s);
    const all = diff(overall.policy.p90_wait_s, overall.fcfs.p90_wait_s);
    let first;
    if (priority === null) first = t("policy.no_priority");
    else if (priority >= 60) first = t("policy.priority_less", { wait: minutes(priority) });
    else if (priority <= -60) first = t("policy.priority_more", { wait: minutes(-priority) });
    else first = t("policy.priority_same");
    if (all === null) return t("policy.no_visitors");
    let second;
    if (all >= 60) second = t("policy.all_more", { wait: minutes(all) });
    else if (all <= -60) second = t("policy.all_less", { wait: minutes(-all) });
    else second = t("policy.all_same");
    return t("policy.sentence", { policy: policyName(wi.policy.policy), first, second });
  }

  function renderPolicy() {
    const p = wi.policy;
    if (!p) return;
    const cols = ["policy", "fcfs"];
    $("policy-head").replaceChildren(
      el(
        "tr",
        {},
        el("th", { rowspan: 2 }, t("manage.service")),
        el("th", { rowspan: 2, class: "num" }, t("whatif.visitors")),
        ...FIGURES.map(([, title]) => el("th", { colspan: 2, class: "group" }, title())),
      ),
      el(
        "tr",
        {},
        ...FIGURES.flatMap(() =>
          cols.map((c) =>
            el("th", { class: "num" }, c === "policy" ? policyName(p.policy) : policyWord("fcfs")),
          ),
        ),
      ),
    );
    const row = (name, visitors, figs, attrs) =>
      el(
        "tr",
        attrs,
        el("td", { class: "name" }, name),
        el("td", { class: "num" }, visitors ?? "–"),
        ...FIGURES.flatMap(([key]) => [
          numCell(`policy_${key}`, figure(key, figs.policy[key])),
          numCell(`fcfs_${key}`, figure(key, figs.fcfs[key])),
        ]),
      );
    $("policy-rows").replaceChildren(
      ...p.services.map((s) =>
        row(serviceName(s.service), s.visitors, s, { dataset: { service: s.service } }),
      ),
    );
    const visitors = p.overall.visitors ?? p.services.reduce((n, s) => n + (s.visitors || 0), 0);
    const overall = row(t("whatif.overall"), visitors, p.overall, { class: "overall" });
    $("policy-foot").replaceChildren(overall);
    $("policy-summary").textContent = policySentence(p.overall);
    $("policy-result").hidden = false;
  }

  function renderWhatIf() {
    renderWeekdays();
    if (wi.counters.length) renderCounters();
    renderLegend();
    renderResult();
    renderPolicy();
  }

  function bindWhatIf() {
    renderWeekdays();
    $("whatif-details").addEventListener("toggle", () => {
      if ($("whatif-details").open) loadSetup();
    });
    $("whatif-form").addEventListener("submit", runWhatIf);
    $("whatif-reset").addEventListener("click", resetCounters);
    $("whatif-weekday").addEventListener("change", () => {
      $("whatif-weekday").dataset.chosen = "1";
      $("whatif-use-weekday").checked = true;
    });
    $("whatif-day").addEventListener("input", () => {
      $("whatif-use-day").checked = true;
    });
    $("policy-form").addEventListener("submit", checkPolicy);
  }

  Object.assign(M, { defaultWhatIfDays, resetWhatIf, renderWhatIf, bindWhatIf });
})();
