//! Plans and billing as the pages see them: what each plan allows, what it
//! costs, and where an account stands (its plan, its subscription, its
//! invoices, how much of each limit it uses).
//!
//! The server decides every limit; these types only carry its answers.

use serde::{Deserialize, Serialize};

/// The plans InChart sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanId {
    Free,
    Pro,
}

impl PlanId {
    pub fn name(self) -> &'static str {
        match self {
            Self::Free => "Free",
            Self::Pro => "Pro",
        }
    }
}

/// What a plan allows one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Saved scripts.
    pub scripts: u32,
    /// Scripts running live on closed candles at once.
    pub live_scripts: u32,
    /// Symbols on the watchlist.
    pub watchlist: u32,
    /// How many candles back from now a chart or a script can read.
    pub history_candles: u32,
    /// CPU time one script run may use, in milliseconds.
    pub script_cpu_ms: u32,
    /// Script runs an account may start in a minute (live runs on closed
    /// candles are not counted).
    pub runs_per_minute: u32,
    /// Drawings kept on the account's charts, over all symbols.
    pub drawings: u32,
    /// Candles one backtest may trade over.
    pub backtest_candles: u32,
    /// Backtests an account may start in an hour.
    pub backtests_per_hour: u32,
    /// CPU time one backtest's script may use, in milliseconds.
    pub backtest_cpu_ms: u32,
    /// Alerts an account keeps active at once.
    pub alerts: u32,
    /// Alert firings an account may have in a day (UTC).
    pub alert_firings_per_day: u32,
    /// Whether alerts may call webhooks (email and browser push are on
    /// every plan).
    pub webhooks: bool,
}

/// How often a price is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    Monthly,
    Yearly,
}

impl Cadence {
    /// The value of the checkout form's `price` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monthly => "monthly",
            Self::Yearly => "yearly",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "monthly" => Some(Self::Monthly),
            "yearly" => Some(Self::Yearly),
            _ => None,
        }
    }

    /// "month" or "year", as in "$19.00 / month".
    pub fn unit(self) -> &'static str {
        match self {
            Self::Monthly => "month",
            Self::Yearly => "year",
        }
    }
}

/// A price as Stripe charges it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceView {
    pub cadence: Cadence,
    /// In the currency's smallest unit (cents).
    pub amount: i64,
    /// ISO 4217, lower case as Stripe writes it (`usd`).
    pub currency: String,
}

/// One plan on the pricing page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanView {
    pub id: PlanId,
    pub limits: Limits,
    /// Empty for Free; for Pro, the prices Stripe could be read for.
    pub prices: Vec<PriceView>,
}

/// The pricing page's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pricing {
    /// Whether this server takes payments (Stripe is configured).
    pub billing_on: bool,
    pub plans: Vec<PlanView>,
    /// The visitor's plan, when signed in.
    pub current: Option<PlanId>,
}

/// A subscription's state, as Stripe names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Active,
    Trialing,
    PastDue,
    Canceled,
    Unpaid,
    Incomplete,
    IncompleteExpired,
    Paused,
}

impl SubscriptionStatus {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "active" => Self::Active,
            "trialing" => Self::Trialing,
            "past_due" => Self::PastDue,
            "canceled" => Self::Canceled,
            "unpaid" => Self::Unpaid,
            "incomplete" => Self::Incomplete,
            "incomplete_expired" => Self::IncompleteExpired,
            "paused" => Self::Paused,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Trialing => "trialing",
            Self::PastDue => "past_due",
            Self::Canceled => "canceled",
            Self::Unpaid => "unpaid",
            Self::Incomplete => "incomplete",
            Self::IncompleteExpired => "incomplete_expired",
            Self::Paused => "paused",
        }
    }

    /// Whether the subscription gives its plan: paid up, on trial, or in
    /// the few days Stripe retries a failed payment.
    pub fn grants_plan(self) -> bool {
        matches!(self, Self::Active | Self::Trialing | Self::PastDue)
    }

    /// What the billing page calls it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Trialing => "Trialing",
            Self::PastDue => "Past due",
            Self::Canceled => "Canceled",
            Self::Unpaid => "Unpaid",
            Self::Incomplete => "Awaiting payment",
            Self::IncompleteExpired => "Payment not completed",
            Self::Paused => "Paused",
        }
    }
}

/// The account's subscription, as last heard from Stripe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionView {
    pub status: SubscriptionStatus,
    pub cadence: Option<Cadence>,
    /// It ends at `current_period_end` instead of renewing.
    pub cancel_at_period_end: bool,
    /// Milliseconds since the Unix epoch: when it renews (or ends).
    pub current_period_end: Option<i64>,
    /// When it ended, once canceled.
    pub ended_at: Option<i64>,
}

/// One invoice on the billing page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceView {
    pub number: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created: i64,
    /// What it asks for, in the currency's smallest unit.
    pub amount: i64,
    pub currency: String,
    /// `paid`, `open`, `void`, `uncollectible` or `draft`.
    pub status: String,
    /// Stripe's hosted page of the invoice (and its PDF).
    pub url: Option<String>,
}

