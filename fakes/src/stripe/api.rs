//! The REST side: `/v1/customers`, `/v1/checkout/sessions`,
//! `/v1/billing_portal/sessions`, `/v1/subscriptions`, `/v1/invoices` and
//! `/v1/prices`, with Stripe's authentication, idempotency, bracket-notation
//! parameters, `expand`, list objects and error objects.
//!
//! Policies:
//! - Every API request is logged, whatever it is answered, before the
//!   answer goes out.
//! - The key (`Authorization: Bearer <key>`, or Basic with the key as the
//!   user name, as `curl -u <key>:` sends it) is checked first (401), then `Stripe-Version` (400 if not
//!   [`API_VERSION`]), then idempotency, then the call itself; the whole call
//!   runs under the state lock, so concurrent calls are serialised.
//! - Errors are Stripe's: `{"error": {"type", "message", "code"?, "param"?, ...}}`
//!   with Stripe's status codes and, where Stripe has one, its message.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::lifecycle::{NewCheckoutSession, NewCustomer, NewPortalSession};
use super::objects::{Metadata, SubscriptionStatus};
use super::{API_VERSION, EventRequest, FakeEvent, Shared, State, StripeRequest, hosted, lock};

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/c/pay/{session}", get(hosted::checkout_page).post(hosted::pay))
        .route(
            "/p/session/{session}",
            get(hosted::portal_page).post(hosted::portal_action),
        )
        .route("/i/{invoice}", get(hosted::invoice_page))
        .route("/i/{invoice}/pdf", get(hosted::invoice_page))
        .fallback(handle)
        .with_state(shared)
}

/// A Stripe error, as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiError {
    status: u16,
    kind: &'static str,
    code: Option<&'static str>,
    message: String,
    param: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}", self.message, self.kind)?;
        if let Some(code) = self.code {
            write!(f, ", {code}")?;
        }
        write!(f, ")")
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// 400 `invalid_request_error`.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            kind: "invalid_request_error",
            code: None,
            message: message.into(),
            param: None,
        }
    }

    fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// 404 `resource_missing`, as a GET of an unknown id answers.
    pub fn no_such(kind: &str, id: &str) -> Self {
        Self {
            status: 404,
            ..Self::invalid_request(format!("No such {kind}: '{id}'"))
        }
        .with_code("resource_missing")
        .with_param("id")
    }

    /// 400 `resource_missing`, as an unknown id in a parameter answers.
    fn no_such_param(kind: &str, id: &str, param: &str) -> Self {
        Self::invalid_request(format!("No such {kind}: '{id}'"))
            .with_code("resource_missing")
            .with_param(param)
    }

    fn missing(param: &str) -> Self {
        Self::invalid_request(format!("Missing required param: {param}."))
            .with_code("parameter_missing")
            .with_param(param)
    }

    fn unknown_param(param: &str) -> Self {
        Self::invalid_request(format!("Received unknown parameter: {param}"))
            .with_code("parameter_unknown")
            .with_param(param)
    }

    fn invalid_value(param: &str, message: impl Into<String>) -> Self {
        Self::invalid_request(message).with_param(param)
    }

    fn unauthorized(message: String) -> Self {
        Self {
            status: 401,
            ..Self::invalid_request(message)
        }
    }

    fn idempotency(message: String) -> Self {
        Self {
            kind: "idempotency_error",
            ..Self::invalid_request(message)
        }
    }

    fn body(&self, request_id: &str, now: i64) -> Value {
        let mut error = json!({
            "message": self.message,
            "request_log_url": format!("https://dashboard.stripe.com/test/logs/{request_id}?t={now}"),
            "type": self.kind,
        });
        if let Some(fields) = error.as_object_mut() {
            if let Some(code) = self.code {
                fields.insert("code".to_owned(), json!(code));
                fields.insert(
                    "doc_url".to_owned(),
                    json!(format!(
                        "https://stripe.com/docs/error-codes/{}",
                        code.replace('_', "-")
                    )),
                );
            }
            if let Some(param) = &self.param {
                fields.insert("param".to_owned(), json!(param));
            }
        }
        json!({ "error": error })
    }
}

