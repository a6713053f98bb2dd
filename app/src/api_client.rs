//! The browser's calls to InChart's JSON API: one request with the
//! session's CSRF token, and the trader's sentence when it fails.

use inchart_api::error::ApiErrorBody;

/// Sends `request` with the CSRF token and `body` as JSON; `None` for a
/// 204. The error is the API's own message, or a sentence about the
/// connection.
pub async fn send<T: serde::de::DeserializeOwned>(
    request: gloo_net::http::RequestBuilder,
    csrf: &str,
    body: Option<String>,
) -> Result<Option<T>, String> {
    answer(request.header("x-csrf-token", csrf), body).await
}

/// A GET, whose answer must have a body.
pub async fn get<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, String> {
    answer::<T>(gloo_net::http::Request::get(url), None)
        .await?
        .ok_or_else(|| "The server sent an empty answer.".to_string())
}

async fn answer<T: serde::de::DeserializeOwned>(
    request: gloo_net::http::RequestBuilder,
    body: Option<String>,
) -> Result<Option<T>, String> {
    let request = request.header("accept", "application/json");
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(body)
            .map_err(|_| "The request could not be built.".to_string())?,
        None => request
            .build()
            .map_err(|_| "The request could not be built.".to_string())?,
    };
    let response = request
        .send()
        .await
        .map_err(|_| "The server could not be reached. Check your connection.".to_string())?;
    if response.status() == 204 {
        return Ok(None);
    }
    if !response.ok() {
        return Err(match response.json::<ApiErrorBody>().await {
            Ok(body) => body.error.message,
            Err(_) => format!("The server answered {}.", response.status()),
        });
    }
    response
        .json::<T>()
        .await
        .map(Some)
        .map_err(|_| "The server's answer could not be read.".to_string())
}
