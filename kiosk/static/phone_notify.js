// The opt-in block (#notify): "tell me when it's almost my turn" on the phone page
// (phone.html, a ticket) and "remind me" on a booking's page (appointment.html, its
// reminders). The block's data-target says which: "tickets" (the default) follows
// phone.js's "phone:render" events, "appointments" book.js's "booking:render" ones.
// It shows the channels the center offers now (GET /api/v1/{target}/{token}/contacts
// says which), the contacts given so far, masked as the server sends them, each with a
// remove button.
// Web Push registers the service worker (/t/sw.js, scope /t/) and posts the browser's
// subscription; Telegram posts a contact and opens the bot's deep link; SMS and email
// post the typed address. Hidden when nothing is offered or the ticket (the booking) is
// over: a booking takes contacts only while it is "booked".
// Invariants: an address is never shown whole (only the server's `masked`); every
// failure ends in a sentence in the page's language, never a spinner that stays.
"use strict";

(() => {
  const { t, el } = Novbe;
  const $ = (id) => document.getElementById(id);
  const ENDED = ["done", "no_show", "cancelled", "expired"];
  // What the block belongs to: its token, the event that brings it, whether it still
  // takes contacts, and the words that differ (a booking's refusals name a booking).
  const TARGETS = {
    tickets: {
      base: "/api/v1/tickets",
      token: () => Novbe.page.ticket,
      event: "phone:render",
      open: (ticket) => !ENDED.includes(ticket.status),
      words: {},
    },
    appointments: {
      base: "/api/v1/appointments",
      token: () => Novbe.page.token,
      event: "booking:render",
      open: (booking) => booking.state === "booked",
      words: { "notify.err.closed": "remind.err.closed", "notify.err.too_many": "remind.err.too_many" },
    },
  };
  const target = TARGETS[document.getElementById("notify").dataset.target || "tickets"];
  const word = (key) => target.words[key] || key;
  const SW_URL = "/t/sw.js";
  const SW_SCOPE = "/t/";
  const PUSH_WAIT_MS = 15_000; // a push service that never answers: say so, do not hang

  const state = {
    ticket: null, // the ticket or the booking, as its page last drew it
    loaded: false, // GET contacts answered
    loading: false,
    channels: [],
    contacts: [],
    vapidKey: null,
    busy: false,
    message: null, // {key, vars, bad, link}
  };

  const path = (rest = "") =>
    `${target.base}/${encodeURIComponent(target.token())}/contacts${rest}`;

  // ---- loading -------------------------------------------------------------------------

  async function load() {
    if (state.loading) return;
    state.loading = true;
    try {
      const body = await Novbe.api("GET", path());
      state.channels = body.channels || [];
      state.contacts = body.contacts || [];
      state.vapidKey = body.vapid_public_key || null;
      state.loaded = true;
      if (state.channels.includes("webpush")) registerWorker().catch(() => {});
    } catch {
      // No answer, or no such endpoint: the block stays hidden; asked again on a render.
    } finally {
      state.loading = false;
      render();
    }
  }

  // ---- drawing -------------------------------------------------------------------------

  function render() {
    const ticket = state.ticket;
    const section = $("notify");
    const over = !ticket || !target.open(ticket);
    const offered = state.channels.length > 0 || state.contacts.length > 0;
    section.hidden = over || !state.loaded || !offered;
    if (section.hidden) return;
    const can = (channel) => state.channels.includes(channel);
    const has = (channel) => state.contacts.some((c) => c.channel === channel);
    $("notify-push").hidden = !can("webpush") || !state.vapidKey || has("webpush");
    $("notify-telegram").hidden = !can("telegram") || has("telegram");
    $("notify-sms").hidden = !can("sms");
    $("notify-email").hidden = !can("email");
    for (const button of section.querySelectorAll("button")) button.disabled = state.busy;
    $("notify-contacts").replaceChildren(...state.contacts.map(contactRow));
    renderMessage();
  }

  function contactRow(contact) {
    const pending = contact.channel === "telegram" && !contact.linked;
    return el(
      "li",
      { class: "notify-contact", dataset: { channel: contact.channel, id: contact.id } },
      el(
        "span",
        { class: "notify-what" },
        el("span", { class: "notify-channel" }, t(`notify.channel.${contact.channel}`)),
        el("span", { class: "notify-masked" }, contact.masked || ""),
        pending ? el("span", { class: "notify-pending" }, t("notify.telegram_pending")) : null,
      ),
      el(
        "button",
        {
          type: "button",
          class: "notify-remove",
          disabled: state.busy,
          "aria-label": t("notify.remove_named", { what: t(`notify.channel.${contact.channel}`) }),
          onclick: () => remove(contact),
        },
        t("notify.remove"),
      ),
    );
  }

  function renderMessage() {
    const box = $("notify-message");
    const message = state.message;
    box.hidden = !message;
    if (!message) return box.replaceChildren();
    box.dataset.bad = String(Boolean(message.bad));
    box.replaceChildren(
      t(message.key, message.vars || {}),
      ...(message.link
        ? [" ", el("a", { href: message.link, target: "_blank", rel: "noopener" }, t("notify.open_telegram"))]
        : []),
    );
  }

  function say(key, { bad = false, vars, link } = {}) {
    state.message = key ? { key: word(key), bad, vars, link } : null;
    render();
  }

  // The server's refusal in the visitor's words.
  function refusal(err, channel) {
    if (!(err instanceof Novbe.ApiError)) return "notify.err.offline";
    const code = err.body && err.body.error ? err.body.error.code : null;
    if (code === "channel_not_enabled") return "notify.err.not_enabled";
    if (code === "ticket_closed" || code === "appointment_closed") return "notify.err.closed";
    if (code === "too_many_contacts") return "notify.err.too_many";
    if (err.status === 400 || err.status === 422) {
      if (channel === "sms") return "notify.err.bad_phone";
      if (channel === "email") return "notify.err.bad_email";
    }
    if (err.status === 429) return "notify.err.too_many";
    return "notify.err.failed";
  }

  // ---- adding and removing -------------------------------------------------------------

  async function add(channel, extra) {
    if (state.busy) return null;
    state.busy = true;
    say(null);
    try {
      const body = { channel, language: Novbe.language, ...extra };
      const contact = await Novbe.api("POST", path(), { body });
      state.contacts = [...state.contacts.filter((c) => c.id !== contact.id), contact];
      state.busy = false;
      say("notify.added", { vars: { what: contact.masked || t(`notify.channel.${channel}`) } });
      return contact;
    } catch (err) {
      state.busy = false;
      say(refusal(err, channel), { bad: true });
      return null;
    }
  }

  async function remove(contact) {
    if (state.busy) return;
    state.busy = true;
    say(null);
    try {
      await Novbe.api("DELETE", path(`/${encodeURIComponent(contact.id)}`));
      state.contacts = state.contacts.filter((c) => c.id !== contact.id);
      state.busy = false;
      say("notify.removed");
    } catch (err) {
      state.busy = false;
      // Gone already (erased with the ticket, or from another tab): gone here too.
      if (err instanceof Novbe.ApiError && err.status === 404) {
        state.contacts = state.contacts.filter((c) => c.id !== contact.id);
        return say("notify.removed");
      }
      say(refusal(err, contact.channel), { bad: true });
    }
  }

  async function addTyped(event, channel, input) {
    event.preventDefault();
    const address = input.value.trim();
    // Plainly not an address: said at once, without asking the server (which checks
    // the rest, and answers the same words for what it refuses).
    const plausible = channel === "sms" ? address.replace(/\D/g, "").length >= 7 : /^[^@\s]+@[^@\s]+$/.test(address);
    if (!plausible) {
      say(channel === "sms" ? "notify.err.bad_phone" : "notify.err.bad_email", { bad: true });
      return;
    }
    if (await add(channel, { address })) input.value = "";
  }

  async function addTelegram() {
    // Opened now, while the tap still counts as the visitor's: a window opened after the
    // answer would be blocked as a pop-up. Pointed at the link once it comes.
    const opened = window.open("", "_blank");
    const contact = await add("telegram", {});
    if (contact && contact.link) {
      if (opened) opened.location.href = contact.link;
      say("notify.telegram_next", { link: contact.link });
    } else if (opened) opened.close();
  }

  // ---- Web Push ------------------------------------------------------------------------

  function registerWorker() {
    return navigator.serviceWorker.register(SW_URL, { scope: SW_SCOPE });
  }

  // The worker's registration once it is active (subscribing needs an active worker).
  // Not serviceWorker.ready: that waits for a worker controlling this page, and /t/'s
  // worker never controls a booking's page (/a/).
  async function activeRegistration() {
    const registration = await registerWorker();
    const worker = registration.installing || registration.waiting;
    if (!registration.active && worker) {
      await new Promise((resolve) => {
        worker.addEventListener("statechange", () => {
          if (worker.state === "activated") resolve();
        });
      });
    }
    return registration;
  }

  const within = (promise, ms) =>
    Promise.race([
      promise,
      new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), ms)),
    ]);

  // The VAPID key as the bytes PushManager wants.
  function keyBytes(base64url) {
    const padded = base64url.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(base64url.length / 4) * 4, "=");
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  async function addPush() {
    if (state.busy) return;
    if (!("serviceWorker" in navigator) || !("PushManager" in window) || !window.Notification) {
      return say("notify.err.push_unsupported", { bad: true });
    }
    state.busy = true;
    say("notify.push_asking");
    let subscription;
    try {
      const permission = await within(Notification.requestPermission(), PUSH_WAIT_MS);
      if (permission !== "granted") throw Object.assign(new Error("denied"), { denied: true });
      const registration = await within(activeRegistration(), PUSH_WAIT_MS);
      subscription = await within(
        registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: keyBytes(state.vapidKey),
        }),
        PUSH_WAIT_MS,
      );
    } catch (err) {
      state.busy = false;
      return say(err.denied ? "notify.err.push_denied" : "notify.err.push_failed", { bad: true });
    }
    state.busy = false;
    const json = subscription.toJSON();
    await add("webpush", { subscription: { endpoint: json.endpoint, keys: json.keys } });
  }

  // ---- start ---------------------------------------------------------------------------

  document.addEventListener(target.event, (event) => {
    state.ticket = event.detail;
    if (!state.loaded && target.open(state.ticket)) load();
    render();
  });
  $("notify-push").addEventListener("click", addPush);
  $("notify-telegram").addEventListener("click", addTelegram);
  $("notify-sms").addEventListener("submit", (event) => addTyped(event, "sms", $("notify-phone")));
  $("notify-email").addEventListener("submit", (event) =>
    addTyped(event, "email", $("notify-address")),
  );

  window.PhoneNotify = { state, load };
})();