/// What an idempotency key was first used for, and the answer to replay.
#[derive(Debug, Clone)]
pub(super) struct Replay {
    method: String,
    path: String,
    /// Sorted, so the order a client sends them in does not matter.
    params: Vec<(String, String)>,
    request_id: String,
    status: u16,
    body: String,
}

/// The parameters of a call: the query's and the form body's pairs.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(raw: &[u8]) -> Vec<(String, String)> {
        form_urlencoded::parse(raw).into_owned().collect()
    }

    /// The first value of `key`.
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    /// The value of `key`, `None` when absent or empty (Stripe's "unset").
    fn text(&self, key: &str) -> Option<String> {
        self.get(key).filter(|value| !value.is_empty()).map(str::to_owned)
    }

    fn required(&self, key: &str) -> Result<String, ApiError> {
        self.text(key).ok_or_else(|| ApiError::missing(key))
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(ApiError::invalid_value(key, format!("Invalid boolean: {other}"))),
        }
    }

    fn integer(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.text(key)
            .map(|raw| {
                raw.parse::<i64>()
                    .map_err(|_| ApiError::invalid_value(key, format!("Invalid integer: {raw}")))
            })
            .transpose()
    }

    fn url(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.text(key) {
            Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                Err(ApiError::invalid_value(key, "Not a valid URL"))
            }
            other => Ok(other),
        }
    }

    /// A hash parameter: `metadata[user_id]=7` → `{user_id: 7}` for `metadata`.
    fn hash(&self, name: &str) -> Metadata {
        self.0
            .iter()
            .filter_map(|(key, value)| {
                let inner = key.strip_prefix(name)?.strip_prefix('[')?.strip_suffix(']')?;
                (!inner.contains(['[', ']'])).then(|| (inner.to_owned(), value.clone()))
            })
            .collect()
    }

    /// A list parameter: `expand[]=a&expand[0]=b` (or `expand=a`).
    fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| {
                key == name
                    || key
                        .strip_prefix(name)
                        .and_then(|rest| rest.strip_prefix('['))
                        .and_then(|rest| rest.strip_suffix(']'))
                        .is_some_and(|index| index.bytes().all(|b| b.is_ascii_digit()))
            })
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// Refuses any parameter whose shape is not among `allowed`. A shape is
    /// the key with `[]` for a list index and `[*]` for a hash key:
    /// `line_items[][price]`, `metadata[*]`.
    fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        for (key, _) in &self.0 {
            if !allowed.iter().any(|shape| key_has_shape(key, shape)) {
                return Err(ApiError::unknown_param(key));
            }
        }
        Ok(())
    }
}

/// `name[a][b]` → `("name", ["a", "b"])`; `None` if the brackets are malformed.
fn key_parts(key: &str) -> Option<(&str, Vec<&str>)> {
    let (name, mut rest) = match key.find('[') {
        Some(at) => (&key[..at], &key[at..]),
        None => (key, ""),
    };
    let mut parts = Vec::new();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        parts.push(&inner[..close]);
        rest = &inner[close + 1..];
    }
    Some((name, parts))
}

fn key_has_shape(key: &str, shape: &str) -> bool {
    let (Some((name, parts)), Some((shape_name, shape_parts))) = (key_parts(key), key_parts(shape)) else {
        return false;
    };
    name == shape_name
        && parts.len() == shape_parts.len()
        && parts.iter().zip(&shape_parts).all(|(part, shape)| match *shape {
            "*" => !part.is_empty(),
            "" => part.bytes().all(|b| b.is_ascii_digit()),
            literal => *part == literal,
        })
}

/// One API call, as received.
struct Call {
    method: Method,
    path: String,
    params: Params,
    idempotency_key: Option<String>,
    request: EventRequest,
}

