// The reception screen (/reception): a volunteer's tablet at the door (1024x768 either
// way up). It issues a ticket on a visitor's behalf, with a priority class after seeing
// the visitor's document (the ticket's issue event records who issued it), checks a
// booking (or a ticket joined from home) in by its code, and answers "how long for
// service X" for every service. It cannot call or serve: the API refuses the reception
// role everything else (server/auth.py RECEPTION_ROLES).
//
// The login is the staff session (server/static/staff_session.js). The catalog comes
// from GET /api/v1/centers/<c>/services; the waits then follow live over /live with
// {public: <center>} (the public page's figures: no ticket numbers, nothing personal),
// so the list is never polled. A ticket issued here has no kiosk to print on: it is an
// e-ticket, whose QR code the visitor scans to follow it on their phone.
"use strict";

(() => {
  const { t, tn, el, ApiError } = Novbe;
  const $ = (id) => document.getElementById(id);
  const KEYS = { language: "novbe.manage.language" };
  const state = {
    center: null, // its code
    catalog: null, // GET /centers/<c>/services
    stats: {}, // service code -> {waiting, estimated_wait_s} (live)
    priority: null, // the class chosen for the next ticket, or null
    visitorLanguage: null, // the language of the visitor's ticket and phone page
    busy: false,
    socket: null,
    filter: "",
  };

  // ---- the API with the login cookie ---------------------------------------------------

  const call = (method, path, body) => StaffSession.request(method, `/api/v1${path}`, body);
  const centerPath = (rest) => `/centers/${encodeURIComponent(state.center)}${rest}`;

  function errorOf(err) {
    return err instanceof ApiError && err.body && err.body.error ? err.body.error : null;
  }

  // A refusal in the volunteer's words: the check-in's own codes, else the server's.
  const REFUSALS = {
    too_early: "reception.refused.too_early",
    too_late: "reception.refused.too_late",
    appointment_not_found: "reception.refused.not_found",
    ticket_not_found: "reception.refused.not_found",
    wrong_center: "reception.refused.wrong_center",
    already_checked_in: "reception.refused.already_checked_in",
    appointment_cancelled: "reception.refused.cancelled",
    appointment_no_show: "reception.refused.no_show",
    place_released: "reception.refused.place_released",
    hall_full: "reception.refused.hall_full",
    service_inactive: "reception.refused.service_inactive",
    quota_reached: "reception.refused.quota",
    too_many_attempts: "reception.refused.too_many",
    forbidden: "reception.refused.forbidden",
  };

  function describe(err) {
    if (!(err instanceof ApiError)) return t("manage.no_answer");
    if (err.status === 401) return t("manage.expired");
    if (err.status === 403) return t("reception.refused.forbidden");
    const error = errorOf(err) || {};
    const details = error.details || {};
    // A ticket's QR with a priority chip chosen: its class was set when it was issued.
    if (error.code === "invalid_input" && details.field === "priority") return t("reception.refused.priority_kept");
    const key = REFUSALS[error.code];
    if (key) {
      const time = clock(details.opens_at || firstTime(details));
      // hall_full: come in when the wait is at most {limit}; it is {wait} now.
      const [limit, wait] = [details.come_in_s, details.estimated_wait_s].map(Novbe.waitText);
      return t(key, { time, limit, wait });
    }
    return error.message || t("manage.refused", { status: err.status });
  }

  // The moment a refusal names (too early: when check-in opens), whatever its field.
  function firstTime(details) {
    for (const value of Object.values(details || {})) {
      if (typeof value === "string" && /^\d{4}-\d\d-\d\dT/.test(value)) return value;
    }
    return null;
  }

  // A time of day as the center's clock shows it.
  function clock(iso) {
    if (!iso) return "–";
    const zone = state.catalog ? state.catalog.center.timezone : undefined;
    return new Date(iso).toLocaleTimeString(Novbe.language, { hour: "2-digit", minute: "2-digit", timeZone: zone });
  }

  // ---- views and session ------------------------------------------------------------------

  function showView(name) {
    for (const view of ["login", "pick", "desk"]) $(`${view}-view`).hidden = view !== name;
  }

  function route() {
    disconnect();
    const user = StaffSession.user;
    $("who").hidden = !user;
    hideResult();
    if (!user) {
      showView("login");
      $("username").focus();
      return;
    }
    $("who-name").textContent = user.username;
    const center = user.center || new URLSearchParams(location.search).get("center");
    if (!center) return showView("pick");
    openCenter(center);
  }

  async function openCenter(code) {
    state.center = code;
    state.catalog = null;
    $("center-code").textContent = code;
    showView("desk");
    try {
      await loadCatalog();
    } catch (err) {
      say(describe(err), true);
      return;
    }
    state.socket = Novbe.live(
      { public: code },
      { snapshot: takeStats, "public.stats": takeStats },
      { onStatus: Novbe.statusBanner($("connection")) },
    );
  }

  async function loadCatalog() {
    const catalog = await call("GET", centerPath("/services"));
    state.catalog = catalog;
    state.stats = {};
    for (const category of catalog.categories) {
      for (const service of category.services) state.stats[service.code] = service;
    }
    render();
  }

  function disconnect() {
    const socket = state.socket;
    state.socket = null;
    if (socket) socket.disconnect();
  }

  // The public figures of every active service; a service the catalog does not know
  // yet (added since) brings the catalog again.
  let reloading = null;
  function takeStats(data) {
    if (!state.catalog || data.center.code !== state.center) return;
    const known = new Set(state.catalog.categories.flatMap((c) => c.services.map((s) => s.code)));
    for (const row of data.services) state.stats[row.service] = row;
    if (data.services.some((row) => !known.has(row.service)) && !reloading) {
      reloading = loadCatalog().finally(() => (reloading = null));
    }
    renderFigures();
  }

  // ---- drawing ---------------------------------------------------------------------------

  function render() {
    renderPriorities();
    renderVisitorLanguages();
    renderServices();
  }

  function priorityName(name) {
    const key = `priority.${name}`; // the common words (server/i18n/common/)
    const text = t(key);
    return text === key ? name : text;
  }

  function renderPriorities() {
    const classes = state.catalog ? state.catalog.center.priority_classes : [];
    if (state.priority && !classes.includes(state.priority)) state.priority = null;
    $("priority").hidden = classes.length === 0;
    const none = el("button", { type: "button", dataset: { priority: "" }, onclick: () => choosePriority(null) }, t("reception.priority_none"));
    const chips = classes.map((name) =>
      el("button", { type: "button", dataset: { priority: name }, onclick: () => choosePriority(name) }, priorityName(name)),
    );
    $("priority-choices").replaceChildren(none, ...chips);
    for (const chip of $("priority-choices").querySelectorAll("button")) {
      chip.setAttribute("aria-pressed", String(chip.dataset.priority === (state.priority || "")));
    }
  }

  function choosePriority(name) {
    state.priority = name;
    renderPriorities();
  }

  function renderVisitorLanguages() {
    const lang = state.visitorLanguage || Novbe.language;
    for (const button of document.querySelectorAll("#visitor-languages button")) {
      button.setAttribute("aria-pressed", String(button.dataset.visitorLang === lang));
    }
  }

  function matches(service) {
    const text = state.filter.trim().toLocaleLowerCase();
    if (!text) return true;
    const names = Object.values(service.name).join(" ").toLocaleLowerCase();
    return names.includes(text) || service.prefix.toLocaleLowerCase() === text;
  }

  function renderServices() {
    if (!state.catalog) return;
    const groups = [];
    for (const category of state.catalog.categories) {
      const services = category.services.filter((s) => s.active && matches(s));
      if (!services.length) continue;
      groups.push(
        el(
          "div",
          { class: "service-group" },
          el("h3", {}, Novbe.named(category.name)),
          services.map((service) =>
            el(
              "button",
              { type: "button", class: "service", dataset: { service: service.code }, onclick: () => issue(service) },
              el("span", { class: "service-name" }, Novbe.named(service.name)),
              el("span", { class: "service-figures" }),
            ),
          ),
        ),
      );
    }
    $("services").replaceChildren(...groups);
    $("services-empty").hidden = groups.length > 0;
    renderFigures();
  }

  // How long for each service: the people waiting and the wait of a visitor coming now.
  function renderFigures() {
    for (const button of document.querySelectorAll("#services button.service")) {
      const row = state.stats[button.dataset.service];
      const box = button.querySelector(".service-figures");
      box.replaceChildren(
        el("strong", { class: "wait" }, row ? Novbe.waitText(row.estimated_wait_s) : "–"),
        el("span", { class: "waiting" }, row ? tn("reception.in_line", row.waiting) : ""),
      );
      button.disabled = state.busy;
    }
  }

  // ---- what the visitor gets ------------------------------------------------------------------

  function say(text, bad = false) {
    const box = $("message");
    box.textContent = text;
    box.classList.toggle("bad", bad);
    box.hidden = !text;
  }

  function hideResult() {
    $("result").hidden = true;
    say("");
  }

  // A ticket for the visitor: its number, service, wait and QR (an e-ticket).
  function showTicket(title, body, note = "") {
    const result = $("result");
    result.classList.remove("bad");
    $("result-title").textContent = title;
    $("result-number").textContent = body.number;
    $("result-service").textContent = serviceName(body.service);
    $("result-wait").textContent =
      body.status === "waiting"
        ? t("reception.wait_line", { wait: Novbe.waitText(body.estimated_wait_s), position: body.position ?? "–" })
        : "";
    const notes = [note];
    if (body.priority) notes.push(t("reception.with_priority", { priority: priorityName(body.priority) }));
    if (body.kind === "outside") notes.push(t("reception.outside"));
    $("result-note").textContent = notes.filter(Boolean).join(" ");
    const token = body.tracking_token;
    $("result-qr").hidden = !token;
    if (token) $("result-qr-img").src = `/api/v1/tickets/${encodeURIComponent(token)}/qr.svg`;
    result.hidden = false;
    say("");
    result.scrollIntoView({ block: "nearest" });
  }

  function showRefusal(text) {
    const result = $("result");
    result.classList.add("bad");
    $("result-title").textContent = text;
    for (const id of ["result-number", "result-service", "result-wait", "result-note"]) $(id).textContent = "";
    $("result-qr").hidden = true;
    result.hidden = false;
    say("");
  }

  function serviceName(code) {
    if (!state.catalog) return code;
    for (const category of state.catalog.categories) {
      const found = category.services.find((s) => s.code === code);
      if (found) return Novbe.named(found.name);
    }
    return code;
  }

  function setBusy(busy) {
    state.busy = busy;
    $("checkin-submit").disabled = busy;
    renderFigures();
  }

  async function issue(service) {
    if (state.busy) return;
    setBusy(true);
    const priority = state.priority;
    try {
      const body = await call("POST", centerPath("/tickets"), {
        service: service.code,
        language: state.visitorLanguage || Novbe.language,
        priority,
      });
      showTicket(t("reception.issued"), body);
      state.priority = null; // a class is for the one visitor whose document was seen
      renderPriorities();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) showRefusal(describe(err));
    } finally {
      setBusy(false);
    }
  }

  async function checkIn(event) {
    event.preventDefault();
    const code = $("checkin-code").value.trim();
    if (!code || state.busy) return;
    setBusy(true);
    const request = { code };
    if (state.priority) request.priority = state.priority;
    // The visitor's language, when reception chose one: else the booking's own.
    if (state.visitorLanguage) request.language = state.visitorLanguage;
    try {
      const body = await call("POST", centerPath("/check-in"), request);
      let note = "";
      if (body.late) note = t("reception.late");
      else if (body.appointment) note = t("reception.booked_for", { time: clock(body.appointment.start) });
      else note = t("reception.absent_checked_in");
      showTicket(t("reception.checked_in"), body, note);
      $("checkin-code").value = "";
      state.priority = null;
      renderPriorities();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) showRefusal(describe(err));
    } finally {
      setBusy(false);
      $("checkin-code").focus();
    }
  }

  // ---- language and wiring ---------------------------------------------------------------

  function setLanguage(lang) {
    Novbe.setLanguage(lang);
    localStorage.setItem(KEYS.language, lang);
    for (const button of document.querySelectorAll("#langs button")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    }
    render();
  }

  for (const button of document.querySelectorAll("#langs button")) {
    button.addEventListener("click", () => setLanguage(button.dataset.lang));
  }
  for (const button of document.querySelectorAll("#visitor-languages button")) {
    button.addEventListener("click", () => {
      state.visitorLanguage = button.dataset.visitorLang;
      renderVisitorLanguages();
    });
  }
  $("filter").addEventListener("input", () => {
    state.filter = $("filter").value;
    renderServices();
  });
  $("checkin-form").addEventListener("submit", checkIn);
  $("result-close").addEventListener("click", hideResult);
  $("pick-form").addEventListener("submit", (event) => {
    event.preventDefault();
    location.search = `?center=${encodeURIComponent($("pick-center").value.trim())}`;
  });

  function signedOut(expired) {
    route();
    const error = $("login-error");
    error.textContent = expired ? t("manage.expired") : "";
    error.hidden = !expired;
  }

  const loginError = (err) => (err instanceof ApiError && err.status === 401 ? t("manage.bad_login") : describe(err));
  const saved = localStorage.getItem(KEYS.language);
  setLanguage(saved && Novbe.page.i18n[saved] ? saved : Novbe.language);
  StaffSession.start({ signedIn: route, signedOut, loginError, logoutError: describe })
    .then(route)
    .catch(() => {
      showView("login");
      $("login-error").textContent = t("manage.no_answer");
      $("login-error").hidden = false;
    });
})();
