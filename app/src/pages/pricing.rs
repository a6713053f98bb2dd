//! `/pricing`: Free and Pro side by side, what each allows and what Pro
//! costs. Readable and usable with JavaScript off: upgrading is a plain
//! form that sends the visitor to Stripe Checkout (with JavaScript the page
//! sends it itself, shows a refusal in place and goes where the answer
//! says).

use leptos::prelude::*;

use crate::PageError;
use crate::account::PageSession;
use crate::billing::{Cadence, Limits, PlanId, PlanView, PriceView, Pricing, format_money, get_pricing};
use crate::components::account::{AccountForm, FlashNotice, Hidden, page_session};
use crate::components::site::{SiteFooter, SiteHeader};
use crate::seo::Seo;

const DESCRIPTION: &str = "InChart is free for live crypto charts and a few Python signal scripts. \
Pro runs more scripts live, follows more symbols and reads deeper history.";

/// What the pricing and billing pages say when this server takes no money.
pub const BILLING_OFF: &str = "Billing is off on this server: every account is on Free.";

#[component]
pub fn PricingPage() -> impl IntoView {
    let pricing = Resource::new_blocking(|| (), |_| get_pricing());
    view! {
        <Seo title="Pricing · InChart" description=DESCRIPTION path="/pricing" />
        <SiteHeader current="pricing" />
        <main class="page pricing-page">
            <section class="pricing-intro">
                <h1>"Plans for every trader"</h1>
                <p class="lede">"Start free. Upgrade to Pro when your scripts need more room."</p>
            </section>
            <Suspense fallback=|| view! { <p class="muted" aria-busy="true">"Loading the plans…"</p> }>
                {move || Suspend::new(async move {
                    let session = page_session().await;
                    match pricing.await {
                        Ok(pricing) => view! { <Plans pricing session /> }.into_any(),
                        Err(error) => view! {
                            <p class="form-error" role="alert">
                                {PageError::from_server_fn_error(&error).to_string()}
                            </p>
                        }
                        .into_any(),
                    }
                })}
            </Suspense>
        </main>
        <SiteFooter />
    }
}

#[component]
fn Plans(pricing: Pricing, session: PageSession) -> impl IntoView {
    let signed_in = session.viewer.is_some();
    // Free costs nothing in the currency Pro is sold in.
    let currency = pricing
        .plans
        .iter()
        .flat_map(|plan| plan.prices.iter())
        .map(|price| price.currency.clone())
        .next()
        .unwrap_or_else(|| "usd".to_string());
    let cards = pricing
        .plans
        .iter()
        .map(|plan| {
            view! {
                <PlanCard
                    plan=plan.clone()
                    current=pricing.current
                    billing_on=pricing.billing_on
                    session=session.clone()
                    currency=currency.clone()
                />
            }
        })
        .collect_view();
    view! {
        {(!pricing.billing_on).then(|| view! { <p class="banner info" role="note">{BILLING_OFF}</p> })}
        <FlashNotice session=session.clone() form="billing" errors=true />
        <div class="plans">{cards}</div>
        <p class="muted small plans-footnote">
            "Pay by card through Stripe. Cancel at any time in "
            {if signed_in {
                view! { <a href="/billing" rel="external">"Billing"</a> }.into_any()
            } else {
                view! { "Billing" }.into_any()
            }}
            "; Pro stays until the end of the period you paid for."
        </p>
    }
}

#[component]
fn PlanCard(
    plan: PlanView,
    current: Option<PlanId>,
    billing_on: bool,
    session: PageSession,
    currency: String,
) -> impl IntoView {
    let signed_in = session.viewer.is_some();
    let is_current = current == Some(plan.id);
    let heading_id = format!("plan-{}", plan.id.name().to_ascii_lowercase());
    let tagline = match plan.id {
        PlanId::Free => "Live charts and your first scripts.",
        PlanId::Pro => "More scripts live, more symbols, deeper history.",
    };
    let limits = limit_lines(&plan.limits)
        .into_iter()
        .map(|line| view! { <li>{line}</li> })
        .collect_view();
    let price = match plan.id {
        PlanId::Free => view! {
            <p class="plan-price"><span class="plan-amount">{free_price(&currency)}</span></p>
        }
        .into_any(),
        PlanId::Pro => pro_price(&plan.prices).into_any(),
    };
    let actions = match plan.id {
        PlanId::Free => free_actions(signed_in).into_any(),
        PlanId::Pro => pro_actions(&plan.prices, is_current, billing_on, session).into_any(),
    };
    let labelled_by = heading_id.clone();
    view! {
        <article class="plan-card" class:current=is_current aria-labelledby=labelled_by>
            <div class="plan-heading">
                <h2 id=heading_id>{plan.id.name()}</h2>
                {is_current.then(|| view! { <span class="badge current-plan">"Your plan"</span> })}
            </div>
            <p class="muted">{tagline}</p>
            {price}
            <ul class="plan-limits" aria-label=format!("What {} includes", plan.id.name())>{limits}</ul>
            <div class="plan-actions">{actions}</div>
        </article>
    }
}