/// What an API call answers.
struct Answer {
    status: u16,
    body: String,
    request_id: String,
    /// The request whose answer this replays, if it is a replay.
    replay_of: Option<String>,
    events: Vec<FakeEvent>,
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// Every `/v1/...` request (and anything else no hosted page claims).
async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut params = Params::parse(uri.query().unwrap_or_default().as_bytes());
    if method != Method::GET {
        params.extend(Params::parse(&body));
    }
    let idempotency_key = header_text(&headers, "idempotency-key");
    let stripe_version = header_text(&headers, "stripe-version");
    let (answer, target) = {
        let mut state = lock(&shared.state);
        let request_id = state.ids.next("req_", 14);
        let call = Call {
            method: method.clone(),
            path: uri.path().to_owned(),
            params: Params(params),
            idempotency_key: idempotency_key.clone(),
            request: EventRequest {
                id: Some(request_id.clone()),
                idempotency_key: idempotency_key.clone().filter(|_| method == Method::POST),
            },
        };
        let answer = serve(
            &shared,
            &mut state,
            &headers,
            stripe_version.as_deref(),
            call,
            request_id,
        );
        (answer, state.webhook_url.clone())
    };
    // Stripe sends the events an API call causes after answering it.
    drop(shared.queue(&answer.events, target));
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, answer.body).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response_headers.insert("stripe-version", HeaderValue::from_static(API_VERSION));
    if let Ok(id) = HeaderValue::from_str(&answer.request_id) {
        response_headers.insert("request-id", id);
    }
    if let Some(key) = idempotency_key
        .filter(|_| method == Method::POST)
        .and_then(|key| HeaderValue::from_str(&key).ok())
    {
        response_headers.insert("idempotency-key", key);
    }
    if let Some(original) = answer.replay_of.and_then(|id| HeaderValue::from_str(&id).ok()) {
        response_headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
        response_headers.insert("original-request", original);
    }
    if answer.status == 401 {
        response_headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"Stripe\""),
        );
    }
    response
}

/// Checks, replays or runs one call, and logs it.
fn serve(
    shared: &Shared,
    state: &mut State,
    headers: &HeaderMap,
    stripe_version: Option<&str>,
    call: Call,
    request_id: String,
) -> Answer {
    let mut sorted = call.params.0.clone();
    sorted.sort();
    let replay = call
        .idempotency_key
        .as_ref()
        .filter(|_| call.method == Method::POST)
        .and_then(|key| state.idempotency.get(key).cloned());
    let outcome = authorize(shared, headers)
        .and_then(|()| check_version(stripe_version))
        .and_then(|()| match (&replay, &call.idempotency_key) {
            (Some(first), Some(key)) => check_replay(first, &call, &sorted, key).map(Some),
            _ => Ok(None),
        });
    let answer = match outcome {
        Ok(Some(first)) => Answer {
            status: first.status,
            body: first.body,
            request_id,
            replay_of: Some(first.request_id),
            events: Vec::new(),
        },
        Ok(None) => match route(state, &call) {
            Ok((body, events)) => Answer {
                status: 200,
                body: serde_json::to_string_pretty(&body).unwrap_or_else(|_| body.to_string()),
                request_id,
                replay_of: None,
                events,
            },
            Err(error) => error_answer(&error, request_id, state.now()),
        },
        Err(error) => error_answer(&error, request_id, state.now()),
    };
    if let Some(key) = call
        .idempotency_key
        .as_ref()
        .filter(|_| call.method == Method::POST && answer.status == 200 && answer.replay_of.is_none())
    {
        state.idempotency.insert(
            key.clone(),
            Replay {
                method: call.method.to_string(),
                path: call.path.clone(),
                params: sorted,
                request_id: answer.request_id.clone(),
                status: answer.status,
                body: answer.body.clone(),
            },
        );
    }
    state.requests.push(StripeRequest {
        method: call.method.to_string(),
        path: call.path,
        idempotency_key: call.idempotency_key,
        params: call.params.0,
        stripe_version: stripe_version.map(str::to_owned),
        status: answer.status,
    });
    answer
}

fn error_answer(error: &ApiError, request_id: String, now: i64) -> Answer {
    let body = error.body(&request_id, now);
    Answer {
        status: error.status,
        body: serde_json::to_string_pretty(&body).unwrap_or_else(|_| body.to_string()),
        request_id,
        replay_of: None,
        events: Vec::new(),
    }
}

fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(authorization) = header_text(headers, "authorization") else {
        return Err(ApiError::unauthorized(
            "You did not provide an API key. You need to provide your API key in the Authorization header, \
             using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication \
             for details, or we can help at https://support.stripe.com/."
                .to_owned(),
        ));
    };
    // Bearer, as the libraries send it, or Basic with the key as the user
    // name, as `curl -u sk_test_...:` sends it.
    let basic_user = authorization
        .strip_prefix("Basic ")
        .and_then(|encoded| BASE64.decode(encoded.trim()).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .map(|decoded| decoded.split(':').next().unwrap_or_default().to_owned());
    let key = match &basic_user {
        Some(user) => user.as_str(),
        None => authorization.strip_prefix("Bearer ").unwrap_or_default().trim(),
    };
    if key == shared.secret_key {
        return Ok(());
    }
    let shown = if key.len() > 12 && key.is_ascii() {
        format!(
            "{}{}{}",
            &key[..8],
            "*".repeat(key.len() - 12),
            &key[key.len() - 4..]
        )
    } else {
        key.to_owned()
    };
    Err(ApiError::unauthorized(format!(
        "Invalid API Key provided: {shown}"
    )))
}

fn check_version(version: Option<&str>) -> Result<(), ApiError> {
    match version {
        None => Ok(()),
        Some(version) if version == API_VERSION => Ok(()),
        Some(version) => Err(ApiError::invalid_request(format!(
            "The fake Stripe renders API version {API_VERSION} only; this request asked for {version}."
        ))),
    }
}

fn check_replay(
    first: &Replay,
    call: &Call,
    sorted: &[(String, String)],
    key: &str,
) -> Result<Replay, ApiError> {
    if first.method != call.method.as_str() || first.path != call.path {
        return Err(ApiError::idempotency(format!(
            "Keys for idempotent requests can only be used for the same endpoint they were first used for \
             ('{} {}' vs '{} {}'). Try using a key other than '{key}' if you meant to execute a different request.",
            first.method, first.path, call.method, call.path
        )));
    }
    if first.params != sorted {
        return Err(ApiError::idempotency(format!(
            "Keys for idempotent requests can only be used with the same parameters they were first used with. \
             Try using a key other than '{key}' if you meant to execute a different request."
        )));
    }
    Ok(first.clone())
}

type Routed = Result<(Value, Vec<FakeEvent>), ApiError>;

fn route(state: &mut State, call: &Call) -> Routed {
    let segments: Vec<&str> = call.path.trim_end_matches('/').split('/').skip(1).collect();
    let params = &call.params;
    let answer = match (call.method.as_str(), segments.as_slice()) {
        ("POST", ["v1", "customers"]) => create_customer(state, params, &call.request),
        ("GET", ["v1", "customers", id]) => retrieve(params, state.customer_json(id), "customer", id),
        ("POST", ["v1", "checkout", "sessions"]) => create_checkout_session(state, params),
        ("GET", ["v1", "checkout", "sessions", id]) => {
            retrieve(params, state.checkout_session_json(id), "checkout.session", id)
        }
        ("POST", ["v1", "billing_portal", "sessions"]) => create_portal_session(state, params, &call.request),
        ("GET", ["v1", "subscriptions"]) => list_subscriptions(state, params),
        ("GET", ["v1", "subscriptions", id]) => {
            retrieve(params, state.subscription_json(id), "subscription", id)
        }
        ("POST", ["v1", "subscriptions", id]) => update_subscription(state, params, id, &call.request),
        ("DELETE", ["v1", "subscriptions", id]) => cancel_subscription(state, params, id, &call.request),
        ("GET", ["v1", "invoices"]) => list_invoices(state, params),
        ("GET", ["v1", "invoices", id]) => retrieve(params, state.invoice_json(id), "invoice", id),
        ("GET", ["v1", "prices", id]) => {
            retrieve(params, state.price(id).map(|price| price.json()), "price", id)
        }
        _ => Err(ApiError {
            status: 404,
            ..ApiError::invalid_request(format!(
                "Unrecognized request URL ({}: {}). Please see https://stripe.com/docs or we can help at \
                 https://support.stripe.com/.",
                call.method, call.path
            ))
        }),
    };
    let (mut body, events) = answer?;
    expand(state, &mut body, &params.list("expand"))?;
    Ok((body, events))
}

fn retrieve(params: &Params, object: Option<Value>, kind: &str, id: &str) -> Routed {
    params.only(&["expand[]"])?;
    let object = object.ok_or_else(|| ApiError::no_such(kind, id))?;
    Ok((object, Vec::new()))
}

