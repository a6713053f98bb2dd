// InChart's service worker: shows an alert's browser push as a
// notification, and a click on it opens the alert's chart.
//
// It lives at the site root (/sw.js) because a service worker's scope is
// its own directory: from here it may open any page of the site. It
// caches nothing; pages load as they would without it.
//
// A push carries a PushMessage as JSON (api/src/alerts.rs):
// {title, body, url, tag}. The tag is the firing's id, so a repeat of
// one firing replaces its notification instead of stacking a second.
'use strict';

self.addEventListener('install', () => {
  // Nothing to prepare: take over from an older version at once.
  self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener('push', (event) => {
  let message = {};
  try {
    message = event.data ? event.data.json() : {};
  } catch (_) {
    // Not JSON: still show something, as browsers require of a push.
    message = { body: event.data ? event.data.text() : '' };
  }
  const title = typeof message.title === 'string' && message.title ? message.title : 'InChart alert';
  const url = sameSiteUrl(message.url);
  const options = {
    body: typeof message.body === 'string' ? message.body : '',
    icon: '/favicon.svg',
    data: { url },
  };
  if (typeof message.tag === 'string' && message.tag) {
    options.tag = message.tag;
  }
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = sameSiteUrl(event.notification.data && event.notification.data.url);
  event.waitUntil(focusOrOpen(url));
});

// Only pages of this site: a push names a path, never somewhere else.
function sameSiteUrl(raw) {
  try {
    const url = new URL(typeof raw === 'string' ? raw : '/', self.location.origin);
    return url.origin === self.location.origin ? url.href : self.location.origin + '/';
  } catch (_) {
    return self.location.origin + '/';
  }
}

async function focusOrOpen(url) {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const client of windows) {
    if (client.url === url && 'focus' in client) {
      return client.focus();
    }
  }
  return self.clients.openWindow(url);
}