/// Pro's price: the monthly one big, the yearly one below it with what it
/// saves; or whichever of them Stripe could be read for.
fn pro_price(prices: &[PriceView]) -> impl IntoView + use<> {
    let find = |cadence| prices.iter().find(|price| price.cadence == cadence).cloned();
    let (monthly, yearly) = (find(Cadence::Monthly), find(Cadence::Yearly));
    let headline = monthly.clone().or_else(|| yearly.clone());
    let Some(headline) = headline else {
        return view! {
            <p class="plan-price muted">"The price could not be read right now; reload the page in a moment."</p>
        }
        .into_any();
    };
    let second = match (&monthly, &yearly) {
        (Some(monthly), Some(yearly)) => Some(yearly_line(monthly, yearly)),
        _ => None,
    };
    view! {
        <p class="plan-price">
            <span class="plan-amount">{format_money(headline.amount, &headline.currency)}</span>
            <span class="plan-unit">{format!(" / {}", headline.cadence.unit())}</span>
        </p>
        {second.map(|line| view! { <p class="plan-yearly">{line}</p> })}
    }
    .into_any()
}

fn free_actions(signed_in: bool) -> impl IntoView + use<> {
    (!signed_in).then(|| view! { <a class="button" href="/signup">"Start free"</a> })
}

fn pro_actions(
    prices: &[PriceView],
    is_current: bool,
    billing_on: bool,
    session: PageSession,
) -> impl IntoView + use<> {
    if is_current {
        return view! {
            <a class="button primary" href="/billing" rel="external">"Manage billing"</a>
        }
        .into_any();
    }
    if !billing_on {
        return view! { <p class="muted small">"Pro cannot be bought on this server."</p> }.into_any();
    }
    if session.viewer.is_none() {
        return view! {
            <a class="button primary" href="/signup">"Create an account"</a>
            <a class="button" href="/login?next=/pricing">"Log in"</a>
            <p class="muted small plan-actions-note">"Upgrade once you are signed in."</p>
        }
        .into_any();
    }
    let mut cadences: Vec<Cadence> = prices.iter().map(|price| price.cadence).collect();
    cadences.sort_by_key(|cadence| *cadence != Cadence::Monthly);
    cadences.dedup();
    cadences
        .into_iter()
        .map(|cadence| {
            let (submit, quiet) = match cadence {
                Cadence::Monthly => ("Upgrade — monthly", false),
                Cadence::Yearly => ("Upgrade — yearly", true),
            };
            // Named apart from the page's `billing` notice, which shows a
            // refusal carried here once rather than under both buttons.
            view! {
                <AccountForm session=session.clone() name="checkout" action="/billing/checkout".to_string()
                    submit busy_label="Opening Stripe…" quiet>
                    <Hidden name="price" value=cadence.as_str().to_string() />
                </AccountForm>
            }
        })
        .collect_view()
        .into_any()
}

/// A plan's limits, one line each: "3 saved scripts", "1 script running
/// live", "10 symbols on the watchlist", "2,000 candles of history",
/// "1 s CPU per script run", "20 script runs a minute", "50 drawings",
/// "Backtests over 2,000 candles", "10 backtests an hour".
pub fn limit_lines(limits: &Limits) -> Vec<String> {
    vec![
        plural(limits.scripts, "saved script", "saved scripts"),
        plural(limits.live_scripts, "script running live", "scripts running live"),
        plural(
            limits.watchlist,
            "symbol on the watchlist",
            "symbols on the watchlist",
        ),
        plural(limits.history_candles, "candle of history", "candles of history"),
        format!("{} CPU per script run", cpu_time(limits.script_cpu_ms)),
        plural(
            limits.runs_per_minute,
            "script run a minute",
            "script runs a minute",
        ),
        plural(limits.drawings, "drawing", "drawings"),
        format!(
            "Backtests over {}",
            plural(limits.backtest_candles, "candle", "candles")
        ),
        plural(limits.backtests_per_hour, "backtest an hour", "backtests an hour"),
        format!(
            "{} ({}), by email and browser push{}",
            plural(limits.alerts, "active alert", "active alerts"),
            plural(limits.alert_firings_per_day, "firing a day", "firings a day"),
            if limits.webhooks {
                " and signed webhooks"
            } else {
                ""
            }
        ),
    ]
}