fn create_customer(state: &mut State, params: &Params, request: &EventRequest) -> Routed {
    params.only(&["email", "name", "description", "metadata[*]", "expand[]"])?;
    let new = NewCustomer {
        email: params.text("email"),
        name: params.text("name"),
        description: params.text("description"),
        metadata: non_empty(params.hash("metadata")),
    };
    let (id, events) = state.create_customer(new, request);
    Ok((state.customer_json(&id).unwrap_or_default(), events))
}

fn non_empty(mut metadata: Metadata) -> Metadata {
    metadata.retain(|_, value| !value.is_empty());
    metadata
}

fn create_checkout_session(state: &mut State, params: &Params) -> Routed {
    params.only(&[
        "mode",
        "customer",
        "customer_email",
        "client_reference_id",
        "line_items[][price]",
        "line_items[][quantity]",
        "success_url",
        "cancel_url",
        "metadata[*]",
        "subscription_data[metadata][*]",
        "subscription_data[description]",
        "locale",
        "allow_promotion_codes",
        "payment_method_types[]",
        "ui_mode",
        "expand[]",
    ])?;
    let mode = params.required("mode")?;
    if mode != "subscription" {
        return Err(ApiError::invalid_value(
            "mode",
            format!("The fake Stripe makes subscription-mode Checkout Sessions only, not mode={mode}."),
        ));
    }
    if let Some(ui_mode) = params.text("ui_mode").filter(|ui_mode| ui_mode != "hosted") {
        return Err(ApiError::invalid_value(
            "ui_mode",
            format!("The fake Stripe hosts Checkout itself (ui_mode=hosted), not ui_mode={ui_mode}."),
        ));
    }
    if let Some(other) = params
        .list("payment_method_types")
        .into_iter()
        .find(|kind| kind != "card")
    {
        return Err(ApiError::invalid_value(
            "payment_method_types",
            format!("The fake Stripe takes cards only, not {other}."),
        ));
    }
    let indices: std::collections::BTreeSet<&str> = params
        .0
        .iter()
        .filter_map(|(key, _)| key_parts(key).filter(|(name, _)| *name == "line_items"))
        .filter_map(|(_, parts)| parts.first().copied())
        .collect();
    let index = match indices.iter().collect::<Vec<_>>().as_slice() {
        [] => {
            return Err(ApiError::invalid_value(
                "line_items",
                "You must provide at least one recurring price in `subscription` mode when using prices.",
            ));
        }
        [index] => (*index).to_owned(),
        _ => {
            return Err(ApiError::invalid_value(
                "line_items",
                "The fake Stripe's Checkout Sessions take exactly one line item.",
            ));
        }
    };
    let price_param = format!("line_items[{index}][price]");
    let price_id = params.required(&price_param)?;
    let price = state
        .price(&price_id)
        .cloned()
        .ok_or_else(|| ApiError::no_such_param("price", &price_id, &price_param))?;
    let quantity_param = format!("line_items[{index}][quantity]");
    let quantity = match params.integer(&quantity_param)? {
        None => 1,
        Some(quantity) if (1..=10_000).contains(&quantity) => quantity.unsigned_abs(),
        Some(_) => {
            return Err(ApiError::invalid_value(
                &quantity_param,
                "This value must be greater than or equal to 1.",
            ));
        }
    };
    let customer = params.text("customer");
    if let Some(customer) = &customer
        && state.customer(customer).is_none()
    {
        return Err(ApiError::no_such_param("customer", customer, "customer"));
    }
    let customer_email = params.text("customer_email");
    if customer.is_some() && customer_email.is_some() {
        return Err(ApiError::invalid_request(
            "You may only specify one of these parameters: customer, customer_email.",
        ));
    }
    let new = NewCheckoutSession {
        customer,
        customer_email,
        client_reference_id: params.text("client_reference_id"),
        price,
        quantity,
        success_url: params.url("success_url")?,
        cancel_url: params.url("cancel_url")?,
        metadata: non_empty(params.hash("metadata")),
        subscription_metadata: non_empty(params.hash("subscription_data[metadata]")),
        subscription_description: params.text("subscription_data[description]"),
        locale: params.text("locale"),
        allow_promotion_codes: params.boolean("allow_promotion_codes")?,
    };
    let id = state.create_checkout_session(new);
    Ok((state.checkout_session_json(&id).unwrap_or_default(), Vec::new()))
}

