// The staff screens' login, shared by the counter workstation (counter/) and the
// managers' dashboard and admin pages (manage/): who is logged in with this browser,
// the login form, logging out, and API requests made with the login.
//
// The login is an HttpOnly session cookie the page's scripts never see. A change (any
// method but GET) also carries the session's CSRF token in X-CSRF-Token, which proves
// the request comes from our page; the token lives in this script's memory only.
//
// Every tab of this browser shares the cookie, so the tabs follow each other, whichever
// staff screen they show: logging out in one signs the others out, and logging in (as
// someone else, or after a log-out) there brings them along. They tell each other
// through a localStorage key, whose `storage` event fires in the other tabs only; it
// holds "in:<time>", "out:<time>" (logged out by hand) or "expired:<time>" (the
// server ended the session: every tab says so), nothing secret.
//
// Plain browser JavaScript, loaded after novbe.js and before the page's own script.
// A page calls StaffSession.start(...) once and then StaffSession.request(...) for
// the API; `signedIn` and `signedOut` tell it whenever the login changes.
"use strict";

const StaffSession = (() => {
  const { api, ApiError } = Novbe;
  const SIGNAL_KEY = "novbe.staff.session";
  const RECEPTION_PAGE = "/reception";
  const $ = (id) => document.getElementById(id);

  let user = null; // {username, role, center}, or null: nobody is logged in
  let csrf = null;
  const hooks = { signedIn: () => {}, signedOut: () => {} };
  let logoutError = null; // the line beside the log-out button (bindLogout)

  // What the server said about the session; any news makes an old log-out error stale.
  function take(body) {
    user = body ? body.user : null;
    csrf = body ? body.csrf_token : null;
    if (logoutError) logoutError.hidden = true;
    // Reception works at the door's screen only: any other staff screen sends it there.
    if (user && user.role === "reception" && location.pathname !== RECEPTION_PAGE) {
      location.replace(RECEPTION_PAGE);
    }
  }

  function errorCode(err) {
    return err instanceof ApiError && err.body && err.body.error ? err.body.error.code : null;
  }

  function tellOtherTabs(what) {
    localStorage.setItem(SIGNAL_KEY, `${what}:${Date.now()}`);
  }

  // Who is logged in with this browser: the user, or null. Rejects with a TypeError
  // when the server does not answer.
  async function load() {
    try {
      take(await api("GET", "/api/v1/auth/session"));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) throw err;
      take(null);
    }
    return user;
  }

  // Reads the session again; tells the page when it now belongs to someone else, or
  // to nobody (ended on the server: expired, revoked, password changed; then the
  // other tabs are told too). Resolves with the user or null.
  async function recheck() {
    const before = user;
    await load();
    if (before && !user) {
      tellOtherTabs("expired");
      hooks.signedOut(true);
    } else if (user && (!before || user.username !== before.username)) {
      hooks.signedIn(user);
    }
    return user;
  }

  // Rejects with ApiError 401 on a wrong username or password (429: too many tries).
  async function logIn(username, password) {
    take(await api("POST", "/api/v1/auth/session", { body: { username, password } }));
    tellOtherTabs("in");
    hooks.signedIn(user);
    return user;
  }

  // Ends the session on the server, so the cookie stops working in every tab. When
  // the server does not answer this rejects and the tab stays logged in: the cookie
  // may still work, and the page says so rather than pretend.
  async function logOut() {
    await api("DELETE", "/api/v1/auth/session");
    signOut(false);
  }

  // `expired`: the server no longer knows the session (not a log-out by hand).
  function signOut(expired) {
    if (!user) return; // told already (several requests may find it ended at once)
    take(null);
    tellOtherTabs(expired ? "expired" : "out");
    hooks.signedOut(expired);
  }

  // The API with this browser's login; resolves or rejects as Novbe.api does. A 401
  // means the session has ended: every tab is signed out, and the error still rejects
  // (the page need not show it: the login form says why). A change refused with
  // `csrf_failed` is sent once more with the session's current token, but only for the
  // same user: logging in again (in another tab) gives the session a new token, and the
  // refused request changed nothing; a request of one user is never replayed as another.
  async function request(method, path, body = undefined) {
    const username = user ? user.username : null;
    try {
      return await send(method, path, body);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        signOut(true);
        throw err;
      }
      if (errorCode(err) !== "csrf_failed" || username === null) throw err;
      const now = await recheck();
      if (!now || now.username !== username) throw err;
      return send(method, path, body);
    }
  }

  function send(method, path, body) {
    const headers = method === "GET" ? {} : { "X-CSRF-Token": csrf || "" };
    return api(method, path, { body, headers });
  }

  // Another tab logged in or out with the cookie this tab shares.
  async function onStorage(event) {
    if (event.key !== SIGNAL_KEY || !event.newValue) return;
    const expired = event.newValue.startsWith("expired:");
    if (expired || event.newValue.startsWith("out:")) {
      if (user) {
        take(null);
        hooks.signedOut(expired);
      }
      return;
    }
    try {
      await recheck(); // the same user: nothing changes here but the CSRF token
    } catch {
      // No answer: the next request will tell.
    }
  }

  // The login form of server/templates/staff.html (#login-form, #username, #password,
  // #login-submit, #login-error); `loginError(err)` words a refusal for the page.
  function bindLoginForm(loginError) {
    const error = $("login-error");
    const submit = $("login-submit");
    $("login-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      submit.disabled = true; // one login at a time
      try {
        await logIn($("username").value.trim(), $("password").value);
        $("password").value = "";
      } catch (err) {
        error.textContent = loginError(err);
        error.hidden = false;
      } finally {
        submit.disabled = false;
      }
    });
  }

  // The #logout button, and beside it a line that says why a log-out failed (in the
  // page's words, `logoutError(err)`): whatever view shows, the tab stays logged in.
  function bindLogout(inWords) {
    const button = $("logout");
    logoutError = Novbe.el("span", { class: "logout-error", role: "alert", hidden: true });
    button.after(logoutError);
    button.addEventListener("click", async () => {
      logoutError.hidden = true;
      try {
        await logOut();
      } catch (err) {
        logoutError.textContent = inWords(err);
        logoutError.hidden = false;
      }
    });
  }

  // Wires the login form, the log-out button and the other tabs, then reads who is
  // logged in: resolves with the user or null, rejects with a TypeError when the
  // server does not answer. Afterwards `signedIn(user)` follows every log-in (this
  // tab's, or another tab's that changed who is logged in) and `signedOut(expired)`
  // every log-out. `loginError(err)` and `logoutError(err)` put a refusal in words.
  function start({ signedIn, signedOut, loginError, logoutError }) {
    Object.assign(hooks, { signedIn, signedOut });
    bindLoginForm(loginError);
    bindLogout(logoutError);
    window.addEventListener("storage", onStorage);
    return load();
  }

  return {
    start,
    request,
    recheck,
    get user() {
      return user;
    },
  };
})();
