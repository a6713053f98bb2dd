//! What happens to customers, sessions, subscriptions and invoices, and
//! the events each change emits, in Stripe's order. Every step runs under
//! the state lock, called by an API handler, a hosted page or a lifecycle
//! action of [`FakeStripe`](super::FakeStripe).

use super::api::ApiError;
use super::objects::{
    CheckoutSession, Customer, Invoice, InvoiceStatus, Metadata, PortalSession, Price, SessionStatus,
    Subscription, SubscriptionStatus, previous_attributes,
};
use super::{EventRequest, FakeEvent, State};

/// How long a Checkout Session stays open (Stripe's default).
const SESSION_LIFETIME: i64 = 24 * 3600;
/// When Stripe's Smart Retries try a failed renewal again (roughly).
const RETRY_AFTER: i64 = 3 * 24 * 3600;

/// A customer to create (`POST /v1/customers`).
#[derive(Debug, Default)]
pub(super) struct NewCustomer {
    pub email: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub metadata: Metadata,
}

/// A Checkout Session to create, its parameters already checked.
#[derive(Debug)]
pub(super) struct NewCheckoutSession {
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
}

/// A customer-portal session to create.
#[derive(Debug)]
pub(super) struct NewPortalSession {
    pub customer: String,
    pub return_url: Option<String>,
    pub locale: Option<String>,
}

impl State {
    fn subscription_index(&self, id: &str) -> Result<usize, ApiError> {
        self.subscriptions
            .iter()
            .position(|subscription| subscription.id == id)
            .ok_or_else(|| ApiError::no_such("subscription", id))
    }

    fn invoice_index(&self, id: &str) -> Result<usize, ApiError> {
        self.invoices
            .iter()
            .position(|invoice| invoice.id == id)
            .ok_or_else(|| ApiError::no_such("invoice", id))
    }

    fn emit_invoice(&mut self, type_: &str, index: usize) -> FakeEvent {
        let object = self.invoices[index].json(&self.base_url);
        self.emit(type_, object, None, &EventRequest::default())
    }

    fn emit_subscription(&mut self, type_: &str, index: usize, request: &EventRequest) -> FakeEvent {
        let object = self.subscriptions[index].json();
        self.emit(type_, object, None, request)
    }

    /// Changes a subscription and emits `customer.subscription.updated`
    /// with what changed; nothing when nothing did.
    fn update_subscription(
        &mut self,
        index: usize,
        request: &EventRequest,
        change: impl FnOnce(&mut Subscription),
    ) -> Option<FakeEvent> {
        let before = self.subscriptions[index].json();
        change(&mut self.subscriptions[index]);
        let after = self.subscriptions[index].json();
        if before == after {
            return None;
        }
        let previous = previous_attributes(&before, &after);
        Some(self.emit("customer.subscription.updated", after, Some(previous), request))
    }

    pub(super) fn create_customer(
        &mut self,
        new: NewCustomer,
        request: &EventRequest,
    ) -> (String, Vec<FakeEvent>) {
        let id = self.ids.next("cus_", 14);
        let prefix = self.ids.next("", 8).to_ascii_uppercase();
        let customer = Customer {
            id: id.clone(),
            created: self.now(),
            email: new.email,
            name: new.name,
            description: new.description,
            metadata: new.metadata,
            invoice_prefix: prefix,
            next_invoice_sequence: 1,
        };
        let object = customer.json();
        self.customers.push(customer);
        let event = self.emit("customer.created", object, None, request);
        (id, vec![event])
    }

    pub(super) fn create_checkout_session(&mut self, new: NewCheckoutSession) -> String {
        let id = self.ids.next("cs_test_a1", 58);
        let now = self.now();
        let session = CheckoutSession {
            id: id.clone(),
            created: now,
            expires_at: now + SESSION_LIFETIME,
            customer: new.customer,
            customer_email: new.customer_email,
            client_reference_id: new.client_reference_id,
            price: new.price,
            quantity: new.quantity,
            success_url: new.success_url,
            cancel_url: new.cancel_url,
            metadata: new.metadata,
            subscription_metadata: new.subscription_metadata,
            subscription_description: new.subscription_description,
            locale: new.locale,
            allow_promotion_codes: new.allow_promotion_codes,
            status: SessionStatus::Open,
            subscription: None,
            invoice: None,
            collected_email: None,
            line_item_id: self.ids.next("li_1", 23),
        };
        self.checkout_sessions.push(session);
        id
    }

