//! The fake's records and their JSON at API version
//! [`API_VERSION`](super::API_VERSION): every field Stripe sends, `null`
//! where InChart's account has nothing (no taxes, discounts, payment
//! methods or connected accounts).
//!
//! Shapes worth knowing at this version: a subscription's
//! `current_period_start`/`current_period_end` are on its items, not on the
//! subscription; an invoice names its subscription at
//! `parent.subscription_details.subscription` (there is no top-level
//! `invoice.subscription`), and a renewal invoice's `period_start`/`period_end`
//! are the period that just ended, while its line's `period` is the one paid for.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Interval;
use super::calendar::add_months;

pub(super) type Metadata = BTreeMap<String, String>;

/// The currencies Stripe counts in whole units (no cents).
const ZERO_DECIMAL: [&str; 16] = [
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof",
    "xpf",
];

/// `$19.00`, `€190.00`, `¥500`, `19.00 CHF`.
pub(super) fn money(amount: i64, currency: &str) -> String {
    let number = if ZERO_DECIMAL.contains(&currency) {
        amount.to_string()
    } else {
        let sign = if amount < 0 { "-" } else { "" };
        let abs = amount.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    };
    match currency {
        "usd" => format!("${number}"),
        "eur" => format!("€{number}"),
        "gbp" => format!("£{number}"),
        "jpy" => format!("¥{number}"),
        other => format!("{number} {}", other.to_ascii_uppercase()),
    }
}

/// A recurring price (and its product), from the configuration.
#[derive(Debug, Clone)]
pub(super) struct Price {
    pub id: String,
    pub product: String,
    pub product_name: String,
    pub unit_amount: i64,
    pub currency: String,
    pub interval: Interval,
    pub created: i64,
}

impl Price {
    pub fn months(&self) -> i64 {
        match self.interval {
            Interval::Month => 1,
            Interval::Year => 12,
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "price",
            "active": true,
            "billing_scheme": "per_unit",
            "created": self.created,
            "currency": self.currency,
            "custom_unit_amount": null,
            "livemode": false,
            "lookup_key": null,
            "metadata": {},
            "nickname": null,
            "product": self.product,
            "recurring": {
                "interval": self.interval.as_str(),
                "interval_count": 1,
                "meter": null,
                "trial_period_days": null,
                "usage_type": "licensed",
            },
            "tax_behavior": "unspecified",
            "tiers_mode": null,
            "transform_quantity": null,
            "type": "recurring",
            "unit_amount": self.unit_amount,
            "unit_amount_decimal": self.unit_amount.to_string(),
        })
    }

    /// The legacy `plan` twin Stripe still puts on every subscription item.
    pub fn plan_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "plan",
            "active": true,
            "amount": self.unit_amount,
            "amount_decimal": self.unit_amount.to_string(),
            "billing_scheme": "per_unit",
            "created": self.created,
            "currency": self.currency,
            "interval": self.interval.as_str(),
            "interval_count": 1,
            "livemode": false,
            "metadata": {},
            "meter": null,
            "nickname": null,
            "product": self.product,
            "tiers_mode": null,
            "transform_usage": null,
            "trial_period_days": null,
            "usage_type": "licensed",
        })
    }

    pub fn product_json(&self) -> Value {
        json!({
            "id": self.product,
            "object": "product",
            "active": true,
            "created": self.created,
            "default_price": self.id,
            "description": null,
            "images": [],
            "livemode": false,
            "marketing_features": [],
            "metadata": {},
            "name": self.product_name,
            "package_dimensions": null,
            "shippable": null,
            "statement_descriptor": null,
            "tax_code": null,
            "type": "service",
            "unit_label": null,
            "updated": self.created,
            "url": null,
        })
    }

    /// The price of `quantity` units.
    pub fn amount(&self, quantity: u64) -> i64 {
        self.unit_amount
            .saturating_mul(i64::try_from(quantity).unwrap_or(i64::MAX))
    }

    /// `1 × InChart Pro (at $19.00 / month)`, Stripe's line description.
    pub fn line_description(&self, quantity: u64) -> String {
        format!(
            "{quantity} × {} (at {} / {})",
            self.product_name,
            money(self.unit_amount, &self.currency),
            self.interval.as_str()
        )
    }
}

