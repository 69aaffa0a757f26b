// Shared by every Növbə screen: words in three languages, the JSON API, and the
// live channel (Socket.IO namespace /live). Plain browser JavaScript, no build step.
"use strict";

const Novbe = (() => {
  const page = JSON.parse(document.getElementById("novbe-page").textContent);

  // ---- words ---------------------------------------------------------------
  // page.i18n: {lang: {key: text}}, compiled from the gettext catalogs (server/i18n). An
  // entry that counts something is {category: text} with CLDR's plural categories
  // ("one", "few", "many", "other"), chosen by Intl.PluralRules (CLDR's rules too).
  let language = page.language || "az";
  const pluralRules = new Map();

  function fill(text, vars) {
    for (const [name, value] of Object.entries(vars)) {
      text = text.replaceAll(`{${name}}`, value);
    }
    return text;
  }

  // A key's text in `lang`; `{n}` (a count) chooses among plural forms. Counts stay plain
  // digits, as the server writes them: Chromium has no Azerbaijani number formats.
  function tIn(lang, key, vars = {}) {
    const entry = (page.i18n[lang] || page.i18n.az)[key] ?? page.i18n.en[key] ?? key;
    if (typeof entry === "string") return fill(entry, vars);
    const n = Number(vars.n);
    if (!Number.isFinite(n)) return fill(entry.other, vars);
    if (!pluralRules.has(lang)) pluralRules.set(lang, new Intl.PluralRules(lang));
    return fill(entry[pluralRules.get(lang).select(n)] ?? entry.other, vars);
  }

  // The form for `n` of an entry with plural forms: tn("minutes_full", 5) -> "5 минут".
  function tnIn(lang, key, n, vars = {}) {
    return tIn(lang, key, { ...vars, n });
  }

  function t(key, vars = {}) {
    return tIn(page.i18n[language] ? language : "az", key, vars);
  }

  function tn(key, n, vars = {}) {
    return t(key, { ...vars, n });
  }

  function setLanguage(lang, root = document) {
    if (!page.i18n[lang]) return;
    language = lang;
    document.documentElement.lang = lang;
    root.querySelectorAll("[data-i18n]").forEach((el) => {
      el.textContent = t(el.dataset.i18n);
    });
  }

  // A localized name from the API ({az, ru, en}).
  function named(names) {
    if (!names) return "";
    return names[language] || names.az || names.en || Object.values(names)[0] || "";
  }

  function waitText(seconds) {
    if (seconds === null || seconds === undefined) return t("unknown_wait");
    if (seconds < 60) return t("under_a_minute");
    return tn("minutes_full", Math.round(seconds / 60)); // "minutes" is the short "5 мин"
  }

  // ---- the JSON API ----------------------------------------------------------
  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error && body.error.message) || `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }

  // Rejects with ApiError (the server answered with an error) or TypeError (no answer).
  // `headers`: more request headers (the counter page sends its X-CSRF-Token).
  async function api(
    method,
    path,
    { token, body, idempotencyKey, headers: extra, timeoutMs = 8000 } = {},
  ) {
    const headers = { Accept: "application/json", ...extra };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
      });
    } catch (err) {
      throw new TypeError(`no answer from the server: ${err.message}`);
    } finally {
      clearTimeout(timer);
    }
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ---- device tokens ---------------------------------------------------------
  // A kiosk or display is set up once by opening its page with #token=dv_...; the
  // token then lives in this browser's storage, never in the address bar or logs.
  function deviceToken(storageKey) {
    const match = location.hash.match(/token=([A-Za-z0-9_-]+)/);
    if (match) {
      localStorage.setItem(storageKey, match[1]);
      history.replaceState(null, "", location.pathname + location.search);
    }
    return localStorage.getItem(storageKey);
  }

  // ---- the live channel --------------------------------------------------------
  // Connects to /live with `auth`, calls handlers[event](data) for every event, and
  // reconnects on its own with back-off (1 s doubling to 15 s, randomized). Every
  // (re)connect brings a fresh `snapshot`, so nothing is lost while away.
  const resyncing = new WeakSet(); // sockets reconnecting on purpose (resync)

  function live(auth, handlers, { onStatus = () => {} } = {}) {
    const socket = io("/live", {
      auth,
      transports: ["websocket", "polling"],
      reconnectionDelay: 1000,
      reconnectionDelayMax: 15000,
      randomizationFactor: 0.5,
    });
    socket.on("connect", () => {
      resyncing.delete(socket);
      onStatus("online");
    });
    socket.on("disconnect", () => {
      if (!resyncing.has(socket)) onStatus("offline");
    });
    socket.on("connect_error", (err) => {
      resyncing.delete(socket);
      // A refusal by the server (bad token) does not retry by itself. `err.data`: what
      // the server adds ({code}), for screens that say it in their own words.
      if (!socket.active) onStatus("refused", err.message, err.data);
      else onStatus("offline");
    });
    for (const [event, handler] of Object.entries(handlers)) {
      socket.on(event, handler);
    }
    return socket;
  }

  // Everything again, now: the server said that what this screen shows has changed
  // (its device settings: `device.updated`). A reconnect brings a full `snapshot`,
  // which every screen already redraws from, so state keeps one path. The blink is on
  // purpose: it is not reported as "offline" (no banner flashes on a hall's screen).
  function resync(socket) {
    if (!socket.connected) return; // reconnecting already: its snapshot is on the way
    resyncing.add(socket);
    socket.disconnect();
    socket.connect();
  }

  // The words for a refusal of the live channel: the common catalog's
  // conn.refused.<code> for the server's reason (`data.code`) when there is one, else
  // `fallback`. Never the server's own message, which is English.
  function refusalKey(data, fallback = "conn.refused.other") {
    const key = `conn.refused.${data?.code}`;
    return data?.code && page.i18n.en[key] ? key : fallback;
  }

  // A banner that says the screen is offline or refused, in the current language.
  function statusBanner(element) {
    return (status, _reason, data) => {
      element.hidden = status === "online";
      element.dataset.status = status;
      if (status === "offline") element.textContent = t("conn.lost");
      if (status === "refused") element.textContent = t(refusalKey(data));
    };
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (name === "class") node.className = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (value !== false && value !== null && value !== undefined) {
        node.setAttribute(name, value === true ? "" : value);
      }
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  return {
    page,
    t,
    tn,
    tIn,
    tnIn,
    named,
    setLanguage,
    get language() {
      return language;
    },
    waitText,
    api,
    ApiError,
    newKey,
    deviceToken,
    live,
    resync,
    refusalKey,
    statusBanner,
    el,
  };
})();
