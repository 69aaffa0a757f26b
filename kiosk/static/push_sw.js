// The phone page's service worker, served at /t/sw.js with the scope /t/ (so that it
// covers every ticket's page and nothing else). A push message is what the server's Web
// Push channel sends (server/notify/channels/webpush.py): {title, body, url}; shown as a
// notification, and a tap on it brings the ticket's page to the front (or opens it).
// Invariant: nothing is cached or fetched here; the page works the same without it.
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function readPush(event) {
  if (!event.data) return {};
  try {
    return event.data.json();
  } catch {
    return { text: event.data.text() };
  }
}

self.addEventListener("push", (event) => {
  const message = readPush(event);
  const title = message.title || "Növbə";
  const body = message.body || message.text || "";
  const url = message.url || null;
  event.waitUntil(
    self.registration.showNotification(title, {
      body,
      data: { url },
      tag: url || undefined, // a newer message about the same ticket replaces the older
      renotify: Boolean(url),
      lang: message.language || undefined,
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = event.notification.data && event.notification.data.url;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const target = url ? new URL(url, self.location.origin).href : null;
      const open = windows.find((client) => (target ? client.url === target : true));
      if (open) return open.focus();
      if (target) return self.clients.openWindow(target);
      return null;
    })(),
  );
});