#[derive(Debug, Clone)]
pub(super) struct Customer {
    pub id: String,
    pub created: i64,
    pub email: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub metadata: Metadata,
    pub invoice_prefix: String,
    /// The number the next finalized invoice takes.
    pub next_invoice_sequence: u64,
}

impl Customer {
    pub fn json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "customer",
            "address": null,
            "balance": 0,
            "business_name": null,
            "created": self.created,
            "currency": null,
            "customer_account": null,
            "default_source": null,
            "delinquent": false,
            "description": self.description,
            "discount": null,
            "email": self.email,
            "individual_name": null,
            "invoice_prefix": self.invoice_prefix,
            "invoice_settings": {
                "custom_fields": null,
                "default_payment_method": null,
                "footer": null,
                "rendering_options": null,
            },
            "livemode": false,
            "metadata": self.metadata,
            "name": self.name,
            "next_invoice_sequence": self.next_invoice_sequence,
            "phone": null,
            "preferred_locales": [],
            "shipping": null,
            "tax_exempt": "none",
            "test_clock": null,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SessionStatus {
    Open,
    Complete,
}

/// A Checkout Session in subscription mode, for one price.
#[derive(Debug, Clone)]
pub(super) struct CheckoutSession {
    pub id: String,
    pub created: i64,
    pub expires_at: i64,
    /// The customer it was created for, or (once complete) the one Checkout made.
    pub customer: Option<String>,
    pub customer_email: Option<String>,
    pub client_reference_id: Option<String>,
    pub price: Price,
    pub quantity: u64,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
    pub metadata: Metadata,
    pub subscription_metadata: Metadata,
    pub subscription_description: Option<String>,
    pub locale: Option<String>,
    pub allow_promotion_codes: Option<bool>,
    pub status: SessionStatus,
    pub subscription: Option<String>,
    pub invoice: Option<String>,
    /// The email Checkout collected (the customer's), once complete.
    pub collected_email: Option<String>,
    pub line_item_id: String,
}

impl CheckoutSession {
    pub fn json(&self, base_url: &str) -> Value {
        let price = &self.price;
        let amount = price.amount(self.quantity);
        let complete = self.status == SessionStatus::Complete;
        let customer_details = complete.then(|| {
            json!({
                "address": null,
                "business_name": null,
                "email": self.collected_email,
                "individual_name": null,
                "name": null,
                "phone": null,
                "tax_exempt": "none",
                "tax_ids": [],
            })
        });
        let head = json!({
            "id": self.id,
            "object": "checkout.session",
            "adaptive_pricing": null,
            "after_expiration": null,
            "allow_promotion_codes": self.allow_promotion_codes,
            "amount_subtotal": amount,
            "amount_total": amount,
            "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
            "billing_address_collection": null,
            "cancel_url": self.cancel_url,
            "client_reference_id": self.client_reference_id,
            "client_secret": null,
            "collected_information": null,
            "consent": null,
            "consent_collection": null,
            "created": self.created,
            "currency": price.currency,
            "currency_conversion": null,
            "custom_fields": [],
            "custom_text": {
                "after_submit": null,
                "shipping_address": null,
                "submit": null,
                "terms_of_service_acceptance": null,
            },
            "customer": self.customer,
        });
        // Two halves: one `json!` this long is past the macro's recursion limit.
        let rest = json!({
            // Subscription mode always makes a customer; the field is for the other modes.
            "customer_creation": null,
            "customer_details": customer_details,
            "customer_email": self.customer_email,
            "discounts": [],
            "expires_at": self.expires_at,
            "invoice": self.invoice,
            "invoice_creation": null,
            "livemode": false,
            "locale": self.locale,
            "metadata": self.metadata,
            "mode": "subscription",
            "origin_context": null,
            "payment_intent": null,
            "payment_link": null,
            "payment_method_collection": "always",
            "payment_method_configuration_details": null,
            "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
            "payment_method_types": ["card"],
            "payment_status": if complete { "paid" } else { "unpaid" },
            "permissions": null,
            "phone_number_collection": {"enabled": false},
            "recovered_from": null,
            "saved_payment_method_options": {
                "allow_redisplay_filters": ["always"],
                "payment_method_remove": "disabled",
                "payment_method_save": null,
            },
            "setup_intent": null,
            "shipping_address_collection": null,
            "shipping_cost": null,
            "shipping_options": [],
            "status": if complete { "complete" } else { "open" },
            "submit_type": null,
            "subscription": self.subscription,
            "success_url": self.success_url,
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted",
            // Only an open session has a page to go to.
            "url": (!complete).then(|| format!("{base_url}/c/pay/{}", self.id)),
            "wallet_options": null,
        });
        merged(head, rest)
    }