    pub(super) fn create_portal_session(
        &mut self,
        new: NewPortalSession,
        request: &EventRequest,
    ) -> (String, Vec<FakeEvent>) {
        let session = PortalSession {
            id: self.ids.next("bps_1", 23),
            created: self.now(),
            customer: new.customer,
            return_url: new.return_url,
            locale: new.locale,
            configuration: self.portal_configuration.clone(),
        };
        let id = session.id.clone();
        let object = session.json(&self.base_url);
        self.portal_sessions.push(session);
        let event = self.emit("billing_portal.session.created", object, None, request);
        (id, vec![event])
    }

    /// A draft invoice `id` for the subscription's current period.
    fn open_invoice(
        &mut self,
        subscription: usize,
        id: String,
        billing_reason: &'static str,
        period: (i64, i64),
    ) -> usize {
        let line_id = self.ids.next("il_1", 23);
        let now = self.now();
        let sub = &self.subscriptions[subscription];
        let (line_start, line_end) = sub.period();
        let customer = self.customers.iter().find(|customer| customer.id == sub.customer);
        let invoice = Invoice {
            id,
            customer: sub.customer.clone(),
            customer_email: customer.and_then(|customer| customer.email.clone()),
            customer_name: customer.and_then(|customer| customer.name.clone()),
            subscription: sub.id.clone(),
            subscription_item: sub.item_id.clone(),
            subscription_metadata: sub.metadata.clone(),
            price: sub.price.clone(),
            quantity: sub.quantity,
            created: now,
            number: None,
            billing_reason,
            status: InvoiceStatus::Draft,
            attempt_count: 0,
            finalized_at: None,
            paid_at: None,
            next_payment_attempt: None,
            period_start: period.0,
            period_end: period.1,
            line_id,
            line_start,
            line_end,
        };
        self.invoices.push(invoice);
        self.invoices.len() - 1
    }

    /// Draft → open, numbered from the customer's sequence: `invoice.finalized`.
    fn finalize_invoice(&mut self, index: usize) -> FakeEvent {
        let now = self.now();
        let customer_id = self.invoices[index].customer.clone();
        let number = self
            .customers
            .iter_mut()
            .find(|customer| customer.id == customer_id)
            .map(|customer| {
                let number = format!(
                    "{}-{:04}",
                    customer.invoice_prefix, customer.next_invoice_sequence
                );
                customer.next_invoice_sequence += 1;
                number
            });
        let invoice = &mut self.invoices[index];
        invoice.status = InvoiceStatus::Open;
        invoice.number = number;
        invoice.finalized_at = Some(now);
        invoice.next_payment_attempt = Some(now + 3600);
        self.emit_invoice("invoice.finalized", index)
    }

    /// A payment attempt succeeds: `invoice.paid`, `invoice.payment_succeeded`.
    fn pay_invoice(&mut self, index: usize) -> Vec<FakeEvent> {
        let now = self.now();
        let invoice = &mut self.invoices[index];
        invoice.status = InvoiceStatus::Paid;
        invoice.attempt_count += 1;
        invoice.paid_at = Some(now);
        invoice.next_payment_attempt = None;
        vec![
            self.emit_invoice("invoice.paid", index),
            self.emit_invoice("invoice.payment_succeeded", index),
        ]
    }

    /// A payment attempt fails: `invoice.payment_failed`.
    fn fail_invoice(&mut self, index: usize) -> FakeEvent {
        let now = self.now();
        let invoice = &mut self.invoices[index];
        invoice.attempt_count += 1;
        invoice.next_payment_attempt = Some(now + RETRY_AFTER);
        self.emit_invoice("invoice.payment_failed", index)
    }