/// How much of each limit an account uses now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub scripts: u32,
    pub live_scripts: u32,
    pub watchlist: u32,
    pub drawings: u32,
    /// Active alerts.
    #[serde(default)]
    pub alerts: u32,
}

/// The billing page's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingView {
    pub billing_on: bool,
    pub plan: PlanId,
    pub limits: Limits,
    pub usage: Usage,
    /// The newest subscription, if the account ever had one.
    pub subscription: Option<SubscriptionView>,
    /// Newest first.
    pub invoices: Vec<InvoiceView>,
    /// Whether there is a Stripe customer to open the portal for.
    pub can_manage: bool,
}

/// "$19.00", "€190.00", "¥1,900", "19.00 CHF": an amount in the smallest
/// unit of its currency, written for people.
pub fn format_money(amount: i64, currency: &str) -> String {
    let code = currency.to_ascii_uppercase();
    // Stripe's zero-decimal currencies among the common ones.
    let decimals = if matches!(
        code.as_str(),
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "HUF" | "TWD" | "UGX"
    ) {
        0
    } else {
        2
    };
    let negative = amount < 0;
    let amount = amount.unsigned_abs();
    let (whole, fraction) = if decimals == 0 {
        (amount, 0)
    } else {
        (amount / 100, amount % 100)
    };
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let number = if decimals == 0 {
        grouped
    } else {
        format!("{grouped}.{fraction:02}")
    };
    let sign = if negative { "-" } else { "" };
    match code.as_str() {
        "USD" => format!("{sign}${number}"),
        "EUR" => format!("{sign}€{number}"),
        "GBP" => format!("{sign}£{number}"),
        "JPY" => format!("{sign}¥{number}"),
        _ => format!("{sign}{number} {code}"),
    }
}

#[cfg(feature = "ssr")]
pub use server_side::*;

#[cfg(feature = "ssr")]
mod server_side {
    use std::sync::Arc;

    use super::{BillingView, Pricing};

    use crate::PageAnswer as Answer;
    use crate::ids::UserId;

    /// What the pricing and billing pages read, implemented by the server.
    pub trait BillingPages: Send + Sync {
        /// `user` is the signed-in visitor, if any.
        fn pricing(&self, user: Option<UserId>) -> Answer<Pricing>;
        /// `user`'s plan and billing.
        fn billing(&self, user: UserId) -> Answer<BillingView>;
    }

    /// The server's [`BillingPages`], in each request's context.
    #[derive(Clone)]
    pub struct BillingService(pub Arc<dyn BillingPages>);
}

#[cfg(feature = "ssr")]
fn billing_pages() -> Result<std::sync::Arc<dyn BillingPages>, leptos::prelude::ServerFnError> {
    use leptos::prelude::{ServerFnError, use_context};
    let BillingService(pages) = use_context::<BillingService>()
        .ok_or_else(|| ServerFnError::new("Billing is not configured on this server."))?;
    Ok(pages)
}

#[cfg(feature = "ssr")]
fn signed_in_user() -> Option<crate::ids::UserId> {
    crate::account::request_session()
        .and_then(|session| session.ids)
        .map(|(user, _)| user)
}

/// The plans, their limits and prices.
#[leptos::server(input = leptos::server_fn::codec::GetUrl)]
pub async fn get_pricing() -> Result<Pricing, leptos::prelude::ServerFnError> {
    billing_pages()?
        .pricing(signed_in_user())
        .await
        .map_err(|error| leptos::prelude::ServerFnError::new(error.message()))
}

/// The signed-in account's plan and billing; `None` when signed out.
#[leptos::server(input = leptos::server_fn::codec::GetUrl)]
pub async fn get_billing() -> Result<Option<BillingView>, leptos::prelude::ServerFnError> {
    let Some(user) = signed_in_user() else {
        return Ok(None);
    };
    billing_pages()?
        .billing(user)
        .await
        .map(Some)
        .map_err(|error| leptos::prelude::ServerFnError::new(error.message()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_written_in_its_currency() {
        assert_eq!(format_money(1900, "usd"), "$19.00");
        assert_eq!(format_money(1_900_005, "eur"), "€19,000.05");
        assert_eq!(format_money(1900, "jpy"), "¥1,900");
        assert_eq!(format_money(1905, "chf"), "19.05 CHF");
        assert_eq!(format_money(-250, "gbp"), "-£2.50");
        assert_eq!(format_money(0, "usd"), "$0.00");
    }

    #[test]
    fn only_paying_states_grant_a_plan() {
        for status in ["active", "trialing", "past_due"] {
            assert!(SubscriptionStatus::parse(status).is_some_and(SubscriptionStatus::grants_plan));
        }
        for status in ["canceled", "unpaid", "incomplete", "incomplete_expired", "paused"] {
            let parsed = SubscriptionStatus::parse(status).unwrap();
            assert!(!parsed.grants_plan(), "{status}");
            assert_eq!(parsed.as_str(), status);
        }
        assert_eq!(SubscriptionStatus::parse("nonsense"), None);
    }
}
