//! Browser push for alerts: whether this browser shows InChart's
//! notifications, and turning them on and off.
//!
//! Turning them on asks for permission, registers the service worker
//! (`/sw.js`, which shows each push), subscribes with the server's VAPID
//! key (`GET /api/v1/push/key`) and gives the subscription to the server
//! (`POST /api/v1/push/subscriptions`); turning them off unsubscribes and
//! tells the server (`DELETE`, the same body). The browser's push APIs
//! are called from a small JavaScript module; on the server every call is
//! a no-op that answers "unsupported".

/// Where this browser stands with InChart's notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushState {
    /// No service workers or no Push API here (or this is the server).
    Unsupported,
    /// The visitor blocked notifications for the site: only the
    /// browser's site settings can undo that.
    Denied,
    /// Possible, but this browser is not subscribed.
    Off,
    /// Subscribed: alerts with browser push reach this browser.
    On,
}

#[cfg(feature = "hydrate")]
pub use browser::{disable_push, enable_push, push_state};

#[cfg(not(feature = "hydrate"))]
pub use server::{disable_push, enable_push, push_state};

#[cfg(feature = "hydrate")]
mod browser {
    use inchart_api::alerts::PushKey;
    use wasm_bindgen::prelude::*;

    use super::PushState;
    use crate::api_client;

    #[wasm_bindgen(inline_js = r#"
const supported = () =>
  'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;

export function pushSupported() { return supported(); }

export function notificationPermission() { return Notification.permission; }

export async function requestPermission() { return Notification.requestPermission(); }

async function registration() {
  return navigator.serviceWorker.getRegistration('/');
}

export async function currentSubscription() {
  const registered = await registration();
  const subscription = registered ? await registered.pushManager.getSubscription() : null;
  return subscription ? JSON.stringify(subscription.toJSON()) : null;
}

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

function sameKey(a, b) {
  if (!a || a.byteLength !== b.byteLength) return false;
  const bytes = new Uint8Array(a);
  return bytes.every((byte, i) => byte === b[i]);
}

export async function subscribe(applicationServerKey) {
  await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  const ready = await navigator.serviceWorker.ready;
  const key = keyBytes(applicationServerKey);
  let subscription = await ready.pushManager.getSubscription();
  // A subscription made for another key (the server's key changed)
  // cannot be reused: the push service would refuse our signature.
  if (subscription && !sameKey(subscription.options.applicationServerKey, key)) {
    await subscription.unsubscribe();
    subscription = null;
  }
  if (!subscription) {
    subscription = await ready.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  }
  return JSON.stringify(subscription.toJSON());
}

export async function unsubscribe() {
  const registered = await registration();
  const subscription = registered ? await registered.pushManager.getSubscription() : null;
  if (!subscription) return null;
  const json = JSON.stringify(subscription.toJSON());
  await subscription.unsubscribe();
  return json;
}
"#)]
    extern "C" {
        #[wasm_bindgen(js_name = pushSupported)]
        fn push_supported() -> bool;
        #[wasm_bindgen(js_name = notificationPermission)]
        fn notification_permission() -> String;
        #[wasm_bindgen(js_name = requestPermission, catch)]
        async fn request_permission() -> Result<JsValue, JsValue>;
        #[wasm_bindgen(js_name = currentSubscription, catch)]
        async fn current_subscription() -> Result<JsValue, JsValue>;
        #[wasm_bindgen(catch)]
        async fn subscribe(application_server_key: &str) -> Result<JsValue, JsValue>;
        #[wasm_bindgen(catch)]
        async fn unsubscribe() -> Result<JsValue, JsValue>;
    }

    const SUBSCRIPTIONS: &str = "/api/v1/push/subscriptions";
    const BLOCKED: &str = "Notifications are blocked for this site. Allow them in your browser's site settings, then try again.";

    /// Where this browser stands: supported, allowed, subscribed.
    pub async fn push_state() -> PushState {
        if !push_supported() {
            return PushState::Unsupported;
        }
        if notification_permission() == "denied" {
            return PushState::Denied;
        }
        match current_subscription().await {
            Ok(subscription) if subscription.is_string() => PushState::On,
            _ => PushState::Off,
        }
    }

    /// Asks for permission, subscribes this browser and gives the
    /// subscription to the server. `csrf` is the page session's token.
    /// The error is a sentence for the trader.
    pub async fn enable_push(csrf: &str) -> Result<(), String> {
        if !push_supported() {
            return Err("This browser cannot show notifications from websites.".to_string());
        }
        // First, while the click that asked for it still counts as the
        // visitor's gesture: browsers ignore a request made later.
        let permission = request_permission().await.map_err(|_| BLOCKED.to_string())?;
        if permission.as_string().as_deref() != Some("granted") {
            return Err(BLOCKED.to_string());
        }
        let key: PushKey = api_client::get("/api/v1/push/key").await?;
        let subscription = subscribe(&key.public_key)
            .await
            .map_err(|error| browser_failure(&error))?
            .as_string()
            .ok_or_else(|| "The browser gave no subscription.".to_string())?;
        api_client::send::<serde::de::IgnoredAny>(
            gloo_net::http::Request::post(SUBSCRIPTIONS),
            csrf,
            Some(subscription),
        )
        .await?;
        Ok(())
    }

    /// Unsubscribes this browser and tells the server to forget it.
    pub async fn disable_push(csrf: &str) -> Result<(), String> {
        if !push_supported() {
            return Ok(());
        }
        let subscription = unsubscribe().await.map_err(|error| browser_failure(&error))?;
        let Some(subscription) = subscription.as_string() else {
            return Ok(());
        };
        api_client::send::<serde::de::IgnoredAny>(
            gloo_net::http::Request::delete(SUBSCRIPTIONS),
            csrf,
            Some(subscription),
        )
        .await?;
        Ok(())
    }

    /// A sentence for a refusal from the browser's push APIs.
    fn browser_failure(error: &JsValue) -> String {
        let name = js_sys::Reflect::get(error, &JsValue::from_str("name"))
            .ok()
            .and_then(|name| name.as_string())
            .unwrap_or_default();
        match name.as_str() {
            "NotAllowedError" => BLOCKED.to_string(),
            "AbortError" | "NotSupportedError" => {
                "This browser's push service is not available (private windows often have none).".to_string()
            }
            _ => "The browser could not turn notifications on or off. Reload the page and try again."
                .to_string(),
        }
    }
}

#[cfg(not(feature = "hydrate"))]
mod server {
    use super::PushState;

    /// On the server there is no browser: unsupported.
    pub async fn push_state() -> PushState {
        PushState::Unsupported
    }

    /// On the server there is no browser to subscribe.
    pub async fn enable_push(csrf: &str) -> Result<(), String> {
        let _ = csrf;
        Err("Notifications can only be turned on in a browser.".to_string())
    }

    /// On the server there is no browser to unsubscribe.
    pub async fn disable_push(csrf: &str) -> Result<(), String> {
        let _ = csrf;
        Ok(())
    }
}