/// "1 saved script", "2,000 candles of history".
pub fn plural(count: u32, one: &str, many: &str) -> String {
    format!(
        "{} {}",
        group_thousands(count),
        if count == 1 { one } else { many }
    )
}

/// "2,000": a count with thousands separated.
pub fn group_thousands(count: u32) -> String {
    crate::markets::group_thousands(&count.to_string())
}

/// "1 s", "2.5 s", "500 ms": a CPU limit as people say it.
pub fn cpu_time(ms: u32) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        let seconds = format!("{:.2}", f64::from(ms) / 1000.0);
        format!("{} s", seconds.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// "$0": Free's price in Pro's currency, without cents.
pub fn free_price(currency: &str) -> String {
    format_money(0, currency).replacen(".00", "", 1)
}

/// How much cheaper a year is than twelve months, in whole per cent;
/// `None` when it is not cheaper or the two are not comparable.
pub fn yearly_saving_percent(monthly: &PriceView, yearly: &PriceView) -> Option<u32> {
    if monthly.currency != yearly.currency || monthly.amount <= 0 || yearly.amount < 0 {
        return None;
    }
    let twelve_months = i128::from(monthly.amount) * 12;
    let saved = twelve_months - i128::from(yearly.amount);
    if saved <= 0 {
        return None;
    }
    let percent = (saved * 100 + twelve_months / 2) / twelve_months;
    u32::try_from(percent).ok().filter(|percent| *percent > 0)
}

/// "or $190.00 / year — save 17%".
pub fn yearly_line(monthly: &PriceView, yearly: &PriceView) -> String {
    let price = format!(
        "or {} / {}",
        format_money(yearly.amount, &yearly.currency),
        yearly.cadence.unit()
    );
    match yearly_saving_percent(monthly, yearly) {
        Some(percent) => format!("{price} — save {percent}%"),
        None => price,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(cadence: Cadence, amount: i64) -> PriceView {
        PriceView {
            cadence,
            amount,
            currency: "usd".into(),
        }
    }

    #[test]
    fn a_year_saves_against_twelve_months() {
        let monthly = price(Cadence::Monthly, 1900);
        assert_eq!(
            yearly_saving_percent(&monthly, &price(Cadence::Yearly, 19_000)),
            Some(17)
        );
        assert_eq!(
            yearly_line(&monthly, &price(Cadence::Yearly, 19_000)),
            "or $190.00 / year — save 17%"
        );
        // Exactly twelve months, or dearer: no saving to speak of.
        assert_eq!(
            yearly_saving_percent(&monthly, &price(Cadence::Yearly, 22_800)),
            None
        );
        assert_eq!(
            yearly_saving_percent(&monthly, &price(Cadence::Yearly, 30_000)),
            None
        );
        assert_eq!(
            yearly_line(&monthly, &price(Cadence::Yearly, 22_800)),
            "or $228.00 / year"
        );
        // A saving under half a per cent rounds to nothing.
        assert_eq!(
            yearly_saving_percent(&monthly, &price(Cadence::Yearly, 22_790)),
            None
        );
        let euros = PriceView {
            currency: "eur".into(),
            ..price(Cadence::Yearly, 19_000)
        };
        assert_eq!(yearly_saving_percent(&monthly, &euros), None);
        assert_eq!(
            yearly_saving_percent(&price(Cadence::Monthly, 0), &price(Cadence::Yearly, 0)),
            None
        );
    }

    #[test]
    fn limits_read_as_sentences() {
        let free = Limits {
            scripts: 3,
            live_scripts: 1,
            watchlist: 10,
            history_candles: 2000,
            script_cpu_ms: 1000,
            runs_per_minute: 20,
            drawings: 50,
            backtest_candles: 2000,
            backtests_per_hour: 10,
            backtest_cpu_ms: 10_000,
            alerts: 5,
            alert_firings_per_day: 100,
            webhooks: false,
        };
        assert_eq!(
            limit_lines(&free),
            [
                "3 saved scripts",
                "1 script running live",
                "10 symbols on the watchlist",
                "2,000 candles of history",
                "1 s CPU per script run",
                "20 script runs a minute",
                "50 drawings",
                "Backtests over 2,000 candles",
                "10 backtests an hour",
                "5 active alerts (100 firings a day), by email and browser push",
            ]
        );
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(cpu_time(2500), "2.5 s");
        assert_eq!(cpu_time(250), "250 ms");
        assert_eq!(cpu_time(10_000), "10 s");
    }

    #[test]
    fn free_costs_nothing_in_pros_currency() {
        assert_eq!(free_price("usd"), "$0");
        assert_eq!(free_price("eur"), "€0");
        assert_eq!(free_price("chf"), "0 CHF");
        assert_eq!(free_price("jpy"), "¥0");
    }
}

#[cfg(all(test, feature = "ssr"))]
mod rendered {
    use super::*;
    use crate::account::Viewer;

    fn pricing(current: Option<PlanId>, billing_on: bool) -> Pricing {
        let limits = |scripts, watchlist| Limits {
            scripts,
            live_scripts: 1,
            watchlist,
            history_candles: 2000,
            script_cpu_ms: 1000,
            runs_per_minute: 20,
            drawings: 50,
            backtest_candles: 2000,
            backtests_per_hour: 10,
            backtest_cpu_ms: 10_000,
            alerts: 5,
            alert_firings_per_day: 100,
            webhooks: false,
        };
        let price = |cadence, amount| PriceView {
            cadence,
            amount,
            currency: "usd".into(),
        };
        Pricing {
            billing_on,
            plans: vec![
                PlanView {
                    id: PlanId::Free,
                    limits: limits(3, 10),
                    prices: Vec::new(),
                },
                PlanView {
                    id: PlanId::Pro,
                    limits: limits(50, 100),
                    prices: vec![price(Cadence::Monthly, 1900), price(Cadence::Yearly, 19_000)],
                },
            ],
            current,
        }
    }

    fn session(signed_in: bool) -> PageSession {
        PageSession {
            viewer: signed_in.then(|| Viewer {
                email: "trader@example.com".into(),
                email_verified: true,
            }),
            csrf: "token123".into(),
            ..PageSession::default()
        }
    }

    fn render(pricing: Pricing, session: PageSession) -> String {
        let owner = Owner::new();
        owner.with(|| view! { <Plans pricing session /> }.to_html())
    }

    #[test]
    fn a_free_trader_gets_one_checkout_form_per_price() {
        let html = render(pricing(Some(PlanId::Free), true), session(true));
        assert_eq!(html.matches(r#"action="/billing/checkout""#).count(), 2, "{html}");
        assert!(html.contains(r#"name="csrf" value="token123""#), "{html}");
        assert!(html.contains(r#"name="price" value="monthly""#), "{html}");
        assert!(html.contains(r#"name="price" value="yearly""#), "{html}");
        assert!(html.contains("Upgrade — monthly") && html.contains("Upgrade — yearly"));
        assert!(html.contains("or $190.00 / year — save 17%"), "{html}");
        assert!(html.contains("$0") && html.contains("2,000 candles of history"));
        assert_eq!(html.matches("Your plan").count(), 1);
    }

    #[test]
    fn visitors_are_asked_to_sign_up_and_pro_traders_to_manage() {
        let visitor = render(pricing(None, true), session(false));
        assert!(!visitor.contains("/billing/checkout"), "{visitor}");
        assert!(visitor.contains(r#"href="/signup""#) && visitor.contains(r#"href="/login?next=/pricing""#));

        let pro = render(pricing(Some(PlanId::Pro), true), session(true));
        assert!(!pro.contains("/billing/checkout"), "{pro}");
        assert!(pro.contains("Manage billing") && pro.contains(r#"href="/billing""#));
    }

    #[test]
    fn billing_off_says_so_and_sells_nothing() {
        let html = render(pricing(Some(PlanId::Free), false), session(true));
        assert!(html.contains(BILLING_OFF), "{html}");
        assert!(!html.contains("/billing/checkout"), "{html}");
    }
}
