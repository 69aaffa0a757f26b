// The waiting-room display (/display/<device>): a TV that shows and announces the
// latest calls, the waiting counts and the time, unattended for weeks.
//
// One file (~650 lines) on purpose for now: the call list, the announcement queue and
// the figures all redraw from one snapshot state and one settings object; split, each
// part would reach into the others' state. Its layout is due to be reworked (every
// service on screen, long names), and that rework is the place to split it by job.
//
// Everything on screen is rebuilt from the `snapshot` each (re)connect brings, then
// kept current by live events; nothing is polled. A change of the display's settings
// (device.updated) reconnects at once for a fresh snapshot. Every list is bounded
// (rows on screen, announcements waiting their turn, cached formatters) so weeks of
// calls cannot grow memory, and the page reloads itself once a night when it can.
//
// Languages: a hall holds visitors of all three languages at once, so the display
// never waits for anyone to choose. Headings are short and shown in all three at
// once (the device's language large, the other two small): anyone can read them at
// any moment, with no text moving. Longer words (the center's and services' names,
// estimated waits) would not fit three times, so they switch language together every
// few seconds. The date is written 31.01.2025, the same in all three. Ticket
// numbers and counters need no language. Announcements are spoken in each ticket's
// own language.
"use strict";

const NovbeDisplay = (() => {
  const MAX_ROWS = 7; // called tickets on screen; fits 1280x720 and 1920x1080
  const MAX_PENDING = 6; // announcements waiting their turn; in a burst the oldest go
  const ROTATE_MS = 8000; // how long names stay in one language
  const ANNOUNCE_GAP_MS = 500; // silence between two announcements
  const MISSED_CALL_S = 60; // a call made while offline is still announced if this recent
  const REFUSED_RETRY_MS = 60000; // a refused screen tries again (token fixed, server back)
  const RELOAD_AFTER_MS = 12 * 3600 * 1000; // nightly reload only after this much uptime
  const RELOAD_HOUR = 3; // center's local hour for the nightly reload (center closed)
  const LANGS = ["az", "ru", "en"];
  const SPEECH_LANGS = { az: "az-AZ", ru: "ru-RU", en: "en-US" };

  const page = Novbe.page;
  const $ = (id) => document.getElementById(id);
  const el = Novbe.el;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  const state = {
    primary: LANGS.includes(page.language) ? page.language : "az",
    rotation: 0, // index into languagesInOrder(), for the names that take turns
    settings: {},
    center: null,
    stats: null,
    calls: [], // newest first, already filtered, at most MAX_ROWS
    snapshots: 0,
    clockOffsetMs: 0, // server clock minus this TV's clock: a TV on a closed network drifts
  };

  // ---- words -----------------------------------------------------------------
  function tIn(lang, key, vars = {}) {
    let text = page.i18n[lang]?.[key] ?? page.i18n.en[key] ?? key;
    for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`{${name}}`, value);
    return text;
  }

  function languagesInOrder() {
    return [state.primary, ...LANGS.filter((lang) => lang !== state.primary)];
  }

  function rotating() {
    return languagesInOrder()[state.rotation % LANGS.length];
  }

  function named(names, lang) {
    if (!names) return "";
    return names[lang] || names[state.primary] || names.az || Object.values(names)[0] || "";
  }

  // A heading in all three languages: the device's language large, the others small.
  function threeLanguages(key, vars) {
    const [first, ...others] = languagesInOrder();
    return [
      el("span", { class: "primary", lang: first }, tIn(first, key, vars)),
      el(
        "span",
        { class: "others" },
        others.map((lang) => el("span", { lang }, tIn(lang, key, vars)))
      ),
    ];
  }

  function renderHeadings() {
    document.documentElement.lang = state.primary;
    document.querySelectorAll("[data-words]").forEach((node) => {
      node.replaceChildren(...threeLanguages(node.dataset.words, { device: page.device }));
    });
  }

  // ---- what this display shows: device settings `counters` and `services` -------
  function listSetting(name, settings = state.settings) {
    const value = settings[name];
    return Array.isArray(value) && value.length ? value.map(String) : null;
  }

  function showsCall(call, settings = state.settings) {
    const counters = listSetting("counters", settings);
    const services = listSetting("services", settings);
    return (
      (!counters || counters.includes(String(call.counter))) &&
      (!services || services.includes(call.service))
    );
  }

  // Services in the waiting panel: the `services` setting, and with a `counters`
  // setting only what those counters serve.
  function shownServices() {
    if (!state.stats) return [];
    const services = listSetting("services");
    const counters = listSetting("counters");
    const served = counters
      ? new Set(
          state.stats.counters
            .filter((counter) => counters.includes(String(counter.label)))
            .flatMap((counter) => counter.services)
        )
      : null;
    return state.stats.services.filter(
      (s) =>
        s.active &&
        (!services || services.includes(s.service)) &&
        (!served || served.has(s.service))
    );
  }

  // ---- drawing -------------------------------------------------------------------
  function renderCalls({ flash = false } = {}) {
    const list = $("calls");
    if (!state.calls.length) {
      list.replaceChildren(el("li", { class: "empty" }, threeLanguages("display.no_calls")));
      return;
    }
    const newest = flash ? "call newest flash" : "call newest";
    list.replaceChildren(
      ...state.calls.map((call, i) =>
        el(
          "li",
          {
            class: i === 0 ? newest : "call",
            dataset: { number: call.number, counter: call.counter },
          },
          el("span", { class: "number" }, call.number),
          el("span", { class: "arrow", "aria-hidden": "true" }, "→"),
          el("span", { class: "counter" }, call.counter)
        )
      )
    );
  }

  function waitIn(lang, seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 60) return tIn(lang, "under_a_minute");
    return "≈ " + tIn(lang, "minutes", { n: Math.round(seconds / 60) });
  }

  function renderServices() {
    const lang = rotating();
    const services = shownServices();
    const list = $("services");
    if (!state.stats) return; // nothing known before the first snapshot
    list.classList.toggle("many", services.length > 5);
    if (!services.length) {
      list.replaceChildren(el("li", { class: "empty" }, threeLanguages("display.no_services")));
      return;
    }
    list.replaceChildren(
      ...services.map((s) =>
        el(
          "li",
          { class: "service", dataset: { service: s.service } },
          el("span", { class: "prefix" }, s.prefix),
          el(
            "span",
            { class: "about", lang },
            el("span", { class: "name" }, named(s.name, lang)),
            el("span", { class: "wait" }, s.waiting ? waitIn(lang, s.estimated_wait_s) : "")
          ),
          el("span", { class: "count" }, String(s.waiting))
        )
      )
    );
  }

  function renderCenter() {
    const lang = rotating();
    const name = $("center-name");
    name.lang = lang;
    name.textContent = state.center ? named(state.center.name, lang) : "";
  }

  // ---- the clock, in the center's time zone ---------------------------------------
  const formats = new Map(); // two formatters per time zone; the zone rarely changes
  const FORMATS = {
    time: { hour: "2-digit", minute: "2-digit", hourCycle: "h23" },
    day: { year: "numeric", month: "2-digit", day: "2-digit", hour: "numeric", hourCycle: "h23" },
  };

  function format(kind) {
    const zone = state.center?.timezone;
    const key = `${kind}|${zone}`;
    if (!formats.has(key)) {
      if (formats.size > 8) formats.clear();
      try {
        formats.set(key, new Intl.DateTimeFormat("en-GB", { ...FORMATS[kind], timeZone: zone }));
      } catch (err) {
        formats.set(key, new Intl.DateTimeFormat("en-GB", FORMATS[kind])); // unknown zone
      }
    }
    return formats.get(key);
  }

  function now() {
    return new Date(Date.now() + state.clockOffsetMs);
  }

  function syncClock(serverIso) {
    const server = Date.parse(serverIso);
    if (!Number.isNaN(server)) state.clockOffsetMs = server - Date.now();
  }

  let lastDay = null;

  function tick() {
    const at = now();
    setText($("time"), format("time").format(at));
    const parts = Object.fromEntries(
      format("day")
        .formatToParts(at)
        .map((part) => [part.type, part.value])
    );
    // 31.01.2025: how dates are written in az and ru alike, and it needs no month
    // names (browsers' locale data for az is often missing).
    setText($("date"), `${parts.day}.${parts.month}.${parts.year}`);
    if (!state.center) return;
    const day = `${parts.year}-${parts.month}-${parts.day}`; // the center's date
    const hour = Number(parts.hour);
    if (lastDay !== null && day !== lastDay) {
      state.calls = []; // yesterday's calls mean nothing today
      renderCalls();
    }
    lastDay = day;
    maybeReload(hour);
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  // Belt and braces for weeks of uptime: reload once a night while the center is
  // closed, and only if the server answers (a TV must never end up on an error page).
  const startedAt = Date.now();
  let reloading = false;

  function maybeReload(hour) {
    if (reloading || hour !== RELOAD_HOUR || Date.now() - startedAt < RELOAD_AFTER_MS) return;
    reloading = true;
    fetch(location.pathname, { cache: "no-store" })
      .then((response) => (response.ok ? location.reload() : (reloading = false)))
      .catch(() => (reloading = false));
  }

  // ---- sound: a chime, then the announcement --------------------------------------
  const chime = (() => {
    let context = null; // one for the page's life: browsers cap how many may exist

    function audio() {
      const AudioContextClass = window.AudioContext || window.webkitAudioContext;
      if (!AudioContextClass) return null;
      if (!context) context = new AudioContextClass();
      return context;
    }

    function tone(ac, frequency, at, seconds) {
      const oscillator = ac.createOscillator();
      const gain = ac.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.35, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + seconds);
      oscillator.connect(gain).connect(ac.destination);
      oscillator.onended = () => {
        oscillator.disconnect();
        gain.disconnect();
      };
      oscillator.start(at);
      oscillator.stop(at + seconds + 0.05);
    }

    // Three falling tones (G5 E5 C5), the familiar "attention" chime. Resolves when
    // it has finished, so the voice never talks over it.
    async function play() {
      const ac = audio();
      if (!ac) return;
      if (ac.state !== "running") {
        await Promise.race([ac.resume().catch(() => {}), sleep(300)]);
      }
      if (ac.state !== "running") {
        soundBlocked(true); // the browser wants a tap first; see the #sound button
        return;
      }
      const start = ac.currentTime + 0.05;
      tone(ac, 784, start, 0.6);
      tone(ac, 659, start + 0.35, 0.6);
      tone(ac, 523, start + 0.7, 0.8);
      await sleep(1300); // the last tone's tail is faint enough to speak over
    }

    function unlock() {
      const ac = audio();
      if (ac && ac.state !== "running") ac.resume().catch(() => {});
    }

    return { play, unlock };
  })();

  // Chromium on a TV should run with --autoplay-policy=no-user-gesture-required;
  // without it, sound starts only after one tap, which this button asks for.
  function soundBlocked(blocked) {
    $("sound").hidden = !blocked;
  }

  // The number as it is spoken: letters, a comma, then digit by digit, e.g. "A, 0 1 2".
  // Digit by digit matches what is printed on the paper ticket and on the screen,
  // character for character, so a visitor compares without arithmetic; it also avoids
  // each voice's own habit with leading zeros ("twelve", "zero twelve", "oh twelve"),
  // and single digits are the words every voice pronounces best. The comma makes a
  // short pause after the letter, so an English voice reads "A" as a letter, not as
  // the article, and letters that sound alike (B, D) are not run into the digits.
  function spokenNumber(number) {
    const match = String(number).match(/^([A-Za-z]*)(\d*)$/);
    if (!match) return String(number);
    const [, letters, digits] = match;
    const parts = [letters.split("").join(" "), digits.split("").join(" ")].filter(Boolean);
    return parts.join(", ");
  }

  function announcementFor(call) {
    const lang = LANGS.includes(call.language) ? call.language : state.primary;
    return {
      text: tIn(lang, "announce.call", {
        number: spokenNumber(call.number),
        counter: call.counter,
      }),
      lang: SPEECH_LANGS[lang],
      number: call.number,
      counter: call.counter,
    };
  }

  // A voice for the language; Azerbaijani voices are rare, and a Turkish voice reads
  // Azerbaijani text (and its digits: sıfır, bir, iki...) nearly as a native would.
  function pickVoice(voices, tag) {
    const base = tag.slice(0, 2).toLowerCase();
    const starts = (prefix) => voices.find((v) => (v.lang || "").toLowerCase().startsWith(prefix));
    return (
      voices.find((v) => v.lang === tag) ||
      starts(base) ||
      (base === "az" ? starts("tr") : null) ||
      null
    );
  }

  let speaking = null; // the current utterance: Chrome drops the events of collected ones

  // Resolves true once spoken (or given up on after a time-out: some engines never
  // fire `end`), false when this browser cannot say it, so the fallback may.
  function speak({ text, lang }) {
    const synth = window.speechSynthesis;
    if (!synth || typeof window.SpeechSynthesisUtterance !== "function") {
      return Promise.resolve(false);
    }
    const voices = synth.getVoices() || [];
    const voice = pickVoice(voices, lang);
    // Only voices for other languages: better the fallback than a garbled name.
    if (voices.length && !voice) return Promise.resolve(false);
    return new Promise((resolve) => {
      const utterance = new SpeechSynthesisUtterance(text);
      utterance.lang = lang;
      if (voice) utterance.voice = voice;
      utterance.rate = 0.9; // a hall echoes; a little slower carries better
      let timer = null;
      const finish = (spoken) => {
        if (speaking !== utterance) return;
        speaking = null;
        clearTimeout(timer);
        resolve(spoken);
      };
      utterance.onend = () => finish(true);
      utterance.onerror = (event) => {
        if (event.error === "not-allowed") soundBlocked(true);
        finish(false);
      };
      timer = setTimeout(() => {
        synth.cancel(); // stuck engine: reset it so the next announcement can start
        finish(true);
      }, 5000 + text.length * 150);
      if (synth.speaking || synth.pending) synth.cancel(); // nothing of ours is playing
      speaking = utterance;
      synth.speak(utterance);
    });
  }

  // Where this browser cannot speak (no speechSynthesis, or no voice for the
  // language): the server's recording of the same phrase, made with espeak-ng from
  // the same words (GET /api/v1/centers/{center}/announcement.wav). Only
  // the number, counter and language go to the server, never the text. Resolves once
  // it has been played, or at once when there is nothing to play (server without a
  // voice, network down): the chime alone has then done what it could.
  const VOICE_FETCH_MS = 8000; // a phrase is rendered in well under a second
  let voiceAudio = null; // one element for the page's life, reused for every phrase

  async function voiceFallback({ lang, number, counter }) {
    const language = String(lang).slice(0, 2);
    const token = Novbe.deviceToken(`novbe.display.${page.device}`);
    if (!state.center || !token || !LANGS.includes(language)) return;
    const query = new URLSearchParams({ number, counter, language });
    const path = `/api/v1/centers/${encodeURIComponent(state.center.code)}/announcement.wav`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), VOICE_FETCH_MS);
    let blob;
    try {
      // fetch, not <audio src>: an audio element cannot send the device token.
      // The answer may be kept by the browser for the day, so a recall is instant.
      const response = await fetch(`${path}?${query}`, {
        headers: { Authorization: `Bearer ${token}` },
        signal: controller.signal,
      });
      if (!response.ok) {
        console.warn("server voice refused", response.status, await response.text());
        return;
      }
      blob = await response.blob();
    } catch (err) {
      console.warn("server voice unreachable", err);
      return;
    } finally {
      clearTimeout(timer);
    }
    await playAudio(blob);
  }

  // Resolves when the sound has ended or cannot play. The blob's URL is freed either
  // way, so weeks of calls keep no audio in memory; a phrase still playing when the
  // next one starts (announce() stopped waiting for it) is cut short.
  let stopVoice = null;

  function playAudio(blob) {
    if (stopVoice) stopVoice();
    if (!voiceAudio) voiceAudio = new Audio();
    const audio = voiceAudio;
    const url = URL.createObjectURL(blob);
    return new Promise((resolve) => {
      const done = () => {
        if (stopVoice !== done) return;
        stopVoice = null;
        audio.onended = audio.onerror = null;
        audio.pause();
        URL.revokeObjectURL(url);
        resolve();
      };
      stopVoice = done;
      audio.onended = done;
      audio.onerror = done;
      audio.src = url;
      audio.play().catch((err) => {
        if (err.name === "NotAllowedError") soundBlocked(true); // see the #sound button
        done();
      });
    });
  }

  // The hook for one call: chime, then speech, else the fallback voice.
  async function announce(call) {
    const announcement = announcementFor(call);
    await chime.play();
    if (await speak(announcement)) return;
    const fallback = Promise.resolve().then(() => api.voiceFallback(announcement));
    await Promise.race([fallback.catch(() => {}), sleep(15000)]);
  }

  // One announcement at a time, in order of arrival; the next starts when the previous
  // one has ended. A recall of a ticket still waiting its turn moves it to the back.
  const announcer = (() => {
    const pending = [];
    let busy = false;
    let current = null; // the call being announced

    function enqueue(call) {
      const queued = pending.findIndex((c) => c.number === call.number);
      if (queued >= 0) pending.splice(queued, 1);
      pending.push(call);
      while (pending.length > MAX_PENDING) pending.shift();
      run();
    }

    async function run() {
      if (busy) return;
      busy = true;
      try {
        while (pending.length) {
          current = pending.shift();
          try {
            await announce(current);
          } catch (err) {
            console.warn("announcement failed", err);
          }
          current = null;
          await sleep(ANNOUNCE_GAP_MS);
        }
      } finally {
        busy = false;
      }
    }

    // What is being said and what waits, by ticket number (console and tests).
    function status() {
      return { current: current && current.number, pending: pending.map((c) => c.number) };
    }

    return { enqueue, status };
  })();

  // ---- live events --------------------------------------------------------------
  function callKey(call) {
    return `${call.number}@${call.called_at}`;
  }

  // Every connect brings one, and so does a change of this display's settings
  // (device.updated: a resync), which may show other counters and services from now on.
  function onSnapshot(snapshot) {
    const known = new Set(state.calls.map(callKey));
    const before = state.settings;
    const firstSnapshot = state.snapshots++ === 0;
    syncClock(snapshot.at);
    state.settings = snapshot.settings || {};
    // The setting's language, or the page's again once the setting is gone.
    const fallback = LANGS.includes(page.language) ? page.language : "az";
    state.primary = LANGS.includes(state.settings.language) ? state.settings.language : fallback;
    state.center = snapshot.center;
    state.stats = snapshot.stats;
    const calls = (snapshot.recent_calls || []).filter((call) => showsCall(call));
    state.calls = calls.slice(0, MAX_ROWS);
    // Calls made while this screen was away, moments ago: still worth announcing. Not
    // those its settings kept off it until now: they were another display's to announce.
    const missed = firstSnapshot
      ? []
      : state.calls.filter(
          (call) =>
            !known.has(callKey(call)) &&
            showsCall(call, before) &&
            Date.parse(snapshot.at) - Date.parse(call.called_at) < MISSED_CALL_S * 1000
        );
    renderAll({ flash: missed.length > 0 && missed[0] === state.calls[0] });
    missed.reverse().forEach(announcer.enqueue);
  }

  function onCalled(call) {
    if (!showsCall(call)) return;
    state.calls = [call, ...state.calls.filter((c) => c.number !== call.number)].slice(0, MAX_ROWS);
    renderCalls({ flash: true });
    announcer.enqueue(call);
  }

  function onStats(stats) {
    state.stats = stats;
    syncClock(stats.at);
    renderServices();
  }

  function renderAll(options) {
    renderHeadings();
    renderCenter();
    renderCalls(options);
    renderServices();
    tick();
  }

  function rotate() {
    state.rotation = (state.rotation + 1) % LANGS.length;
    renderCenter();
    renderServices();
  }

  // The shared banner, in all three languages (nobody chose one here).
  let socket = null;
  let retryTimer = null;

  function onStatus(status, reason) {
    const banner = $("connection");
    banner.hidden = status === "online";
    banner.dataset.status = status;
    document.body.classList.toggle("offline", status !== "online");
    const key = status === "refused" ? "conn.refused" : "conn.lost";
    if (status !== "online") {
      banner.textContent = languagesInOrder()
        .map((lang) => tIn(lang, key, { reason: reason || "" }))
        .join(" · ");
    }
    // Socket.IO does not retry a refusal; a screen nobody watches must, slowly.
    if (status === "refused" && retryTimer === null) {
      retryTimer = setTimeout(() => {
        retryTimer = null;
        socket.connect();
      }, REFUSED_RETRY_MS);
    }
  }

  // Keep a TV stick or PC from blanking the screen. Browsers grant this only to a
  // visible page in a secure context (https or localhost), and drop it when the page
  // is hidden, so ask again whenever it becomes visible; where refused, nothing lost.
  function keepScreenOn() {
    if (!navigator.wakeLock || document.visibilityState !== "visible") return;
    navigator.wakeLock.request("screen").catch(() => {});
  }

  function start() {
    renderAll();
    keepScreenOn();
    document.addEventListener("visibilitychange", keepScreenOn);
    setInterval(tick, 1000);
    setInterval(rotate, ROTATE_MS);
    $("sound").addEventListener("click", () => {
      chime.unlock();
      soundBlocked(false);
    });
    // Any tap or key also unlocks sound (a remote control's OK button, say).
    document.addEventListener("pointerdown", chime.unlock);
    document.addEventListener("keydown", chime.unlock);

    const token = Novbe.deviceToken(`novbe.display.${page.device}`);
    if (!token) {
      $("setup").hidden = false;
      return;
    }
    socket = Novbe.live(
      { token },
      {
        snapshot: onSnapshot,
        "ticket.called": onCalled,
        "queue.stats": onStats,
        "device.updated": () => Novbe.resync(socket), // new settings: a fresh snapshot
      },
      { onStatus }
    );
  }

  const api = {
    announce, // announce(call): chime, then speech, else voiceFallback
    voiceFallback, // replaceable: see above
    spokenNumber,
    get announcements() {
      return announcer.status();
    },
    get socket() {
      return socket; // for diagnostics in the browser console
    },
  };
  start();
  return api;
})();
