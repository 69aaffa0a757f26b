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

  // The server's reason, with the field it names, in words a manager can act on.
  function describe(err) {
    if (err instanceof ApiError) {
      if (err.status === 401) return t("manage.expired");
      if (err.status === 403) return t("admin.forbidden");
      const error = (err.body && err.body.error) || {};
      const field = error.details && error.details.field;
      return field ? t("admin.bad_field", { field, message: error.message }) : error.message || t("manage.refused", { status: err.status });
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
