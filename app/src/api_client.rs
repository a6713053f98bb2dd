//! The browser's calls to InChart's JSON API: one request with the
//! session's CSRF token, and the trader's sentence when it fails.
//!
//! [`ApiFailure`] is plain data, compiled for the server too, so that a
//! view can show one; the calls themselves exist only in the browser.

/// A request the API refused, or that did not reach it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiFailure {
    /// The HTTP status; 0 when the server was not reached or its answer
    /// could not be read.
    pub status: u16,
    /// The API's error kind (`plan_limit`, `invalid` …), when it gave one.
    pub kind: Option<String>,
    /// The field of the request it names, when it names one.
    pub field: Option<String>,
    /// A sentence for the trader.
    pub message: String,
    /// Where to upgrade, when the plan stands in the way.
    pub upgrade: Option<String>,
}

impl ApiFailure {
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn plain(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            kind: None,
            field: None,
            message: message.into(),
            upgrade: None,
        }
    }
}

#[cfg(feature = "hydrate")]
pub use browser::*;

#[cfg(feature = "hydrate")]
mod browser {
    use inchart_api::error::ApiErrorBody;

    use super::ApiFailure;

    /// Sends `request` with the CSRF token and `body` as JSON; `None` for a
    /// 204. The error is the API's own message, or a sentence about the
    /// connection.
    pub async fn send<T: serde::de::DeserializeOwned>(
        request: gloo_net::http::RequestBuilder,
        csrf: &str,
        body: Option<String>,
    ) -> Result<Option<T>, String> {
        send_for(request, csrf, body)
            .await
            .map_err(|failure| failure.message)
    }

    /// [`send`], failing with all the API said: the status, the field and
    /// where to upgrade.
    pub async fn send_for<T: serde::de::DeserializeOwned>(
        request: gloo_net::http::RequestBuilder,
        csrf: &str,
        body: Option<String>,
    ) -> Result<Option<T>, ApiFailure> {
        answer(request.header("x-csrf-token", csrf), body).await
    }

    /// A GET, whose answer must have a body.
    pub async fn get<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, String> {
        get_for(url).await.map_err(|failure| failure.message)
    }

    /// [`get`], failing with all the API said.
    pub async fn get_for<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, ApiFailure> {
        answer::<T>(gloo_net::http::Request::get(url), None)
            .await?
            .ok_or_else(|| ApiFailure::plain(0, "The server sent an empty answer."))
    }

    async fn answer<T: serde::de::DeserializeOwned>(
        request: gloo_net::http::RequestBuilder,
        body: Option<String>,
    ) -> Result<Option<T>, ApiFailure> {
        let unbuilt = |_| ApiFailure::plain(0, "The request could not be built.");
        let request = request.header("accept", "application/json");
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(body)
                .map_err(unbuilt)?,
            None => request.build().map_err(unbuilt)?,
        };
        let response = request
            .send()
            .await
            .map_err(|_| ApiFailure::plain(0, "The server could not be reached. Check your connection."))?;
        let status = response.status();
        if status == 204 {
            return Ok(None);
        }
        if !response.ok() {
            return Err(match response.json::<ApiErrorBody>().await {
                Ok(body) => ApiFailure {
                    status,
                    kind: Some(body.error.kind),
                    field: body.error.field,
                    message: body.error.message,
                    upgrade: body.error.upgrade,
                },
                Err(_) => ApiFailure::plain(status, format!("The server answered {status}.")),
            });
        }
        response
            .json::<T>()
            .await
            .map(Some)
            .map_err(|_| ApiFailure::plain(0, "The server's answer could not be read."))
    }
}