    pub(super) fn complete_checkout(&mut self, session_id: &str) -> Result<Vec<FakeEvent>, ApiError> {
        let session_index = self
            .checkout_sessions
            .iter()
            .position(|session| session.id == session_id)
            .ok_or_else(|| ApiError::no_such("checkout.session", session_id))?;
        let session = self.checkout_sessions[session_index].clone();
        if session.status != SessionStatus::Open {
            return Err(ApiError::invalid_request(format!(
                "Checkout Session {session_id} is already complete."
            )));
        }
        let mut events = Vec::new();
        let customer = match session.customer.clone() {
            Some(customer) => customer,
            None => {
                let new = NewCustomer {
                    email: session.customer_email.clone(),
                    ..NewCustomer::default()
                };
                let (customer, created) = self.create_customer(new, &EventRequest::default());
                events.extend(created);
                customer
            }
        };
        let now = self.now();
        let subscription = Subscription {
            id: self.ids.next("sub_1", 23),
            customer: customer.clone(),
            created: now,
            billing_cycle_anchor: now,
            periods: 0,
            item_id: self.ids.next("si_", 14),
            price: session.price.clone(),
            quantity: session.quantity,
            status: SubscriptionStatus::Active,
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: None,
            ended_at: None,
            cancellation_reason: None,
            cancellation_comment: None,
            cancellation_feedback: None,
            latest_invoice: None,
            metadata: session.subscription_metadata.clone(),
            description: session.subscription_description.clone(),
        };
        let subscription_id = subscription.id.clone();
        self.subscriptions.push(subscription);
        let sub = self.subscriptions.len() - 1;
        // The first invoice covers nothing before the start: its period is
        // the instant the subscription began, its line the first period.
        let invoice_id = self.ids.next("in_1", 23);
        let invoice = self.open_invoice(sub, invoice_id.clone(), "subscription_create", (now, now));
        self.subscriptions[sub].latest_invoice = Some(invoice_id.clone());
        events.push(self.emit_subscription("customer.subscription.created", sub, &EventRequest::default()));
        events.push(self.emit_invoice("invoice.created", invoice));
        events.push(self.finalize_invoice(invoice));
        events.extend(self.pay_invoice(invoice));
        let collected_email = self.customer(&customer).and_then(|c| c.email.clone());
        let session = &mut self.checkout_sessions[session_index];
        session.status = SessionStatus::Complete;
        session.customer = Some(customer);
        session.subscription = Some(subscription_id);
        session.invoice = Some(invoice_id);
        session.collected_email = collected_email;
        let object = session.json(&self.base_url);
        events.push(self.emit(
            "checkout.session.completed",
            object,
            None,
            &EventRequest::default(),
        ));
        Ok(events)
    }

    /// The subscription reaches its period's end and starts the next one:
    /// the clock moves there, the periods move (`customer.subscription.updated`),
    /// and the renewal invoice is created and finalized.
    fn cycle(&mut self, sub: usize) -> (usize, Vec<FakeEvent>) {
        let ended = self.subscriptions[sub].period();
        self.move_clock_to(ended.1);
        let invoice_id = self.ids.next("in_1", 23);
        let mut events = Vec::new();
        events.extend(
            self.update_subscription(sub, &EventRequest::default(), |subscription| {
                subscription.periods += 1;
                subscription.latest_invoice = Some(invoice_id.clone());
            }),
        );
        // The renewal invoice's own period is the one that just ended; its
        // line is the period it pays for.
        let invoice = self.open_invoice(sub, invoice_id, "subscription_cycle", ended);
        events.push(self.emit_invoice("invoice.created", invoice));
        events.push(self.finalize_invoice(invoice));
        (invoice, events)
    }

    /// Active subscriptions only, not set to cancel: the steps that renew.
    fn renewing(&self, id: &str) -> Result<usize, ApiError> {
        let sub = self.subscription_index(id)?;
        let subscription = &self.subscriptions[sub];
        if subscription.status != SubscriptionStatus::Active {
            return Err(ApiError::invalid_request(format!(
                "{id} is {}; only an active subscription renews.",
                subscription.status.as_str()
            )));
        }
        if subscription.cancel_at.is_some() {
            return Err(ApiError::invalid_request(format!(
                "{id} is set to cancel at the end of its period, so it does not renew; end_period ends it."
            )));
        }
        Ok(sub)
    }

    pub(super) fn renew(&mut self, id: &str) -> Result<Vec<FakeEvent>, ApiError> {
        let sub = self.renewing(id)?;
        let (invoice, mut events) = self.cycle(sub);
        events.extend(self.pay_invoice(invoice));
        Ok(events)
    }

    pub(super) fn fail_payment(&mut self, id: &str) -> Result<Vec<FakeEvent>, ApiError> {
        let sub = self.subscription_index(id)?;
        if self.subscriptions[sub].status == SubscriptionStatus::PastDue {
            let invoice = self.open_latest_invoice(sub)?;
            return Ok(vec![self.fail_invoice(invoice)]);
        }
        let sub = self.renewing(id)?;
        let (invoice, mut events) = self.cycle(sub);
        events.push(self.fail_invoice(invoice));
        events.extend(
            self.update_subscription(sub, &EventRequest::default(), |subscription| {
                subscription.status = SubscriptionStatus::PastDue;
            }),
        );
        Ok(events)
    }

    fn open_latest_invoice(&self, sub: usize) -> Result<usize, ApiError> {
        let subscription = &self.subscriptions[sub];
        let latest = subscription
            .latest_invoice
            .as_deref()
            .ok_or_else(|| ApiError::invalid_request(format!("{} has no invoice.", subscription.id)))?;
        let invoice = self.invoice_index(latest)?;
        if self.invoices[invoice].status != InvoiceStatus::Open {
            return Err(ApiError::invalid_request(format!(
                "{}'s latest invoice {latest} is not open.",
                subscription.id
            )));
        }
        Ok(invoice)
    }

