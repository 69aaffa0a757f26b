// The admin page's tabs, each drawn from the center's data (Admin.state.data) as a card
// with its table and its form: services, counters, staff, devices, the center's hours
// and priority classes, and the audit log (fetched page by page, filtered).
"use strict";

(() => {
  const { t, el } = Novbe;
  const { state, call, centerPath, describe, say, showSecret, change } = Admin;
  const LANGS = ["az", "ru", "en"];
  const ENTITY_TYPES = ["service", "category", "counter", "staff", "device", "center"];

  const th = (...keys) => el("thead", {}, el("tr", {}, keys.map((key) => el("th", {}, key ? t(key) : ""))));
  const input = (attrs) => el("input", { autocapitalize: "none", spellcheck: "false", ...attrs });
  const checkbox = (checked, label) => el("input", { type: "checkbox", checked, "aria-label": label });
  const field = (key, control) => el("label", {}, el("span", {}, t(key)), control);
  const select = (options, value, attrs = {}) =>
    el("select", attrs, options.map(([v, label]) => el("option", { value: v, selected: v === value }, label)));
  const namesFrom = (form) => Object.fromEntries(LANGS.map((lang) => [lang, oneLine(form.elements[`name_${lang}`].value)]));
  const labelsOf = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);
  // Names and lists are one line of text, but long: a text area that wraps and grows with
  // its text shows all of it; Enter does not make a new line, and none is ever sent.
  const oneLine = (text) => text.replace(/\s*\n\s*/g, " ").trim();
  const longText = (attrs) =>
    el("textarea", {
      rows: 1,
      spellcheck: "false",
      onkeydown: (event) => event.key === "Enter" && event.preventDefault(),
      ...attrs,
    });
  const nameInputs = (names = {}) =>
    LANGS.map((lang) => field(`admin.name_${lang}`, input({ name: `name_${lang}`, value: names[lang] || "", required: true })));
  const card = (titleKey, ...children) => el("div", { class: "card" }, el("h2", {}, t(titleKey)), ...children);
  const saveButton = (onclick) => el("button", { type: "button", class: "primary", onclick }, t("admin.save"));

  function services() {
    const { data } = state;
    const rows = data.services.map((svc) => {
      const prefix = input({ value: svc.prefix, "aria-label": t("admin.prefix"), size: 3, class: "short" });
      const target = input({ type: "number", min: 0, max: 1440, value: svc.target_wait_min, "aria-label": t("admin.target_wait"), class: "short" });
      // The three names one under the other, each as wide as the column: readable whole.
      const names = LANGS.map((lang) => longText({ "aria-label": t(`admin.name_${lang}`), lang, class: "name-text" }));
      names.forEach((area, i) => (area.value = svc.name[LANGS[i]] || ""));
      const active = checkbox(svc.active, t("admin.active"));
      const save = () =>
        change("PATCH", centerPath(`/admin/services/${encodeURIComponent(svc.code)}`), {
          prefix: prefix.value.trim(),
          target_wait_min: Number(target.value),
          name: Object.fromEntries(LANGS.map((lang, i) => [lang, oneLine(names[i].value)])),
          active: active.checked,
        });
      const nameFields = el("div", { class: "names" }, names.map((area, i) => el("label", { class: "name-field" }, el("span", { class: "lang-tag" }, LANGS[i]), area)));
      return el("tr", { dataset: { service: svc.code } }, el("td", { class: "code" }, svc.code), el("td", {}, prefix), el("td", { class: "names-cell" }, nameFields), el("td", {}, target), el("td", {}, active), el("td", {}, saveButton(save)));
    });
    const add = el(
      "form",
      { class: "add", id: "add-service" },
      field("admin.code", input({ name: "code", required: true })),
      field("admin.category", select(data.categories.map((c) => [c.code, Novbe.named(c.name)]), null, { name: "category" })),
      field("admin.prefix", input({ name: "prefix", required: true, size: 3 })),
      ...nameInputs(),
      field("admin.target_wait", input({ name: "target", type: "number", min: 0, max: 1440, value: 15 })),
      el("button", { type: "submit", class: "primary" }, t("admin.add")),
    );
    add.addEventListener("submit", (event) => {
      event.preventDefault();
      const f = add.elements;
      change("POST", centerPath("/services"), {
        code: f.code.value.trim(),
        category: f.category.value,
        prefix: f.prefix.value.trim(),
        name: namesFrom(add),
        target_wait_min: Number(f.target.value),
      });
    });
    return el(
      "div",
      {},
      card("admin.tab.services", el("table", { class: "figures" }, th("admin.code", "admin.prefix", "admin.names", "admin.target_wait", "admin.active", null), el("tbody", {}, rows))),
      card("admin.add_service", add),
    );
  }

  function counters() {
    const rows = state.data.counters.map((counter) => {
      const served = longText({ "aria-label": t("admin.counter_services"), class: "list-text" });
      served.value = counter.services.join(", ");
      const save = () => change("PUT", `/counters/${counter.id}/services`, { services: labelsOf(served.value) });
      return el("tr", { dataset: { counter: counter.label } }, el("td", {}, counter.label), el("td", { class: "wide" }, served), el("td", {}, saveButton(save)));
    });
    const add = el(
      "form",
      { class: "add" },
      field("admin.label", input({ name: "label", required: true, size: 4 })),
      field("admin.counter_services", input({ name: "services" })),
      el("button", { type: "submit", class: "primary" }, t("admin.add")),
    );
    add.addEventListener("submit", (event) => {
      event.preventDefault();
      const services = labelsOf(add.elements.services.value);
      change("POST", centerPath("/counters"), { label: add.elements.label.value.trim(), services });
    });
    return el(
      "div",
      {},
      card("admin.tab.counters", el("p", { class: "muted" }, t("admin.counter_services_hint")), el("table", { class: "figures" }, th("manage.counter", "admin.counter_services", null), el("tbody", {}, rows))),
      card("admin.add_counter", add),
    );
  }

  function roles() {
    // Only admins make admins (the server says so too). Reception: the door's tablet.
    const list = StaffSession.user.role === "admin" ? ["staff", "manager", "reception", "admin"] : ["staff", "manager", "reception"];
    return list.map((role) => [role, t(`admin.role.${role}`)]);
  }

  // A staff member's out-of-order calls over the last days (GET .../admin): "1 of 2 (50%)".
  function outOfOrder(rate) {
    if (!rate || !rate.calls) return "–";
    const share = `${Math.round(rate.share * 100)}%`;
    return t("manage.ooo_rate", { n: rate.out_of_order, calls: rate.calls, share });
  }

  function staff() {
    const rows = state.data.staff.map((user) => {
      const role = select(roles(), user.role, { "aria-label": t("admin.role") });
      const active = checkbox(user.active, t("admin.active"));
      const counters = longText({ "aria-label": t("admin.staff_counters"), class: "list-text" });
      counters.value = user.counters.join(", ");
      const path = centerPath(`/staff/${encodeURIComponent(user.username)}`);
      const save = () => change("PATCH", path, { role: role.value, active: active.checked, counters: labelsOf(counters.value) });
      const reset = () =>
        change("POST", `${path}/password`, {}, (body) => showSecret(t("admin.new_password", { user: user.username }), body.password));
      return el(
        "tr",
        { dataset: { user: user.username } },
        el("td", { class: "name" }, user.username),
        el("td", {}, role),
        el("td", { class: "wide" }, counters),
        el("td", {}, active),
        el("td", { class: "num", dataset: { figure: "out_of_order" } }, outOfOrder(user.out_of_order)),
        el("td", {}, saveButton(save), " ", el("button", { type: "button", onclick: reset }, t("admin.reset_password"))),
      );
    });
    const add = el(
      "form",
      { class: "add", id: "add-staff" },
      field("manage.username", input({ name: "username", required: true })),
      field("manage.password", input({ name: "password", type: "password", minlength: 8, required: true, autocomplete: "new-password" })),
      field("admin.role", select(roles(), "staff", { name: "role" })),
      // Every counter unless the manager narrows it; empty: none (the counter page says so).
      field("admin.staff_counters", input({ name: "counters", value: state.data.counters.map((c) => c.label).join(", ") })),
      el("button", { type: "submit", class: "primary" }, t("admin.add")),
    );
    add.addEventListener("submit", (event) => {
      event.preventDefault();
      const f = add.elements;
      // Reception works at no counter (the server refuses it any): none to assign.
      const counters = f.role.value === "reception" ? [] : labelsOf(f.counters.value);
      change("POST", centerPath("/staff"), { username: f.username.value.trim(), password: f.password.value, role: f.role.value, counters });
    });
    return el(
      "div",
      {},
      card("admin.tab.staff", el("p", { class: "muted" }, t("admin.staff_counters_hint")), el("table", { class: "figures" }, th("manage.username", "admin.role", "admin.staff_counters", "admin.active", "admin.out_of_order", null), el("tbody", {}, rows))),
      card("admin.add_staff", add),
    );
  }

  function devices() {
    const rows = state.data.devices.map((device) => {
      const path = centerPath(`/devices/${encodeURIComponent(device.name)}`);
      const printer = input({ value: device.printer || "", placeholder: "tcp://10.0.0.5:9100", "aria-label": t("admin.printer"), disabled: device.kind !== "kiosk" });
      const save = () => change("PATCH", path, { printer: printer.value.trim() || null });
      const rotate = () => {
        if (!confirm(t("admin.rotate_confirm", { device: device.name }))) return;
        change("POST", `${path}/token`, undefined, (body) => showSecret(t("admin.new_token", { device: device.name }), body.token));
      };
      return el(
        "tr",
        { dataset: { device: device.name } },
        el("td", {}, device.name),
        el("td", {}, t(`admin.kind.${device.kind}`)),
        el("td", {}, printer),
        el("td", {}, device.kind === "kiosk" ? saveButton(save) : "", " ", el("button", { type: "button", onclick: rotate }, t("admin.rotate_token"))),
      );
    });
    const add = el(
      "form",
      { class: "add" },
      field("admin.device_name", input({ name: "name", required: true })),
      field("admin.kind", select([["kiosk", t("admin.kind.kiosk")], ["display", t("admin.kind.display")]], "kiosk", { name: "kind" })),
      field("admin.printer", input({ name: "printer", placeholder: "tcp://10.0.0.5:9100" })),
      el("button", { type: "submit", class: "primary" }, t("admin.add")),
    );
    add.addEventListener("submit", (event) => {
      event.preventDefault();
      const f = add.elements;
      const name = f.name.value.trim();
      change("POST", centerPath("/devices"), { name, kind: f.kind.value, printer: f.printer.value.trim() || null }, (body) =>
        showSecret(t("admin.new_token", { device: name }), body.token),
      );
    });
    return el(
      "div",
      {},
      card("admin.tab.devices", el("table", { class: "figures" }, th("admin.device_name", "admin.kind", "admin.printer", null), el("tbody", {}, rows))),
      card("admin.add_device", add),
    );
  }

  function center() {
    const c = state.data.center;
    const form = el(
      "form",
      { class: "add", id: "center-form" },
      field("admin.opens", input({ name: "open", type: "time", value: c.hours.open, required: true })),
      field("admin.closes", input({ name: "close", type: "time", value: c.hours.close, required: true })),
      field("admin.priority_classes", input({ name: "classes", value: c.priority_classes.join(", "), size: 40 })),
      el("button", { type: "submit", class: "primary" }, t("admin.save")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const f = form.elements;
      change("PATCH", centerPath("/settings"), {
        hours: { open: f.open.value, close: f.close.value },
        priority_classes: f.classes.value.split(",").map((s) => s.trim()).filter(Boolean),
      });
    });
    return card("admin.tab.center", el("p", {}, Novbe.named(c.name)), form);
  }

  function audit() {
    const f = state.audit;
    const box = el("tbody", { id: "audit-rows" });
    const pager = el("p", { class: "muted", id: "audit-pager" });
    const form = el(
      "form",
      { class: "add", id: "audit-form" },
      field("admin.audit_type", select([["", t("admin.all")], ...ENTITY_TYPES.map((type) => [type, t(`admin.type.${type}`)])], f.type, { name: "type" })),
      field("manage.username", input({ name: "user", value: f.user })),
      field("admin.from", input({ name: "from", type: "date", value: f.from })),
      field("admin.to", input({ name: "to", type: "date", value: f.to })),
      el("button", { type: "submit", class: "primary" }, t("admin.filter")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      Object.assign(state.audit, { type: form.elements.type.value, user: form.elements.user.value.trim(), from: form.elements.from.value, to: form.elements.to.value, page: 1 });
      loadAudit(box, pager);
    });
    loadAudit(box, pager);
    const zone = el("p", { class: "muted", id: "audit-zone" }, t("admin.times_in", { zone: state.data.center.timezone }));
    return card("admin.tab.audit", form, zone, el("table", { class: "figures" }, th("admin.when", "manage.username", "admin.audit_type", "admin.what", "admin.action", "admin.before", "admin.after"), box), pager);
  }

  // When a change was made, in the center's time zone (not the browser's).
  function centerTime(iso) {
    const format = new Intl.DateTimeFormat(Novbe.language, { dateStyle: "short", timeStyle: "medium", timeZone: state.data.center.timezone });
    return format.format(new Date(iso));
  }

  async function loadAudit(box, pager) {
    const query = new URLSearchParams(Object.entries(state.audit).filter(([, v]) => v !== ""));
    let body;
    try {
      body = await call("GET", centerPath(`/audit?${query}`));
    } catch (err) {
      return say(describe(err), true);
    }
    const json = (value) => el("td", { class: "audit-json" }, value ? JSON.stringify(value, null, 1) : "");
    box.replaceChildren(
      ...body.entries.map((e) =>
        el(
          "tr",
          {},
          el("td", { class: "when" }, centerTime(e.at)),
          el("td", {}, e.user),
          el("td", {}, t(`admin.type.${e.entity_type}`)),
          el("td", {}, e.entity_id),
          el("td", {}, t(`admin.action.${e.action}`)),
          json(e.before),
          json(e.after),
        ),
      ),
    );
    if (!body.entries.length) box.append(el("tr", {}, el("td", { colspan: 7 }, t("admin.no_entries"))));
    const pages = Math.max(1, Math.ceil(body.total / body.page_size));
    const go = (page) => () => {
      state.audit.page = page;
      loadAudit(box, pager);
    };
    pager.replaceChildren(
      el("button", { type: "button", disabled: body.page <= 1, onclick: go(body.page - 1) }, "‹"),
      ` ${t("admin.page", { page: body.page, pages })} `,
      el("button", { type: "button", disabled: body.page >= pages, onclick: go(body.page + 1) }, "›"),
    );
  }

  Admin.tabs = { services, counters, staff, devices, center, audit };
})();
