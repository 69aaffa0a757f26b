// The admin page's namespace (`Admin`) and what its parts share: what the page knows
// (state), the API with the login cookie, and how results are told (a message, a secret
// shown once). Every change goes through `change`: the JSON API checks the role,
// validates (a refused change names its field and writes nothing) and writes the audit
// entry; the page then reloads the center's data, so it always shows what the server
// holds. Loaded first; admin_tabs.js and admin.js add their parts.
"use strict";

const Admin = (() => {
  const { t, el, ApiError } = Novbe;
  const $ = (id) => document.getElementById(id);
  const KEYS = { language: "novbe.manage.language", tab: "novbe.admin.tab" };

  // Who is logged in is StaffSession.user (server/static/staff_session.js).
  const state = {
    center: null, // the center's code
    data: null, // GET /centers/{c}/admin
    tab: sessionStorage.getItem(KEYS.tab) || "services",
    audit: { type: "", user: "", from: "", to: "", page: 1 },
  };

  // ---- the API, with the login cookie -------------------------------------------------

  function call(method, path, body) {
    return StaffSession.request(method, `/api/v1${path}`, body);
  }

  const centerPath = (rest = "") => `/centers/${encodeURIComponent(state.center)}${rest}`;

  // The label a form shows for a field the server names (a whole field first, then its
  // root: "breaks[1].to" is the Breaks box, "name.az" the names).
  const FIELD_LABELS = {
    "hours.open": "admin.opens",
    "hours.close": "admin.closes",
    hours: "admin.opens",
    priority_classes: "admin.priority_classes",
    code: "admin.code",
    category: "admin.category",
    prefix: "admin.prefix",
    name: "admin.names",
    target_wait_min: "admin.target_wait",
    active: "admin.active",
    label: "admin.label",
    services: "admin.counter_services",
    username: "manage.username",
    password: "manage.password",
    role: "admin.role",
    counters: "admin.staff_counters",
    kind: "admin.kind",
    printer: "admin.printer",
    bookable: "admin.booking.bookable",
    slot_min: "admin.booking.slot_min",
    bookings_per_slot: "admin.booking.per_slot",
    booking_days_ahead: "admin.booking.days_ahead",
    checkin_early_min: "admin.booking.early",
    late_grace_min: "admin.booking.grace",
    after_grace: "admin.booking.after_grace",
    remote_joining: "admin.booking.remote",
    remote_daily_cap: "admin.booking.remote_cap",
    breaks: "admin.booking.breaks",
    closed_weekdays: "admin.booking.closed_weekdays",
    closed_days: "admin.booking.closed_days",
    hall_capacity: "admin.booking.hall_capacity",
    absent_hold_min: "admin.booking.absent_hold",
    // The notifications tab's (the server names them section.key).
    "sms.url": "admin.notify.sms_url",
    "sms.headers": "admin.notify.sms_headers",
    "sms.body": "admin.notify.sms_body",
    "sms.content_type": "admin.notify.sms_type",
    "email.host": "admin.notify.smtp_host",
    "email.port": "admin.notify.smtp_port",
    "email.security": "admin.notify.smtp_security",
    "email.username": "admin.notify.smtp_username",
    "email.password": "admin.notify.smtp_password",
    "email.sender": "admin.notify.smtp_sender",
    "telegram.base_url": "admin.notify.telegram_base",
    "telegram.token": "admin.notify.telegram_token",
    "telegram.bot_username": "admin.notify.telegram_bot",
    "triggers.almost_position": "admin.notify.almost_position",
    "triggers.almost_minutes": "admin.notify.almost_minutes",
  };

  // The label inside the refusal's own quotes: a label's quotes (“Almost”: ...) dropped.
  function fieldLabel(field) {
    const key = FIELD_LABELS[field] || FIELD_LABELS[field.split(/[.[]/)[0]];
    return key ? t(key).replace(/[“”«»"]/g, "") : field;
  }

  // The server's reason, with the field it names by the form's label, in words a manager
  // can act on: a number out of range says its range in our words; else the server's
  // detail (English) follows the label.
  function describe(err) {
    if (err instanceof ApiError) {
      if (err.status === 401) return t("manage.expired");
      if (err.status === 403) return t("admin.forbidden");
      const error = (err.body && err.body.error) || {};
      const field = error.details && error.details.field;
      if (!field) return error.message || t("manage.refused", { status: err.status });
      const label = fieldLabel(field);
      const range = /(?:between|from) (-?\d+) (?:and|to) (-?\d+)/.exec(error.message || "");
      if (range) return t("admin.bad_range", { field: label, low: range[1], high: range[2] });
      // The message repeats a plain field's code name first ("'slot_min' must ...",
      // "sms.url must ..."): drop it; a part of a list ("breaks[1].to: ...") keeps it, to
      // say which part.
      let detail = error.message || "";
      for (const prefix of [`'${field}' `, `${field}: `, `${field} `]) {
        if (/^[\w.]+$/.test(field) && detail.startsWith(prefix)) {
          detail = detail.slice(prefix.length);
          break;
        }
      }
      return t("admin.bad_field", { field: label, message: detail });
    }
    return t("manage.no_answer");
  }

  function say(text, bad = false) {
    const box = $("message");
    box.textContent = text;
    box.classList.toggle("bad", bad);
    box.hidden = !text;
  }

  // A token or password the server shows once: on screen until the manager closes it.
  function showSecret(label, value) {
    const box = $("secret");
    box.replaceChildren(
      el("p", {}, label),
      el("p", {}, el("code", { id: "secret-value" }, value)),
      el("p", { class: "muted" }, t("admin.shown_once")),
      el("button", { type: "button", class: "primary", onclick: () => (box.hidden = true) }, t("admin.close")),
    );
    box.hidden = false;
  }

  // Run a change; on success reload the data and say so, on refusal say why.
  async function change(method, path, body, onDone) {
    say("");
    try {
      const result = await call(method, path, body);
      if (onDone) onDone(result);
      await Admin.loadData();
      say(t("admin.saved"));
    } catch (err) {
      // A 401 has signed this browser out already: the login form says why.
      if (!(err instanceof ApiError && err.status === 401)) say(describe(err), true);
    }
  }

  return { $, KEYS, state, call, centerPath, describe, say, showSecret, change };
})();