fn create_portal_session(state: &mut State, params: &Params, request: &EventRequest) -> Routed {
    params.only(&["customer", "return_url", "locale", "expand[]"])?;
    let customer = params.required("customer")?;
    if state.customer(&customer).is_none() {
        return Err(ApiError::no_such_param("customer", &customer, "customer"));
    }
    let new = NewPortalSession {
        customer,
        return_url: params.url("return_url")?,
        locale: params.text("locale"),
    };
    let (id, events) = state.create_portal_session(new, request);
    Ok((state.portal_session_json(&id).unwrap_or_default(), events))
}

fn update_subscription(state: &mut State, params: &Params, id: &str, request: &EventRequest) -> Routed {
    params.only(&["cancel_at_period_end", "metadata[*]", "description", "expand[]"])?;
    let mut events = Vec::new();
    if let Some(cancel) = params.boolean("cancel_at_period_end")? {
        events.extend(state.set_cancel_at_period_end(id, cancel, request)?);
    }
    let metadata = params.hash("metadata");
    let description = params
        .get("description")
        .map(|raw| Some(raw.to_owned()).filter(|d| !d.is_empty()));
    if !metadata.is_empty() || description.is_some() {
        events.extend(state.update_subscription_fields(id, metadata, description, request)?);
    }
    let object = state
        .subscription_json(id)
        .ok_or_else(|| ApiError::no_such("subscription", id))?;
    Ok((object, events))
}

fn cancel_subscription(state: &mut State, params: &Params, id: &str, request: &EventRequest) -> Routed {
    params.only(&[
        "cancellation_details[comment]",
        "cancellation_details[feedback]",
        "invoice_now",
        "prorate",
        "expand[]",
    ])?;
    params.boolean("invoice_now")?;
    params.boolean("prorate")?;
    let (id, events) = state.cancel_now(
        id,
        params.text("cancellation_details[comment]"),
        params.text("cancellation_details[feedback]"),
        request,
    )?;
    Ok((state.subscription_json(&id).unwrap_or_default(), events))
}

/// A page of `items` (newest first) as a Stripe list object.
fn page(params: &Params, items: Vec<(String, Value)>, url: &str) -> Result<Value, ApiError> {
    let limit = params.integer("limit")?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid_value(
            "limit",
            "This value must be greater than or equal to 1 and less than or equal to 100.",
        ));
    }
    let limit = usize::try_from(limit).unwrap_or(10);
    let position = |param: &str| -> Result<Option<usize>, ApiError> {
        params
            .text(param)
            .map(|id| {
                items
                    .iter()
                    .position(|(item, _)| *item == id)
                    .ok_or_else(|| ApiError::no_such_param("object", &id, param))
            })
            .transpose()
    };
    let (data, has_more) = match (position("starting_after")?, position("ending_before")?) {
        (Some(after), _) => {
            let rest = &items[after + 1..];
            (rest.iter().take(limit).collect::<Vec<_>>(), rest.len() > limit)
        }
        (None, Some(before)) => {
            let head = &items[..before];
            let start = head.len().saturating_sub(limit);
            (head[start..].iter().collect(), start > 0)
        }
        (None, None) => (items.iter().take(limit).collect(), items.len() > limit),
    };
    Ok(json!({
        "object": "list",
        "data": data.into_iter().map(|(_, object)| object.clone()).collect::<Vec<_>>(),
        "has_more": has_more,
        "url": url,
    }))
}

fn list_invoices(state: &mut State, params: &Params) -> Routed {
    params.only(&[
        "customer",
        "subscription",
        "status",
        "limit",
        "starting_after",
        "ending_before",
        "expand[]",
    ])?;
    let customer = params.text("customer");
    let subscription = params.text("subscription");
    let status = params.text("status");
    let items = state
        .invoices
        .iter()
        .rev()
        .filter(|invoice| customer.as_ref().is_none_or(|c| *c == invoice.customer))
        .filter(|invoice| subscription.as_ref().is_none_or(|s| *s == invoice.subscription))
        .filter(|invoice| status.as_ref().is_none_or(|s| s == invoice.status.as_str()))
        .map(|invoice| (invoice.id.clone(), invoice.json(&state.base_url)))
        .collect();
    Ok((page(params, items, "/v1/invoices")?, Vec::new()))
}

