//! The pages Stripe hosts, plain: Checkout (`/c/pay/<session>`: the
//! product, the amount per interval, "Pay" and "Back"), the customer portal
//! (`/p/session/<id>`: the current plan, "Cancel plan" / "Renew plan",
//! "Return to InChart") and an invoice (`/i/<invoice>`).
//!
//! Policies:
//! - No external resources: one self-contained HTML document per page,
//!   styled inline, no scripts.
//! - A button's changes (and, with auto delivery, their webhook deliveries)
//!   are complete before its redirect is answered, so the page the browser
//!   lands on already reflects them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::calendar::date;
use super::objects::{InvoiceStatus, Price, SessionStatus, Subscription, SubscriptionStatus, money};
use super::{EventRequest, Shared, lock};

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn document(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>\n\
         body {{ font-family: system-ui, sans-serif; max-width: 30rem; margin: 3rem auto; padding: 0 1rem; color: #1a1f36; }}\n\
         .test-mode {{ display: inline-block; background: #ffde92; color: #5c3b00; padding: 0.1rem 0.5rem; border-radius: 0.25rem; font-size: 0.8rem; }}\n\
         .amount {{ font-size: 2rem; font-weight: 600; margin: 0.25rem 0; }}\n\
         button {{ background: #635bff; color: white; border: 0; border-radius: 0.4rem; padding: 0.6rem 1.4rem; font-size: 1rem; cursor: pointer; }}\n\
         section {{ border: 1px solid #e3e8ee; border-radius: 0.5rem; padding: 1rem; margin: 1rem 0; }}\n\
         </style>\n</head>\n<body>\n<p class=\"test-mode\">Test mode · fake Stripe</p>\n{body}\n</body>\n</html>\n",
        title = escape(title),
    ))
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        document(
            "Not found",
            &format!("<h1>Not found</h1>\n<p>{}</p>", escape(what)),
        ),
    )
        .into_response()
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    match HeaderValue::from_str(location) {
        Ok(value) => {
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the redirect target is not a valid header",
        )
            .into_response(),
    }
}

/// `$19.00 per month`.
fn per_interval(price: &Price, quantity: u64) -> String {
    format!(
        "{} per {}",
        money(price.amount(quantity), &price.currency),
        price.interval.as_str()
    )
}

pub(super) async fn checkout_page(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(id): Path<String>,
) -> Response {
    let state = lock(&shared.state);
    let Some(session) = state.checkout_sessions.iter().find(|session| session.id == id) else {
        return not_found("This Checkout Session does not exist.");
    };
    let back = session
        .cancel_url
        .as_deref()
        .map(|url| format!("<p><a href=\"{}\">Back</a></p>", escape(url)))
        .unwrap_or_default();
    let email = session
        .customer
        .as_deref()
        .and_then(|customer| state.customer(customer))
        .and_then(|customer| customer.email.clone())
        .or_else(|| session.customer_email.clone())
        .map(|email| format!("<p class=\"email\">{}</p>\n", escape(&email)))
        .unwrap_or_default();
    let body = if session.status == SessionStatus::Complete {
        let next = session
            .success_url
            .as_deref()
            .map(|url| {
                let url = url.replace("{CHECKOUT_SESSION_ID}", &session.id);
                format!("<p><a href=\"{}\">Continue</a></p>", escape(&url))
            })
            .unwrap_or_default();
        format!("<h1>Checkout</h1>\n<p>This payment is complete.</p>\n{next}")
    } else {
        format!(
            "<h1>Checkout</h1>\n<p class=\"product\">{product}</p>\n<p class=\"amount\">{amount}</p>\n{email}\
             <form method=\"post\" action=\"/c/pay/{id}\">\n<button type=\"submit\">Pay</button>\n</form>\n{back}",
            product = escape(&session.price.product_name),
            amount = escape(&per_interval(&session.price, session.quantity)),
            id = escape(&session.id),
        )
    };
    document("Checkout", &body).into_response()
}

/// "Pay": completes the session and goes to its success URL.
pub(super) async fn pay(AxumState(shared): AxumState<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let (open, success_url) = {
        let state = lock(&shared.state);
        let Some(session) = state.checkout_sessions.iter().find(|session| session.id == id) else {
            return not_found("This Checkout Session does not exist.");
        };
        (session.status == SessionStatus::Open, session.success_url.clone())
    };
    // A second "Pay" (a reload, a double click) just goes on.
    if open && let Err(error) = shared.act(|state| state.complete_checkout(&id)).await {
        tracing::warn!(%error, session = %id, "fake stripe: checkout did not complete");
        return (
            StatusCode::CONFLICT,
            document(
                "Checkout",
                &format!("<h1>Checkout</h1>\n<p>{}</p>", escape(&error.to_string())),
            ),
        )
            .into_response();
    }
    match success_url {
        Some(url) => see_other(&url.replace("{CHECKOUT_SESSION_ID}", &id)),
        None => document(
            "Checkout",
            "<h1>Checkout</h1>\n<p>Thanks! Your payment is complete.</p>",
        )
        .into_response(),
    }
}

fn subscription_section(subscription: &Subscription) -> String {
    let price = &subscription.price;
    let (_, end) = subscription.period();
    let status = match subscription.status {
        SubscriptionStatus::Active => "Active",
        SubscriptionStatus::PastDue => "Past due",
        SubscriptionStatus::Canceled => "Canceled",
    };
    let (when, action, label) = match subscription.cancel_at {
        Some(cancel_at) => (format!("Cancels on {}", date(cancel_at)), "renew", "Renew plan"),
        None => (format!("Renews on {}", date(end)), "cancel", "Cancel plan"),
    };
    format!(
        "<section class=\"subscription\">\n<p class=\"product\">{product}</p>\n<p class=\"amount\">{amount}</p>\n\
         <p class=\"status\">{status}</p>\n<p class=\"period\">{when}</p>\n\
         <form method=\"post\">\n<input type=\"hidden\" name=\"subscription\" value=\"{id}\">\n\
         <input type=\"hidden\" name=\"action\" value=\"{action}\">\n<button type=\"submit\">{label}</button>\n</form>\n</section>",
        product = escape(&price.product_name),
        amount = escape(&per_interval(price, subscription.quantity)),
        id = escape(&subscription.id),
    )
}

pub(super) async fn portal_page(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(id): Path<String>,
) -> Response {
    let state = lock(&shared.state);
    let Some(session) = state.portal_sessions.iter().find(|session| session.id == id) else {
        return not_found("This portal session does not exist.");
    };
    let email = state
        .customer(&session.customer)
        .and_then(|customer| customer.email.clone())
        .map(|email| format!("<p class=\"email\">{}</p>\n", escape(&email)))
        .unwrap_or_default();
    let current: Vec<String> = state
        .subscriptions
        .iter()
        .filter(|sub| sub.customer == session.customer && sub.status != SubscriptionStatus::Canceled)
        .map(subscription_section)
        .collect();
    let current = if current.is_empty() {
        "<p>No current subscription.</p>".to_owned()
    } else {
        current.join("\n")
    };
    let back = session
        .return_url
        .as_deref()
        .map(|url| format!("<p><a href=\"{}\">Return to InChart</a></p>", escape(url)))
        .unwrap_or_default();
    let body = format!("<h1>Customer portal</h1>\n{email}<h2>Current subscription</h2>\n{current}\n{back}");
    document("Customer portal", &body).into_response()
}

/// "Cancel plan" / "Renew plan": cancellation at the period's end, set or undone.
pub(super) async fn portal_action(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    };
    let cancel = match field("action").as_str() {
        "cancel" => true,
        "renew" => false,
        _ => return (StatusCode::BAD_REQUEST, "action must be cancel or renew").into_response(),
    };
    let subscription = field("subscription");
    let allowed = {
        let state = lock(&shared.state);
        let Some(session) = state.portal_sessions.iter().find(|session| session.id == id) else {
            return not_found("This portal session does not exist.");
        };
        state
            .subscriptions
            .iter()
            .any(|sub| sub.id == subscription && sub.customer == session.customer)
    };
    if !allowed {
        return not_found("This subscription is not this customer's.");
    }
    let changed = shared
        .act(|state| state.set_cancel_at_period_end(&subscription, cancel, &EventRequest::default()))
        .await;
    if let Err(error) = changed {
        return (
            StatusCode::CONFLICT,
            document(
                "Customer portal",
                &format!("<h1>Customer portal</h1>\n<p>{}</p>", escape(&error.to_string())),
            ),
        )
            .into_response();
    }
    see_other(&format!("/p/session/{id}"))
}

pub(super) async fn invoice_page(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(id): Path<String>,
) -> Response {
    let state = lock(&shared.state);
    let Some(invoice) = state
        .invoices
        .iter()
        .find(|invoice| invoice.id == id && invoice.status != InvoiceStatus::Draft)
    else {
        return not_found("This invoice does not exist.");
    };
    let body = format!(
        "<h1>Invoice {number}</h1>\n<p class=\"amount\">{amount}</p>\n<p class=\"status\">{status}</p>\n\
         <p>{description}</p>\n<p>{start} – {end}</p>",
        number = escape(invoice.number.as_deref().unwrap_or_default()),
        amount = escape(&money(
            invoice.price.amount(invoice.quantity),
            &invoice.price.currency
        )),
        status = invoice.status.as_str(),
        description = escape(&invoice.price.line_description(invoice.quantity)),
        start = date(invoice.line_start),
        end = date(invoice.line_end),
    );
    document("Invoice", &body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
