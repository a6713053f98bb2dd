//! What the page keeps in the browser's local storage, as JSON: the
//! trader's chart arrangement, a visitor's drawings. On the server there
//! is no storage: reads find nothing and writes do nothing.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The value under `key`, when there is one that reads as a `T`.
pub fn read<T: DeserializeOwned>(key: &str) -> Option<T> {
    #[cfg(feature = "hydrate")]
    {
        let text = leptos::prelude::window()
            .local_storage()
            .ok()
            .flatten()?
            .get_item(key)
            .ok()
            .flatten()?;
        serde_json::from_str(&text).ok()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = key;
        None
    }
}

/// Keeps `value` under `key`; a full or refused storage loses it quietly.
pub fn write<T: Serialize>(key: &str, value: &T) {
    #[cfg(feature = "hydrate")]
    if let (Some(storage), Ok(text)) = (
        leptos::prelude::window().local_storage().ok().flatten(),
        serde_json::to_string(value),
    ) {
        let _ = storage.set_item(key, &text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (key, value);
}

/// Forgets `key`.
pub fn remove(key: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(storage) = leptos::prelude::window().local_storage().ok().flatten() {
        let _ = storage.remove_item(key);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = key;
}
