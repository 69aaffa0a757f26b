// The admin page's "Notifications" tab (docs/notifications.md, docs/webhooks.md): the
// center's channel settings (SMS gateway, SMTP, Telegram, Web Push, the triggers and
// "almost your turn" thresholds; GET/PUT /centers/{c}/notifications), its webhooks
// (list, create with the secret shown once, rotate the secret, ping, enable/disable,
// delete; /webhooks) and the delivery log (/centers/{c}/deliveries, newest first, each
// row's attempts on demand, Replay). Loaded after admin_tabs.js.
// Invariants: secrets arrive masked and are sent back as they came when untouched (the
// server then keeps them); a new secret is shown once, in the secret box, never kept;
// contacts in the log are the server's masked form.
"use strict";

(() => {
  const { t, el } = Novbe;
  const { state, call, centerPath, describe, say, showSecret, change } = Admin;
  const EVENTS = ["ticket.issued", "ticket.called", "ticket.updated", "counter.updated", "alert", "webhook.ping"];
  const TRIGGERS = ["issued", "almost", "called", "reminders", "rating"];
  const STATES = ["pending", "sent", "dead", "cancelled"];
  const CHANNELS = ["sms", "email", "telegram", "webpush", "webhook"];
  const PAGE = 50;

  const input = (attrs) => el("input", { autocapitalize: "none", spellcheck: "false", ...attrs });
  const field = (key, control, attrs = {}) => el("label", attrs, el("span", {}, t(key)), control);
  const inline = (key, control) => el("label", { class: "inline" }, control, el("span", {}, t(key)));
  const checkbox = (name, checked) => el("input", { type: "checkbox", name, checked: Boolean(checked) });
  const select = (name, options, value) =>
    el("select", { name }, options.map(([v, label]) => el("option", { value: v, selected: v === value }, label)));
  const card = (titleKey, ...children) => el("div", { class: "card" }, el("h2", {}, t(titleKey)), ...children);
  const th = (...keys) => el("thead", {}, el("tr", {}, keys.map((key) => el("th", {}, key ? t(key) : ""))));
  const button = (key, onclick, attrs = {}) => el("button", { type: "button", onclick, ...attrs }, t(key));

  function when(iso) {
    if (!iso) return "–";
    const zone = state.data && state.data.center.timezone;
    const format = new Intl.DateTimeFormat(Novbe.language, { dateStyle: "short", timeStyle: "medium", timeZone: zone });
    return format.format(new Date(iso));
  }

  // ---- channel settings --------------------------------------------------------------

  // "Name: value" lines <-> {Name: value}: a masked value goes back unchanged.
  const headerLines = (headers) => Object.entries(headers || {}).map(([k, v]) => `${k}: ${v}`).join("\n");
  function headersOf(text) {
    const headers = {};
    for (const line of text.split("\n")) {
      const at = line.indexOf(":");
      if (at > 0) headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    return headers;
  }

  function settingsForm(s) {
    const sms = s.sms || {};
    const email = s.email || {};
    const telegram = s.telegram || {};
    const triggers = s.triggers || {};
    const area = (name, value, rows = 2) => {
      const box = el("textarea", { name, rows, spellcheck: "false" });
      box.value = value || "";
      return box;
    };
    const group = (titleKey, ...children) =>
      el("fieldset", { class: "notify-group", dataset: { group: titleKey.split(".").pop() } }, el("legend", {}, t(titleKey)), ...children);
    const form = el(
      "form",
      { class: "add notify-settings", id: "notify-settings", novalidate: true },
      group(
        "admin.notify.sms",
        inline("admin.notify.enabled", checkbox("sms_enabled", sms.enabled)),
        field("admin.notify.sms_url", input({ name: "sms_url", value: sms.url || "", placeholder: "https://sms.example.az/send", type: "url" }), { class: "wide-field" }),
        field("admin.notify.sms_headers", area("sms_headers", headerLines(sms.headers)), { class: "wide-field" }),
        field("admin.notify.sms_body", area("sms_body", sms.body, 3), { class: "wide-field" }),
        field("admin.notify.sms_type", select("sms_type", [["application/json", "JSON"], ["application/x-www-form-urlencoded", "form"]], sms.content_type || "application/json")),
      ),
      group(
        "admin.notify.email",
        inline("admin.notify.enabled", checkbox("email_enabled", email.enabled)),
        field("admin.notify.smtp_host", input({ name: "email_host", value: email.host || "" })),
        field("admin.notify.smtp_port", input({ name: "email_port", type: "number", min: 1, max: 65535, value: email.port ?? 587, class: "short" })),
        field("admin.notify.smtp_security", select("email_security", ["none", "starttls", "ssl"].map((v) => [v, v]), email.security || "starttls")),
        field("admin.notify.smtp_username", input({ name: "email_username", value: email.username || "", autocomplete: "off" })),
        field("admin.notify.smtp_password", input({ name: "email_password", type: "password", value: email.password || "", autocomplete: "new-password" })),
        field("admin.notify.smtp_sender", input({ name: "email_sender", value: email.sender || "", placeholder: "Növbə <noreply@example.az>" })),
      ),
      group(
        "admin.notify.telegram",
        inline("admin.notify.enabled", checkbox("telegram_enabled", telegram.enabled)),
        field("admin.notify.telegram_base", input({ name: "telegram_base", value: telegram.base_url || "https://api.telegram.org", type: "url" })),
        field("admin.notify.telegram_token", input({ name: "telegram_token", type: "password", value: telegram.token || "", autocomplete: "new-password" })),
        field("admin.notify.telegram_bot", input({ name: "telegram_bot", value: telegram.bot_username || "" })),
      ),
      group("admin.notify.webpush", inline("admin.notify.enabled", checkbox("webpush_enabled", (s.webpush || {}).enabled))),
      group(
        "admin.notify.triggers",
        ...TRIGGERS.map((name) => inline(`admin.notify.trigger.${name}`, checkbox(`trigger_${name}`, triggers[name]))),
        field("admin.notify.almost_position", input({ name: "almost_position", type: "number", min: 1, max: 50, value: triggers.almost_position ?? 3, class: "short" })),
        field("admin.notify.almost_minutes", input({ name: "almost_minutes", type: "number", min: 0, max: 240, value: triggers.almost_minutes ?? 10, class: "short" })),
      ),
      el("button", { type: "submit", class: "primary" }, t("admin.save")),
    );
    if (StaffSession.user.role !== "admin") {
      // Gateways (where messages go, with what credentials) are an administrator's: the
      // API refuses a manager's change of them; a manager switches channels and triggers.
      for (const control of form.elements) {
        if (control.name && !/(_enabled|^trigger_|^almost_)/.test(control.name)) control.disabled = true;
      }
      form.prepend(el("p", { class: "muted", id: "notify-admin-only" }, t("admin.notify.gateways_admin_only")));
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const f = form.elements;
      const text = (name) => f[name].value.trim();
      change("PUT", centerPath("/notifications"), {
        sms: {
          enabled: f.sms_enabled.checked,
          url: text("sms_url"),
          headers: headersOf(f.sms_headers.value),
          body: f.sms_body.value,
          content_type: f.sms_type.value,
        },
        email: {
          enabled: f.email_enabled.checked,
          host: text("email_host"),
          port: Number(f.email_port.value),
          security: f.email_security.value,
          username: text("email_username"),
          password: f.email_password.value,
          sender: text("email_sender"),
        },
        telegram: {
          enabled: f.telegram_enabled.checked,
          base_url: text("telegram_base"),
          token: text("telegram_token"),
          bot_username: text("telegram_bot"),
        },
        webpush: { enabled: f.webpush_enabled.checked },
        triggers: {
          ...Object.fromEntries(TRIGGERS.map((name) => [name, f[`trigger_${name}`].checked])),
          almost_position: Number(f.almost_position.value),
          almost_minutes: Number(f.almost_minutes.value),
        },
      });
    });
    return form;
  }

  async function loadSettings(box) {
    try {
      const body = await call("GET", centerPath("/notifications"));
      box.replaceChildren(settingsForm(body.notifications || body));
    } catch (err) {
      box.replaceChildren(el("p", { class: "bad-text" }, describe(err)));
    }
  }

  // ---- webhooks ----------------------------------------------------------------------

  // The secret, once, in the page's secret box, with a copy button.
  function showWebhookSecret(label, secret) {
    showSecret(label, secret);
    const box = document.getElementById("secret");
    const copied = el("span", { class: "muted", role: "status" });
    const copy = async () => {
      try {
        await navigator.clipboard.writeText(secret);
      } catch {
        const range = document.createRange(); // no clipboard API: select it for Ctrl+C
        range.selectNodeContents(document.getElementById("secret-value"));
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        document.execCommand("copy");
      }
      copied.textContent = t("admin.notify.copied");
    };
    box.append(el("p", {}, el("button", { type: "button", id: "secret-copy", onclick: copy }, t("admin.notify.copy")), " ", copied));
  }

  function webhookRow(hook) {
    const path = `/webhooks/${encodeURIComponent(hook.id)}`;
    const status = hook.active
      ? el("span", { class: "hook-active" }, t("admin.notify.active"))
      : el(
          "span",
          { class: "hook-disabled" },
          t("admin.notify.disabled"),
          hook.disabled_reason ? el("span", { class: "hook-reason" }, hook.disabled_reason) : null,
        );
    const rotate = () => {
      if (!confirm(t("admin.notify.rotate_confirm"))) return;
      change("POST", `${path}/rotate-secret`, undefined, (body) => showWebhookSecret(t("admin.notify.new_secret", { url: hook.url }), body.secret));
    };
    const ping = () => change("POST", `${path}/ping`);
    const toggle = () => change("PATCH", path, { active: !hook.active });
    const remove = () => confirm(t("admin.notify.delete_confirm", { url: hook.url })) && change("DELETE", path);
    return el(
      "tr",
      { dataset: { webhook: hook.id, active: String(hook.active) } },
      el("td", { class: "hook-url" }, hook.url, hook.description ? el("span", { class: "muted hook-description" }, hook.description) : null),
      el("td", { class: "hook-events" }, (hook.events || []).join(", ")),
      el("td", { class: "hook-state" }, status),
      el("td", { class: "num", dataset: { figure: "failures" } }, String(hook.failures ?? 0)),
      el(
        "td",
        { class: "hook-actions" },
        button(hook.active ? "admin.notify.disable" : "admin.notify.enable", toggle, { class: "hook-toggle" }),
        button("admin.notify.ping", ping, { class: "hook-ping" }),
        button("admin.notify.rotate", rotate, { class: "hook-rotate" }),
        button("admin.notify.delete", remove, { class: "hook-delete" }),
      ),
    );
  }

  function webhookForm() {
    const events = el(
      "fieldset",
      { class: "weekdays hook-event-choice" },
      el("legend", {}, t("admin.notify.events")),
      inline("admin.notify.all_events", checkbox("event_all", false)),
      ...EVENTS.map((type) => el("label", { class: "inline" }, el("input", { type: "checkbox", name: "event", value: type }), el("code", {}, type))),
    );
    const form = el(
      "form",
      { class: "add", id: "add-webhook" },
      field("admin.notify.url", input({ name: "url", type: "url", required: true, placeholder: "https://crm.example.az/novbe" }), { class: "wide-field" }),
      events,
      field("admin.notify.description", input({ name: "description" }), { class: "wide-field" }),
      el("button", { type: "submit", class: "primary" }, t("admin.add")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const f = form.elements;
      const chosen = [...form.querySelectorAll("input[name=event]:checked")].map((box) => box.value);
      const url = f.url.value.trim();
      change("POST", "/webhooks", { url, events: f.event_all.checked ? ["*"] : chosen, center: state.center, description: f.description.value.trim() }, (body) =>
        showWebhookSecret(t("admin.notify.new_secret", { url }), body.secret),
      );
    });
    return form;
  }

  async function loadWebhooks(box) {
    try {
      const body = await call("GET", `/webhooks?center=${encodeURIComponent(state.center)}`);
      const rows = body.webhooks.map(webhookRow);
      if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 5 }, t("admin.notify.no_webhooks"))));
      box.replaceChildren(...rows);
    } catch (err) {
      box.replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "bad-text" }, describe(err))));
    }
  }

  // ---- the delivery log --------------------------------------------------------------

  const log = { channel: "", state: "", before: null };

  function attemptsRow(delivery) {
    const entries = (delivery.log || []).map((a) =>
      el(
        "li",
        { class: a.ok ? "attempt-ok" : "attempt-bad" },
        `${when(a.at)} · ${a.ok ? "OK" : t("admin.notify.failed")}`,
        a.status != null ? ` · ${a.status}` : "",
        a.duration_ms != null ? ` · ${a.duration_ms} ms` : "",
        a.error ? el("span", { class: "attempt-error" }, ` · ${a.error}`) : "",
        a.response ? el("pre", { class: "audit-json" }, String(a.response)) : "",
      ),
    );
    return el(
      "tr",
      { class: "attempts-row", hidden: true },
      el("td", { colspan: 10 }, entries.length ? el("ol", { class: "attempts" }, entries) : t("admin.notify.no_attempts")),
    );
  }

  function deliveryRows(delivery) {
    const more = attemptsRow(delivery);
    const expand = el("button", { type: "button", class: "delivery-expand", "aria-expanded": "false" }, t("admin.notify.attempts_show"));
    expand.addEventListener("click", () => {
      more.hidden = !more.hidden;
      expand.setAttribute("aria-expanded", String(!more.hidden));
      expand.textContent = t(more.hidden ? "admin.notify.attempts_show" : "admin.notify.attempts_hide");
    });
    const replay = () => change("POST", `/deliveries/${encodeURIComponent(delivery.id)}/replay`);
    const row = el(
      "tr",
      { dataset: { delivery: delivery.id, state: delivery.state } },
      el("td", { class: "when" }, when(delivery.created_at)),
      el("td", {}, delivery.channel),
      el("td", {}, delivery.kind),
      el("td", { class: `delivery-state state-${delivery.state}` }, t(`admin.notify.state.${delivery.state}`)),
      el("td", { class: "num" }, String(delivery.attempts ?? 0)),
      el("td", { class: "delivery-error" }, delivery.last_error || ""),
      el("td", {}, delivery.ticket ?? ""),
      el("td", { class: "delivery-contact" }, delivery.contact || (delivery.webhook != null ? `#${delivery.webhook}` : "")),
      el("td", {}, expand),
      el("td", {}, button("admin.notify.replay", replay, { class: "delivery-replay" })),
    );
    return [row, more];
  }

  async function loadDeliveries(box, pager) {
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (log.channel) query.set("channel", log.channel);
    if (log.state) query.set("state", log.state);
    if (log.before) query.set("before_id", String(log.before));
    let body;
    try {
      body = await call("GET", centerPath(`/deliveries?${query}`));
    } catch (err) {
      box.replaceChildren(el("tr", {}, el("td", { colspan: 10, class: "bad-text" }, describe(err))));
      return;
    }
    const rows = body.deliveries.flatMap(deliveryRows);
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 10 }, t("admin.notify.no_deliveries"))));
    box.replaceChildren(...rows);
    const last = body.deliveries[body.deliveries.length - 1];
    const newest = () => {
      log.before = null;
      loadDeliveries(box, pager);
    };
    const older = () => {
      log.before = last.id;
      loadDeliveries(box, pager);
    };
    pager.replaceChildren(
      button("admin.notify.newest", newest, { disabled: !log.before }),
      " ",
      button("admin.notify.older", older, { disabled: !last || body.deliveries.length < PAGE }),
    );
  }

  function deliveries() {
    const box = el("tbody", { id: "delivery-rows" });
    const pager = el("p", { id: "delivery-pager" });
    const form = el(
      "form",
      { class: "add", id: "delivery-form" },
      field("admin.notify.channel", select("channel", [["", t("admin.all")], ...CHANNELS.map((c) => [c, c])], log.channel)),
      field("admin.notify.state", select("state", [["", t("admin.all")], ...STATES.map((s) => [s, t(`admin.notify.state.${s}`)])], log.state)),
      el("button", { type: "submit", class: "primary" }, t("admin.filter")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      Object.assign(log, { channel: form.elements.channel.value, state: form.elements.state.value, before: null });
      loadDeliveries(box, pager);
    });
    loadDeliveries(box, pager);
    const table = el(
      "table",
      { class: "figures delivery-table" },
      th("admin.when", "admin.notify.channel", "admin.notify.kind", "admin.notify.state", "admin.notify.attempts", "admin.notify.last_error", "admin.notify.ticket", "admin.notify.contact", null, null),
      box,
    );
    return card("admin.notify.deliveries", form, el("div", { class: "table-scroll" }, table), pager);
  }

  function notifications() {
    const settings = el("div", { id: "notify-settings-box" }, el("p", { class: "muted" }, t("admin.notify.loading")));
    const hookRows = el("tbody", { id: "webhook-rows" });
    const hooks = el(
      "table",
      { class: "figures webhook-table", id: "webhooks" },
      th("admin.notify.url", "admin.notify.events", "admin.notify.status", "admin.notify.failures", null),
      hookRows,
    );
    loadSettings(settings);
    loadWebhooks(hookRows);
    return el(
      "div",
      { class: "notify-tab" },
      card("admin.notify.channels", el("p", { class: "muted" }, t("admin.notify.channels_hint")), settings),
      card("admin.notify.webhooks", el("p", { class: "muted" }, t("admin.notify.webhooks_hint")), el("div", { class: "table-scroll" }, hooks), el("h3", {}, t("admin.notify.add_webhook")), webhookForm()),
      deliveries(),
    );
  }

  Admin.tabs.notifications = notifications;
})();