    /// The `line_items` list, which Stripe includes only when expanded.
    pub fn line_items_json(&self) -> Value {
        let price = &self.price;
        let amount = price.amount(self.quantity);
        json!({
            "object": "list",
            "data": [{
                "id": self.line_item_id,
                "object": "item",
                "adjustable_quantity": null,
                "amount_discount": 0,
                "amount_subtotal": amount,
                "amount_tax": 0,
                "amount_total": amount,
                "currency": price.currency,
                "description": price.product_name,
                "metadata": {},
                "price": price.json(),
                "quantity": self.quantity,
            }],
            "has_more": false,
            "url": format!("/v1/checkout/sessions/{}/line_items", self.id),
        })
    }
}

#[derive(Debug, Clone)]
pub(super) struct PortalSession {
    pub id: String,
    pub created: i64,
    pub customer: String,
    pub return_url: Option<String>,
    pub locale: Option<String>,
    pub configuration: String,
}

impl PortalSession {
    pub fn json(&self, base_url: &str) -> Value {
        json!({
            "id": self.id,
            "object": "billing_portal.session",
            "configuration": self.configuration,
            "created": self.created,
            "customer": self.customer,
            "customer_account": null,
            "flow": null,
            "livemode": false,
            "locale": self.locale,
            "on_behalf_of": null,
            "return_url": self.return_url,
            "url": format!("{base_url}/p/session/{}", self.id),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SubscriptionStatus {
    Active,
    PastDue,
    Canceled,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Canceled => "canceled",
        }
    }
}

/// A subscription to one price, quantity one or more.
#[derive(Debug, Clone)]
pub(super) struct Subscription {
    pub id: String,
    pub customer: String,
    pub created: i64,
    /// Periods are whole calendar steps from here.
    pub billing_cycle_anchor: i64,
    /// Periods completed: the current one is the `periods`-th step from the anchor.
    pub periods: i64,
    pub item_id: String,
    pub price: Price,
    pub quantity: u64,
    pub status: SubscriptionStatus,
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<i64>,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub cancellation_reason: Option<&'static str>,
    pub cancellation_comment: Option<String>,
    pub cancellation_feedback: Option<String>,
    pub latest_invoice: Option<String>,
    pub metadata: Metadata,
    pub description: Option<String>,
}

impl Subscription {
    /// `(current_period_start, current_period_end)`.
    pub fn period(&self) -> (i64, i64) {
        let step = self.price.months();
        (
            add_months(self.billing_cycle_anchor, self.periods * step),
            add_months(self.billing_cycle_anchor, (self.periods + 1) * step),
        )
    }

    pub fn json(&self) -> Value {
        let price = &self.price;
        let (start, end) = self.period();
        // The current period is the item's, at this API version.
        let item = json!({
            "id": self.item_id,
            "object": "subscription_item",
            "billing_thresholds": null,
            "created": self.created,
            "current_period_end": end,
            "current_period_start": start,
            "discounts": [],
            "metadata": {},
            "plan": price.plan_json(),
            "price": price.json(),
            "quantity": self.quantity,
            "subscription": self.id,
            "tax_rates": [],
        });
        let head = json!({
            "id": self.id,
            "object": "subscription",
            "application": null,
            "application_fee_percent": null,
            "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null},
            "billing_cycle_anchor": self.billing_cycle_anchor,
            "billing_cycle_anchor_config": null,
            "billing_mode": {
                "flexible": {"proration_discounts": "included"},
                "type": "flexible",
                "updated_at": null,
            },
            "billing_schedules": [],
            "billing_thresholds": null,
            "cancel_at": self.cancel_at,
            "cancel_at_period_end": self.cancel_at_period_end,
            "canceled_at": self.canceled_at,
            "cancellation_details": {
                "comment": self.cancellation_comment,
                "feedback": self.cancellation_feedback,
                "reason": self.cancellation_reason,
            },
            "collection_method": "charge_automatically",
            "created": self.created,
            "currency": price.currency,
            "customer": self.customer,
        });
        let rest = json!({
            "customer_account": null,
            "days_until_due": null,
            "default_payment_method": null,
            "default_source": null,
            "default_tax_rates": [],
            "description": self.description,
            "discounts": [],
            "ended_at": self.ended_at,
            "invoice_settings": {"account_tax_ids": null, "issuer": {"type": "self"}},
            "items": {
                "object": "list",
                "data": [item],
                "has_more": false,
                "total_count": 1,
                "url": format!("/v1/subscription_items?subscription={}", self.id),
            },
            "latest_invoice": self.latest_invoice,
            "livemode": false,
            "metadata": self.metadata,
            "next_pending_invoice_item_invoice": null,
            "on_behalf_of": null,
            "pause_collection": null,
            "payment_settings": {
                "payment_method_options": null,
                "payment_method_types": null,
                "save_default_payment_method": "off",
            },
            "pending_invoice_item_interval": null,
            "pending_setup_intent": null,
            "pending_update": null,
            "schedule": null,
            "start_date": self.created,
            "status": self.status.as_str(),
            "test_clock": null,
            "transfer_data": null,
            "trial_end": null,
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": null,
        });
        merged(head, rest)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InvoiceStatus {
    Draft,
    Open,
    Paid,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Open => "open",
            Self::Paid => "paid",
        }
    }
}

/// A subscription's invoice: one line, for one period of its price.
#[derive(Debug, Clone)]
pub(super) struct Invoice {
    pub id: String,
    pub customer: String,
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    pub subscription: String,
    pub subscription_item: String,
    /// The subscription's metadata when the invoice was made.
    pub subscription_metadata: Metadata,
    pub price: Price,
    pub quantity: u64,
    pub created: i64,
    /// Given at finalization.
    pub number: Option<String>,
    /// `subscription_create` or `subscription_cycle`.
    pub billing_reason: &'static str,
    pub status: InvoiceStatus,
    pub attempt_count: u64,
    pub finalized_at: Option<i64>,
    pub paid_at: Option<i64>,
    pub next_payment_attempt: Option<i64>,
    pub period_start: i64,
    pub period_end: i64,
    pub line_id: String,
    pub line_start: i64,
    pub line_end: i64,
}

impl Invoice {
    pub fn json(&self, base_url: &str) -> Value {
        let price = &self.price;
        let total = price.amount(self.quantity);
        let paid = if self.status == InvoiceStatus::Paid {
            total
        } else {
            0
        };
        let draft = self.status == InvoiceStatus::Draft;
        let page = (!draft).then(|| format!("{base_url}/i/{}", self.id));
        let line = json!({
            "id": self.line_id,
            "object": "line_item",
            "amount": total,
            "currency": price.currency,
            "description": price.line_description(self.quantity),
            "discount_amounts": [],
            "discountable": true,
            "discounts": [],
            "invoice": self.id,
            "livemode": false,
            "metadata": self.subscription_metadata,
            "parent": {
                "invoice_item_details": null,
                "subscription_item_details": {
                    "invoice_item": null,
                    "proration": false,
                    "proration_details": {"credited_items": null},
                    "subscription": self.subscription,
                    "subscription_item": self.subscription_item,
                },
                "type": "subscription_item_details",
            },
            "period": {"end": self.line_end, "start": self.line_start},
            "pretax_credit_amounts": [],
            "pricing": {
                "price_details": {"price": price.id, "product": price.product},
                "type": "price_details",
                "unit_amount_decimal": price.unit_amount.to_string(),
            },
            "quantity": self.quantity,
            "subtotal": total,
            "taxes": [],
        });
        let head = json!({
            "id": self.id,
            "object": "invoice",
            "account_country": "US",
            "account_name": "InChart",
            "account_tax_ids": null,
            "amount_due": total,
            "amount_overpaid": 0,
            "amount_paid": paid,
            "amount_remaining": total - paid,
            "amount_shipping": 0,
            "application": null,
            "attempt_count": self.attempt_count,
            "attempted": self.attempt_count > 0,
            "auto_advance": self.status != InvoiceStatus::Paid,
            "automatic_tax": {
                "disabled_reason": null,
                "enabled": false,
                "liability": null,
                "provider": null,
                "status": null,
            },
            "automatically_finalizes_at": draft.then_some(self.created + 3600),
            "billing_reason": self.billing_reason,
            "collection_method": "charge_automatically",
            "confirmation_secret": null,
            "created": self.created,
            "currency": price.currency,
            "custom_fields": null,
            "customer": self.customer,
        });
        let rest = json!({
            "customer_account": null,
            "customer_address": null,
            "customer_email": self.customer_email,
            "customer_name": self.customer_name,
            "customer_phone": null,
            "customer_shipping": null,
            "customer_tax_exempt": "none",
            "customer_tax_ids": [],
            "default_payment_method": null,
            "default_source": null,
            "default_tax_rates": [],
            "description": null,
            "discounts": [],
            "due_date": null,
            "effective_at": self.finalized_at,
            "ending_balance": (!draft).then_some(0),
            "footer": null,
            "from_invoice": null,
            "hosted_invoice_url": page,
            "invoice_pdf": page.as_ref().map(|page| format!("{page}/pdf")),
            "issuer": {"type": "self"},
            "last_finalization_error": null,
            "latest_revision": null,
            "lines": {
                "object": "list",
                "data": [line],
                "has_more": false,
                "total_count": 1,
                "url": format!("/v1/invoices/{}/lines", self.id),
            },
            "livemode": false,
            "metadata": {},
        });
        let tail = json!({
            "next_payment_attempt": self.next_payment_attempt,
            "number": self.number,
            "on_behalf_of": null,
            "parent": {
                "quote_details": null,
                "subscription_details": {
                    "metadata": self.subscription_metadata,
                    "subscription": self.subscription,
                },
                "type": "subscription_details",
            },
            "payment_settings": {
                "default_mandate": null,
                "payment_method_options": null,
                "payment_method_types": null,
            },
            "period_end": self.period_end,
            "period_start": self.period_start,
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "receipt_number": null,
            "rendering": null,
            "shipping_cost": null,
            "shipping_details": null,
            "starting_balance": 0,
            "statement_descriptor": null,
            "status": self.status.as_str(),
            "status_transitions": {
                "finalized_at": self.finalized_at,
                "marked_uncollectible_at": null,
                "paid_at": self.paid_at,
                "voided_at": null,
            },
            "subtotal": total,
            "subtotal_excluding_tax": total,
            "test_clock": null,
            "total": total,
            "total_discount_amounts": [],
            "total_excluding_tax": total,
            "total_pretax_credit_amounts": [],
            "total_taxes": [],
            "webhooks_delivered_at": self.created,
        });
        merged(merged(head, rest), tail)
    }
}

/// `head`'s fields and `rest`'s, in one object.
fn merged(mut head: Value, rest: Value) -> Value {
    if let (Some(head), Value::Object(rest)) = (head.as_object_mut(), rest) {
        head.extend(rest);
    }
    head
}

/// What changed from `before` to `after`, as Stripe's `previous_attributes`:
/// the old value of every changed field; a changed object shows only its
/// changed fields, a changed array (or anything else) its whole old value.
pub(super) fn previous_attributes(before: &Value, after: &Value) -> Value {
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => {
            let mut changed = serde_json::Map::new();
            for (key, old_value) in old {
                let new_value = new.get(key).unwrap_or(&Value::Null);
                if old_value == new_value {
                    continue;
                }
                let shown = match (old_value, new_value) {
                    (Value::Object(_), Value::Object(_)) => previous_attributes(old_value, new_value),
                    _ => old_value.clone(),
                };
                changed.insert(key.clone(), shown);
            }
            Value::Object(changed)
        }
        _ => before.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_money() {
        assert_eq!(money(1900, "usd"), "$19.00");
        assert_eq!(money(19005, "eur"), "€190.05");
        assert_eq!(money(500, "jpy"), "¥500");
        assert_eq!(money(1900, "chf"), "19.00 CHF");
    }

    #[test]
    fn previous_attributes_keep_only_what_changed() {
        let before =
            json!({"status": "active", "items": {"data": [1], "url": "u"}, "id": "x", "c": {"a": 1, "b": 2}});
        let after = json!({"status": "past_due", "items": {"data": [2], "url": "u"}, "id": "x", "c": {"a": 1, "b": 3}});
        assert_eq!(
            previous_attributes(&before, &after),
            json!({"status": "active", "items": {"data": [1]}, "c": {"b": 2}})
        );
    }
}