fn list_subscriptions(state: &mut State, params: &Params) -> Routed {
    params.only(&[
        "customer",
        "price",
        "status",
        "limit",
        "starting_after",
        "ending_before",
        "expand[]",
    ])?;
    let customer = params.text("customer");
    let price = params.text("price");
    let status = params.text("status");
    let items = state
        .subscriptions
        .iter()
        .rev()
        .filter(|sub| customer.as_ref().is_none_or(|c| *c == sub.customer))
        .filter(|sub| price.as_ref().is_none_or(|p| *p == sub.price.id))
        .filter(|sub| match status.as_deref() {
            // Stripe lists the subscriptions that have not ended unless asked.
            None => sub.status != SubscriptionStatus::Canceled,
            Some("all") => true,
            Some("ended") => sub.status == SubscriptionStatus::Canceled,
            Some(status) => sub.status.as_str() == status,
        })
        .map(|sub| (sub.id.clone(), sub.json()))
        .collect();
    Ok((page(params, items, "/v1/subscriptions")?, Vec::new()))
}

/// Replaces the ids at each `expand` path (`customer`, `data.subscription`,
/// `items.data.price.product`) with the objects, as Stripe does.
fn expand(state: &State, body: &mut Value, paths: &[String]) -> Result<(), ApiError> {
    for path in paths {
        let parts: Vec<&str> = path.split('.').collect();
        if !expand_at(state, body, &parts) {
            return Err(ApiError::invalid_value(
                "expand",
                format!("This property cannot be expanded ({path})."),
            ));
        }
    }
    Ok(())
}

fn expand_at(state: &State, value: &mut Value, parts: &[&str]) -> bool {
    if let Value::Array(items) = value {
        return items.iter_mut().all(|item| expand_at(state, item, parts));
    }
    let Some((first, rest)) = parts.split_first() else {
        return false;
    };
    // A Checkout Session's line items are included only when asked for.
    if *first == "line_items"
        && rest.is_empty()
        && value.get("object").and_then(Value::as_str) == Some("checkout.session")
    {
        let id = value
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some(session) = state.checkout_sessions.iter().find(|session| session.id == id) else {
            return false;
        };
        if let Some(fields) = value.as_object_mut() {
            fields.insert("line_items".to_owned(), session.line_items_json());
        }
        return true;
    }
    let Some(slot) = value.get_mut(*first) else {
        return false;
    };
    if rest.is_empty() {
        return match slot {
            Value::String(id) => match state.object_json(id) {
                Some(object) => {
                    *slot = object;
                    true
                }
                None => false,
            },
            Value::Null | Value::Object(_) => true,
            _ => false,
        };
    }
    match slot {
        Value::Null => true,
        Value::String(id) => match state.object_json(id) {
            Some(mut object) => {
                let expanded = expand_at(state, &mut object, rest);
                *slot = object;
                expanded
            }
            None => false,
        },
        other => expand_at(state, other, rest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_shapes_match_bracket_notation() {
        assert!(key_has_shape("line_items[0][price]", "line_items[][price]"));
        assert!(key_has_shape("expand[]", "expand[]"));
        assert!(key_has_shape("expand[3]", "expand[]"));
        assert!(key_has_shape("metadata[user_id]", "metadata[*]"));
        assert!(key_has_shape(
            "subscription_data[metadata][plan]",
            "subscription_data[metadata][*]"
        ));
        assert!(!key_has_shape("line_items[0][price_data]", "line_items[][price]"));
        assert!(!key_has_shape("metadata", "metadata[*]"));
        assert!(!key_has_shape("metadata[a][b]", "metadata[*]"));
        assert!(!key_has_shape("line_items[x][price]", "line_items[][price]"));
        assert!(!key_has_shape("mode[", "mode"));
    }

    #[test]
    fn brackets_arrive_decoded_either_way() {
        let params = Params(Params::parse(
            b"metadata%5Buser_id%5D=7&metadata[plan]=pro+plan&expand%5B0%5D=customer&expand[]=subscription",
        ));
        let metadata = params.hash("metadata");
        assert_eq!(metadata.get("user_id").map(String::as_str), Some("7"));
        assert_eq!(metadata.get("plan").map(String::as_str), Some("pro plan"));
        assert_eq!(params.list("expand"), vec!["customer", "subscription"]);
    }
}