    pub(super) fn recover(&mut self, id: &str) -> Result<Vec<FakeEvent>, ApiError> {
        let sub = self.subscription_index(id)?;
        if self.subscriptions[sub].status != SubscriptionStatus::PastDue {
            return Err(ApiError::invalid_request(format!(
                "{id} is {}; only a past_due subscription recovers.",
                self.subscriptions[sub].status.as_str()
            )));
        }
        let invoice = self.open_latest_invoice(sub)?;
        let mut events = self.pay_invoice(invoice);
        events.extend(
            self.update_subscription(sub, &EventRequest::default(), |subscription| {
                subscription.status = SubscriptionStatus::Active;
            }),
        );
        Ok(events)
    }

    pub(super) fn set_cancel_at_period_end(
        &mut self,
        id: &str,
        cancel: bool,
        request: &EventRequest,
    ) -> Result<Vec<FakeEvent>, ApiError> {
        let sub = self.subscription_index(id)?;
        if self.subscriptions[sub].status == SubscriptionStatus::Canceled {
            return Err(ApiError::invalid_request(
                "A canceled subscription can only update its cancellation_details and metadata.",
            ));
        }
        let now = self.now();
        let (_, end) = self.subscriptions[sub].period();
        let update = self.update_subscription(sub, request, |subscription| {
            if cancel == subscription.cancel_at_period_end {
                return;
            }
            subscription.cancel_at_period_end = cancel;
            if cancel {
                subscription.cancel_at = Some(end);
                subscription.canceled_at = Some(now);
                subscription.cancellation_reason = Some("cancellation_requested");
            } else {
                subscription.cancel_at = None;
                subscription.canceled_at = None;
                subscription.cancellation_reason = None;
                subscription.cancellation_comment = None;
                subscription.cancellation_feedback = None;
            }
        });
        Ok(update.into_iter().collect())
    }

    /// `metadata` and `description` changes from `POST /v1/subscriptions/{id}`.
    pub(super) fn update_subscription_fields(
        &mut self,
        id: &str,
        metadata: Metadata,
        description: Option<Option<String>>,
        request: &EventRequest,
    ) -> Result<Vec<FakeEvent>, ApiError> {
        let sub = self.subscription_index(id)?;
        let update = self.update_subscription(sub, request, |subscription| {
            for (key, value) in metadata {
                if value.is_empty() {
                    subscription.metadata.remove(&key);
                } else {
                    subscription.metadata.insert(key, value);
                }
            }
            if let Some(description) = description {
                subscription.description = description;
            }
        });
        Ok(update.into_iter().collect())
    }

    pub(super) fn end_period(&mut self, id: &str) -> Result<Vec<FakeEvent>, ApiError> {
        let sub = self.subscription_index(id)?;
        let subscription = &self.subscriptions[sub];
        let cancel_at = match (subscription.status, subscription.cancel_at) {
            (SubscriptionStatus::Canceled, _) => {
                return Err(ApiError::invalid_request(format!("{id} has already ended.")));
            }
            (_, None) => {
                return Err(ApiError::invalid_request(format!(
                    "{id} is not set to cancel; cancel_at_period_end(.., true) sets it."
                )));
            }
            (_, Some(cancel_at)) => cancel_at,
        };
        self.move_clock_to(cancel_at);
        let subscription = &mut self.subscriptions[sub];
        subscription.status = SubscriptionStatus::Canceled;
        subscription.ended_at = Some(cancel_at);
        Ok(vec![self.emit_subscription(
            "customer.subscription.deleted",
            sub,
            &EventRequest::default(),
        )])
    }

    /// Cancels at once: the subscription and `customer.subscription.deleted`.
    pub(super) fn cancel_now(
        &mut self,
        id: &str,
        comment: Option<String>,
        feedback: Option<String>,
        request: &EventRequest,
    ) -> Result<(String, Vec<FakeEvent>), ApiError> {
        let sub = self.subscription_index(id)?;
        if self.subscriptions[sub].status == SubscriptionStatus::Canceled {
            return Err(ApiError::invalid_request(format!(
                "{id} is already canceled; a canceled subscription cannot be canceled again."
            )));
        }
        let now = self.now();
        let subscription = &mut self.subscriptions[sub];
        subscription.status = SubscriptionStatus::Canceled;
        subscription.canceled_at = Some(now);
        subscription.ended_at = Some(now);
        subscription.cancellation_reason = Some("cancellation_requested");
        if comment.is_some() {
            subscription.cancellation_comment = comment;
        }
        if feedback.is_some() {
            subscription.cancellation_feedback = feedback;
        }
        let event = self.emit_subscription("customer.subscription.deleted", sub, request);
        Ok((id.to_owned(), vec![event]))
    }
}
