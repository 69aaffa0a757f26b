// The waiting-room display's namespace (`NovbeDisplay`) and what every part of it
// shares: what the screen knows (state, rebuilt from each snapshot), its words in
// three languages, and which calls and services this display shows (its device
// settings). Loaded first; display_clock.js, display_calls.js, display_services.js,
// display_sound.js and display.js (the start) add their parts.
//
// Languages: a hall holds visitors of all three languages at once, so the display
// never waits for anyone to choose. Headings are short and shown in all three at
// once (the device's language large, the other two small): anyone can read them at
// any moment, with no text moving. Longer words (the center's and services' names,
// estimated waits, the empty states, the page cue) would not fit three times, so
// they switch language together: after every page of the waiting list has been
// shown in one language (display_services.js). Ticket numbers and counters need no
// language. Announcements are spoken in each ticket's own language.
"use strict";

const NovbeDisplay = (() => {
  const LANGS = ["az", "ru", "en"];
  const MAX_CALLS = 7; // called tickets on screen; fits 1280x720 and 1920x1080
  const MISSED_CALL_S = 60; // a call made while offline is still announced if this recent

  const page = Novbe.page;
  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const pageLanguage = () => (LANGS.includes(page.language) ? page.language : "az");

  const state = {
    primary: pageLanguage(), // the device's language (its `language` setting)
    rotation: 0, // index into languagesInOrder(), for the words that take turns
    page: 0, // the page of the waiting list on screen (display_services.js)
    settings: {},
    center: null,
    stats: null,
    calls: [], // newest first, already filtered, at most MAX_CALLS
    snapshots: 0,
    clockOffsetMs: 0, // server clock minus this TV's clock: a TV on a closed network drifts
    socket: null,
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

  // The language of the words that take turns, now.
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
      Novbe.el("span", { class: "primary", lang: first }, tIn(first, key, vars)),
      Novbe.el(
        "span",
        { class: "others" },
        others.map((lang) => Novbe.el("span", { lang }, tIn(lang, key, vars))),
      ),
    ];
  }

  function renderHeadings() {
    document.documentElement.lang = state.primary;
    document.querySelectorAll("[data-words]").forEach((node) => {
      node.replaceChildren(...threeLanguages(node.dataset.words, { device: page.device }));
    });
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
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

  // Services in the waiting panel, in the center's order: the `services` setting, and
  // with a `counters` setting only what those counters serve.
  function shownServices() {
    if (!state.stats) return [];
    const services = listSetting("services");
    const counters = listSetting("counters");
    const served = counters
      ? new Set(
          state.stats.counters
            .filter((counter) => counters.includes(String(counter.label)))
            .flatMap((counter) => counter.services),
        )
      : null;
    return state.stats.services.filter(
      (s) =>
        s.active &&
        (!services || services.includes(s.service)) &&
        (!served || served.has(s.service)),
    );
  }

  // ---- the snapshot ------------------------------------------------------------
  function callKey(call) {
    return `${call.number}@${call.called_at}`;
  }

  // Every connect brings one, and so does a change of this display's settings
  // (device.updated: a resync), which may show other counters and services from now
  // on. Returns the calls made while this screen was away, moments ago, oldest first:
  // still worth announcing. Not those its settings kept off it until now: they were
  // another display's to announce.
  function applySnapshot(snapshot) {
    const known = new Set(state.calls.map(callKey));
    const before = state.settings;
    const firstSnapshot = state.snapshots++ === 0;
    state.settings = snapshot.settings || {};
    // The setting's language, or the page's again once the setting is gone.
    const language = state.settings.language;
    state.primary = LANGS.includes(language) ? language : pageLanguage();
    state.center = snapshot.center;
    state.stats = snapshot.stats;
    const calls = (snapshot.recent_calls || []).filter((call) => showsCall(call));
    state.calls = calls.slice(0, MAX_CALLS);
    if (firstSnapshot) return [];
    return state.calls
      .filter(
        (call) =>
          !known.has(callKey(call)) &&
          showsCall(call, before) &&
          Date.parse(snapshot.at) - Date.parse(call.called_at) < MISSED_CALL_S * 1000,
      )
      .reverse();
  }

  return {
    LANGS,
    MAX_CALLS,
    page,
    state,
    $,
    sleep,
    tIn,
    languagesInOrder,
    rotating,
    named,
    threeLanguages,
    renderHeadings,
    setText,
    showsCall,
    shownServices,
    applySnapshot,
  };
})();
