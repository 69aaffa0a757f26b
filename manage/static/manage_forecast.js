// The next hour on the dashboard (issue 17, server/forecast/): the forecast card (GET
// .../forecast: the predicted wait per service now, in 30 and in 60 minutes against its
// target), its open warnings in the alerts area with the checked suggestion and Apply
// (POST .../forecast/warnings/{id}/apply), and the accuracy tile (GET
// .../forecast/accuracy). Fetched with the dashboard's figures but at most every 15 s
// (each answer is a simulation on the server), at once when a live `alert` of kind
// "forecast" arrives or after Apply, and every minute in a quiet hall (the forecast
// moves with the clock even when nothing happens).
"use strict";

(() => {
  const M = Manage;
  const { t, el, ApiError } = Novbe;
  const { $, state, minutes, percent } = M;

  const MIN_INTERVAL_MS = 15 * 1000;
  const QUIET_INTERVAL_MS = 60 * 1000;
  // The columns: now, and when a change made now has begun to tell (15), and later.
  const AHEAD_MIN = [0, 15, 30, 60];
  const SVG = "http://www.w3.org/2000/svg";

  const fc = {
    forecast: null, // the last GET .../forecast
    accuracy: null, // the last GET .../forecast/accuracy
    fetchedAt: 0,
    fetching: false,
    again: false,
    timer: null,
    applying: new Set(), // warning ids with an Apply on its way
    notice: null, // {ok, text}: what the last Apply did
    failed: false, // the last fetch failed (the card says so)
    warningsKey: "", // what the warnings list shows now
  };

  function base() {
    return `/api/v1/centers/${encodeURIComponent(state.centerCode)}`;
  }

  // Another center, a new login or the network view: nothing of the last one stays.
  function resetForecast() {
    stopForecast();
    fc.forecast = null;
    fc.accuracy = null;
    fc.fetchedAt = 0;
    fc.applying.clear();
    fc.notice = null;
    fc.warningsKey = "";
    M.showInline($("forecast-error"), "");
    renderForecast();
  }

  function stopForecast() {
    clearTimeout(fc.timer);
    fc.timer = null;
  }

  // `now`: a forecast alert or an Apply (skip the 15-s pacing). Otherwise the fetch
  // waits until 15 s after the last one; the newest call wins.
  function refreshForecast(now = false) {
    if (!state.centerCode) return;
    const due = now ? 0 : fc.fetchedAt + MIN_INTERVAL_MS - Date.now();
    stopForecast();
    if (due > 0) {
      fc.timer = setTimeout(() => refreshForecast(true), due);
      return;
    }
    fetchForecast();
  }

  async function fetchForecast() {
    const code = state.centerCode;
    if (fc.fetching) {
      fc.again = true;
      return;
    }
    fc.fetching = true;
    fc.fetchedAt = Date.now();
    try {
      const [forecast, accuracy] = await Promise.allSettled([
        StaffSession.request("GET", `${base()}/forecast`),
        StaffSession.request("GET", `${base()}/forecast/accuracy`),
      ]);
      if (code !== state.centerCode) return;
      if (forecast.status === "fulfilled") {
        fc.forecast = forecast.value;
        fc.failed = false;
        M.showInline($("forecast-error"), "");
      } else {
        fc.failed = true;
        M.handleFetchError(forecast.reason, $("forecast-error"));
      }
      if (accuracy.status === "fulfilled") fc.accuracy = accuracy.value;
      renderForecast();
    } finally {
      fc.fetching = false;
      if (fc.again) {
        fc.again = false;
        fetchForecast();
      } else if (code === state.centerCode && !fc.timer) {
        fc.timer = setTimeout(() => refreshForecast(true), nextFetchMs());
      }
    }
  }

  // The server keeps a center's forecast for a few seconds (FORECAST_CACHE_S) but reads
  // the warnings fresh: a warning newer than the forecast shown means a newer forecast
  // is due soon, so the card looks again shortly instead of in a minute.
  function nextFetchMs() {
    const f = fc.forecast;
    if (!f) return QUIET_INTERVAL_MS;
    const generated = Date.parse(f.generated_at);
    const newer = (f.warnings || []).some((w) => Date.parse(w.raised_at) > generated);
    return newer ? MIN_INTERVAL_MS + 1000 : QUIET_INTERVAL_MS;
  }

  // ---- names -------------------------------------------------------------------------

  // A service's "A Pension recalculation" from the dashboard (prefix and names), the
  // forecast's names, or its code.
  function serviceName(code) {
    const row = state.dashboard && state.dashboard.services.find((s) => s.service === code);
    if (row) return `${row.prefix} ${Novbe.named(row.name)}`;
    const f = fc.forecast && fc.forecast.services.find((s) => s.service === code);
    return f && f.name ? Novbe.named(f.name) : code;
  }

  function counterName(counter) {
    return counter && counter.label !== undefined ? counter.label : "?";
  }

  // ---- the card ----------------------------------------------------------------------

  // The point nearest to `offsetMin` after the first (points are every 5 minutes).
  function pointAt(points, offsetMin) {
    if (!points.length) return null;
    const start = Date.parse(points[0].at);
    const want = start + offsetMin * 60000;
    let best = points[0];
    for (const p of points) {
      if (Math.abs(Date.parse(p.at) - want) < Math.abs(Date.parse(best.at) - want)) best = p;
    }
    return best;
  }

  function risk(service) {
    return Math.max(0, ...service.points.map((p) => p.breach_probability || 0));
  }

  // Anything happening: people expected, a wait, or a warning.
  function busy(service) {
    return (
      service.warning ||
      service.points.some((p) => p.expected_arrivals > 0.05 || p.wait_p50_s > 0 || p.wait_p90_s > 0)
    );
  }

  // The median wait over the hour as a line, the target as a dashed one. Decoration: the
  // figures beside it say the same in words.
  function sparkline(service) {
    const width = 150;
    const height = 34;
    const target = service.target_wait_min * 60;
    const waits = service.points.map((p) => p.wait_p50_s || 0);
    const top = Math.max(target * 1.5, ...waits, 60);
    const y = (v) => (height - 2 - (v / top) * (height - 4)).toFixed(1);
    const x = (i) => (waits.length > 1 ? (i / (waits.length - 1)) * (width - 4) + 2 : 2).toFixed(1);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.setAttribute("class", "sparkline");
    svg.setAttribute("aria-hidden", "true");
    const line = document.createElementNS(SVG, "line");
    for (const [k, v] of Object.entries({ x1: 0, x2: width, y1: y(target), y2: y(target) })) {
      line.setAttribute(k, v);
    }
    line.setAttribute("class", "target");
    const path = document.createElementNS(SVG, "polyline");
    path.setAttribute("points", waits.map((w, i) => `${x(i)},${y(w)}`).join(" "));
    path.setAttribute("class", waits.some((w) => w > target) ? "wait over" : "wait");
    svg.append(line, path);
    return svg;
  }

  function waitCell(point, target, offset) {
    if (!point) return el("td", { class: "num" }, "–");
    const over = point.wait_p50_s > target;
    return el(
      "td",
      { class: over ? "num over-target" : "num", dataset: { figure: `wait_${offset}` } },
      minutes(point.wait_p50_s),
      over ? el("span", { class: "sr-only" }, ` (${t("forecast.over_target")})`) : null,
    );
  }

  function renderCard() {
    const f = fc.forecast;
    const services = f ? f.services.filter(busy) : [];
    const threshold = f ? f.threshold : 0.6;
    services.sort((a, b) => !!b.warning - !!a.warning || risk(b) - risk(a));
    const rows = services.map((s) => {
      const target = s.target_wait_min * 60;
      const atRisk = !!s.warning || risk(s) >= threshold;
      return el(
        "tr",
        {
          class: atRisk ? "over" : "",
          dataset: { service: s.service, risk: atRisk ? "yes" : "no" },
        },
        el("td", { class: "name" }, serviceName(s.service)),
        el("td", { class: "num" }, t("minutes", { n: s.target_wait_min })),
        ...AHEAD_MIN.map((offset) => waitCell(pointAt(s.points, offset), target, offset)),
        el("td", { class: "num", dataset: { figure: "risk" } }, percent(risk(s))),
        el("td", { class: "spark" }, sparkline(s)),
      );
    });
    $("forecast-rows").replaceChildren(...rows);
    $("forecast-table").hidden = rows.length === 0;
    $("forecast-empty").hidden = !f || rows.length > 0;
    $("forecast-as-of").textContent = f
      ? t("forecast.as_of", { time: M.clockTime(f.generated_at), runs: f.runs })
      : "";
  }

  // ---- warnings ----------------------------------------------------------------------

  function warningText(w) {
    return t("forecast.warning", {
      service: serviceName(w.service),
      target: minutes(w.target_wait_s),
      time: M.clockTime(w.window_end),
      probability: percent(w.probability),
    });
  }

  // "Open counter 7: it serves it." and the like: what Apply would do.
  function actionText(s) {
    const counter = counterName(s.counter);
    const service = serviceName(s.service);
    if (s.action === "open_counter") return t("forecast.do_open_counter", { counter });
    if (s.action === "move_service") {
      return t("forecast.do_move_service", { counter, from: serviceName(s.from_service), service });
    }
    if (s.action === "add_service") return t("forecast.do_add_service", { counter, service });
    if (s.action === "raise_service") return t("forecast.do_raise_service", { counter, service });
    return s.action;
  }

  // The action, then what the forecast expects of it (and whom it would hurt).
  function suggestionText(s) {
    const action = actionText(s);
    let text = `${action} ${t("forecast.effect", {
      before: percent(s.probability_before),
      after: percent(s.probability_after),
    })}`;
    if (s.wait_before_s !== null && s.wait_before_s !== undefined) {
      text += ` ${t("forecast.effect_wait", {
        before: minutes(s.wait_before_s),
        after: minutes(s.wait_after_s),
      })}`;
    }
    const others = (s.others || []).map(
      (o) => `${serviceName(o.service)} ${percent(o.probability_after)}`,
    );
    if (others.length) text += ` ${t("forecast.effect_others", { others: others.join(", ") })}`;
    return text;
  }

  function warningItem(w) {
    const s = w.suggestion;
    const parts = [el("span", { class: "what" }, warningText(w))];
    if (!s) parts.push(el("span", { class: "suggestion none" }, t("forecast.no_suggestion")));
    else {
      parts.push(el("span", { class: "suggestion" }, suggestionText(s)));
      if (w.applied_at) {
        parts.push(
          el(
            "span",
            { class: "applied" },
            t("forecast.applied_at", { time: M.clockTime(w.applied_at) }),
          ),
        );
      } else {
        parts.push(
          el(
            "button",
            {
              type: "button",
              class: "primary apply",
              dataset: { warning: w.id },
              disabled: fc.applying.has(w.id),
              onclick: () => apply(w),
            },
            t("forecast.apply"),
          ),
        );
      }
    }
    const spaced = parts.flatMap((part, i) => (i ? [" ", part] : [part])); // words apart when read
    return el(
      "li",
      {
        class: "forecast-warning",
        dataset: { alert: "forecast", service: w.service, warning: w.id },
      },
      ...spaced,
    );
  }

  // The alerts area is a live region: the list is only rebuilt when it would read
  // differently (not every 15 s), so a screen reader announces a warning once.
  function renderWarnings() {
    const warnings = (fc.forecast && fc.forecast.warnings) || [];
    const items = warnings.map(warningItem);
    const key = JSON.stringify([
      Novbe.language,
      items.map((li) => [li.textContent, li.querySelector("button")?.disabled]),
    ]);
    if (key !== fc.warningsKey) {
      fc.warningsKey = key;
      $("forecast-warning-list").replaceChildren(...items);
    }
    const notice = $("forecast-notice");
    notice.textContent = fc.notice ? fc.notice.text : "";
    notice.hidden = !fc.notice;
    notice.classList.toggle("failed", !!fc.notice && !fc.notice.ok);
    M.renderAlerts(); // shows or hides the alerts area
  }

  // Shown in the alerts area: open warnings or the word on the last Apply.
  function forecastAlertCount() {
    const warnings = (fc.forecast && fc.forecast.warnings) || [];
    return warnings.length + (fc.notice ? 1 : 0);
  }

  async function apply(w) {
    const code = state.centerCode;
    fc.applying.add(w.id);
    fc.notice = null;
    renderWarnings();
    try {
      const path = `${base()}/forecast/warnings/${encodeURIComponent(w.id)}/apply`;
      const body = await StaffSession.request("POST", path, {});
      if (code !== state.centerCode) return;
      const counter = body.counter || (w.suggestion && w.suggestion.counter);
      fc.notice = {
        ok: true,
        text: t("forecast.apply_done", {
          action: actionText(w.suggestion),
          counter: counterName(counter),
        }),
      };
    } catch (err) {
      if (code !== state.centerCode) return;
      let text;
      if (err instanceof ApiError && err.status === 409) text = t("forecast.stale");
      else if (err instanceof ApiError && err.status === 404) text = t("forecast.gone");
      else text = M.describe(err);
      if (!(err instanceof ApiError && err.status === 401)) fc.notice = { ok: false, text };
    } finally {
      fc.applying.delete(w.id);
    }
    renderWarnings();
    // The button is gone with the list rebuilt: the keyboard goes on from the answer.
    if (fc.notice && code === state.centerCode) $("forecast-notice").focus();
    refreshForecast(true);
  }

  // A live `alert` of kind "forecast" in the alerts log.
  function forecastAlertText(a) {
    const service = serviceName(a.service);
    if (!a.active) return t("forecast.alert_cleared", { service });
    const start = a.window_start || (a.window && a.window.start) || a.at;
    return t("forecast.warning", {
      service,
      target: a.target_wait_s ? minutes(a.target_wait_s) : "–",
      time: start ? M.clockTime(start) : "–",
      probability: percent(a.probability),
    });
  }

  // ---- accuracy ------------------------------------------------------------------------

  function renderAccuracy() {
    const a = fc.accuracy;
    const e = a && a.estimates;
    const w = a && a.warnings;
    const mae = e && e.mae_s !== null && e.mae_s !== undefined ? e.mae_s : null;
    $("k-accuracy").textContent = mae === null ? "–" : `± ${minutes(mae)}`;
    $("k-accuracy").setAttribute(
      "aria-label",
      mae === null ? t("forecast.no_estimates") : t("forecast.mae", { mae: minutes(mae) }),
    );
    $("k-accuracy-within").textContent =
      e && e.within_25 !== null && e.within_25 !== undefined
        ? t("forecast.within_25", { share: percent(e.within_25), served: e.served })
        : t("forecast.no_estimates");
    let score = t("forecast.no_warnings_scored");
    if (w && w.scored) score = t("forecast.warnings_score", { right: w.right, scored: w.scored });
    $("k-warnings-score").textContent = score;
  }

  function renderForecast() {
    renderCard();
    renderWarnings();
    renderAccuracy();
    if (fc.failed && !fc.forecast) $("forecast-empty").hidden = true;
  }

  Object.assign(M, {
    resetForecast,
    stopForecast,
    refreshForecast,
    renderForecast,
    forecastAlertCount,
    forecastAlertText,
    forecastServiceName: serviceName,
  });
})();
