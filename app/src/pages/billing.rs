//! `/billing`: the signed-in account's plan, its subscription's state, how
//! much of each limit it uses and its invoices. Cards, plan changes and
//! cancellation live in Stripe's customer portal ("Manage billing").
//! Signed out, it sends the visitor to log in and back.

use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::components::Redirect;

use crate::PageError;
use crate::account::PageSession;
use crate::billing::{
    BillingView, Cadence, InvoiceView, PlanId, SubscriptionStatus, SubscriptionView, format_money,
    get_billing,
};
use crate::components::account::{AccountForm, FlashNotice, page_session};
use crate::components::site::SiteHeader;
use crate::pages::account::format_day;
use crate::pages::pricing::{BILLING_OFF, cpu_time, group_thousands, plural};

#[component]
pub fn BillingPage() -> impl IntoView {
    let billing = Resource::new_blocking(|| (), |_| get_billing());
    view! {
        <Title text="Billing · InChart" />
        <Meta name="robots" content="noindex" />
        <SiteHeader current="billing" />
        <main class="page billing-page">
            <Suspense fallback=|| view! { <p class="muted" aria-busy="true">"Loading your plan…"</p> }>
                {move || Suspend::new(async move {
                    let session = page_session().await;
                    match billing.await {
                        Ok(Some(view)) => view! { <Billing view session /> }.into_any(),
                        Ok(None) => view! { <Redirect path="/login?next=/billing" /> }.into_any(),
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
    }
}

#[component]
fn Billing(view: BillingView, session: PageSession) -> impl IntoView {
    let manageable = view.can_manage && view.billing_on;
    let found = banners(&view);
    // One primary action: the banner's, when it has one.
    let banner_manages = manageable && found.iter().any(|banner| banner.action == BannerAction::Manage);
    let banners = found
        .into_iter()
        .map(|banner| {
            let action = match banner.action {
                BannerAction::Manage if manageable => {
                    Some(view! { <ManageForm session=session.clone() primary=true /> }.into_any())
                }
                BannerAction::Manage | BannerAction::None => None,
                BannerAction::Plans => Some(
                    view! { <a class="button small" href="/pricing" rel="external">"See plans"</a> }
                        .into_any(),
                ),
            };
            let role = if banner.tone == BannerTone::Warning {
                "alert"
            } else {
                "note"
            };
            view! {
                <div class=format!("banner {}", banner.tone.class()) role=role>
                    <p>{banner.message}</p>
                    {action}
                </div>
            }
        })
        .collect_view();
    view! {
        <h1>"Plan and billing"</h1>
        {banners}
        <FlashNotice session=session.clone() form="billing" errors=true />
        <PlanSummary view=view.clone() session=session.clone() manageable banner_manages />
        <UsageSection view=view.clone() />
        <Invoices invoices=view.invoices.clone() />
    }
    // Erased: the page's nested types are too deep for the compiler otherwise.
    .into_any()
}

/// The form that opens Stripe's customer portal. Named apart from the
/// page's `billing` notice, which shows a refusal carried here once.
#[component]
fn ManageForm(session: PageSession, #[prop(optional)] primary: bool) -> impl IntoView {
    view! {
        <AccountForm session name="portal" action="/billing/portal".to_string()
            submit="Manage billing" busy_label="Opening Stripe…" quiet=!primary />
    }
}

#[component]
fn PlanSummary(
    view: BillingView,
    session: PageSession,
    manageable: bool,
    banner_manages: bool,
) -> impl IntoView {
    let subscription = view.subscription.clone().map(|subscription| {
        let cadence = subscription.cadence.map(|cadence| match cadence {
            Cadence::Monthly => "Pro, billed monthly",
            Cadence::Yearly => "Pro, billed yearly",
        });
        let status_class = format!("badge status-{}", subscription.status.as_str().replace('_', "-"));
        view! {
            <p class="billing-status">
                <span class=status_class>{subscription.status.label()}</span>
                {cadence.map(|cadence| view! { <span class="muted">{cadence}</span> })}
            </p>
            {period_line(&subscription).map(|line| view! { <p class="billing-period">{line}</p> })}
        }
    });
    let upgrade = (view.plan == PlanId::Free && view.billing_on)
        .then(|| view! { <a class="button primary" href="/pricing" rel="external">"Upgrade to Pro"</a> });
    // Pro manages in the portal first; Free upgrades first.
    let primary = view.plan == PlanId::Pro && !banner_manages;
    let manage = manageable.then(|| view! { <ManageForm session primary /> });
    view! {
        <section class="billing-section" aria-labelledby="plan-heading">
            <h2 id="plan-heading">"Your plan"</h2>
            <p class="billing-plan">{view.plan.name()}</p>
            {subscription}
            {(view.plan == PlanId::Free && view.subscription.is_none()).then(|| view! {
                <p class="muted">"Free, for as long as you like."</p>
            })}
            <div class="billing-actions">{upgrade}{manage}</div>
        </section>
    }
    .into_any()
}

#[component]
fn UsageSection(view: BillingView) -> impl IntoView {
    let (usage, limits) = (view.usage, view.limits);
    let meters = [
        (usage.scripts, limits.scripts, "saved scripts"),
        (usage.live_scripts, limits.live_scripts, "running live"),
        (usage.watchlist, limits.watchlist, "watchlist symbols"),
        (usage.drawings, limits.drawings, "drawings"),
        (usage.alerts, limits.alerts, "active alerts"),
    ]
    .into_iter()
    .map(|(used, limit, what)| {
        let over = used > limit;
        let full = used >= limit;
        let text = format!("{} of {} {what}", group_thousands(used), group_thousands(limit));
        let width = format!("width: {}%", usage_percent(used, limit));
        view! {
            <li class="usage" class:full=full class:over=over>
                <span class="usage-text">
                    {text}
                    {over.then(|| view! { <span class="usage-over">" — over your plan's limit"</span> })}
                </span>
                <span class="usage-bar" aria-hidden="true"><span style=width></span></span>
            </li>
        }
    })
    .collect_view();
    let history = plural(limits.history_candles, "candle", "candles");
    view! {
        <section class="billing-section" aria-labelledby="usage-heading">
            <h2 id="usage-heading">"Usage"</h2>
            <ul class="usage-list">{meters}</ul>
            <p class="muted small">
                {format!(
                    "Charts and scripts read up to {history} of history. Each script run may use {} of CPU time, and you may start {} a minute. Backtests trade over up to {} and use up to {} of CPU time; you may start {} an hour. Alerts fire up to {} a day{}.",
                    cpu_time(limits.script_cpu_ms),
                    plural(limits.runs_per_minute, "run", "runs"),
                    plural(limits.backtest_candles, "candle", "candles"),
                    cpu_time(limits.backtest_cpu_ms),
                    plural(limits.backtests_per_hour, "backtest", "backtests"),
                    plural(limits.alert_firings_per_day, "time", "times"),
                    if limits.webhooks { ", by email, browser push and webhook" } else { ", by email and browser push (webhooks are on Pro)" },
                )}
            </p>
        </section>
    }
    .into_any()
}

#[component]
fn Invoices(mut invoices: Vec<InvoiceView>) -> impl IntoView {
    invoices.sort_by_key(|invoice| std::cmp::Reverse(invoice.created));
    let body = if invoices.is_empty() {
        view! { <p class="empty-state">"No invoices yet."</p> }.into_any()
    } else {
        let rows = invoices
            .into_iter()
            .map(|invoice| {
                let (class, label) = invoice_status(&invoice.status);
                let number = invoice.number.clone().unwrap_or_else(|| "—".to_string());
                let link = invoice.url.clone().map(|url| {
                    view! {
                        <a href=url target="_blank" rel="noopener">
                            "View"
                            <span class="visually-hidden">{format!(" invoice {number} (opens in a new tab)")}</span>
                        </a>
                    }
                });
                view! {
                    <tr>
                        <td>{format_day(invoice.created)}</td>
                        <td>{invoice.number.clone().unwrap_or_else(|| "—".to_string())}</td>
                        <td class="amount">{format_money(invoice.amount, &invoice.currency)}</td>
                        <td><span class=format!("badge invoice-status {class}")>{label}</span></td>
                        <td class="invoice-link">{link}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-scroll">
                <table class="invoices">
                    <caption class="visually-hidden">"Your invoices, newest first"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Date"</th>
                            <th scope="col">"Number"</th>
                            <th scope="col" class="amount">"Amount"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col"><span class="visually-hidden">"Invoice page"</span></th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <section class="billing-section" aria-labelledby="invoices-heading">
            <h2 id="invoices-heading">"Invoices"</h2>
            {body}
        </section>
    }
}

/// How loud a banner is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BannerTone {
    /// Something needs doing, or Pro is lost.
    Warning,
    /// How things stand.
    Info,
}

impl BannerTone {
    fn class(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }
}

/// What a banner offers to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BannerAction {
    None,
    /// Open Stripe's customer portal.
    Manage,
    /// Go to the pricing page.
    Plans,
}

/// A message at the top of the billing page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    pub tone: BannerTone,
    pub message: String,
    pub action: BannerAction,
}

/// The banners the billing page opens with: billing off, or what the
/// subscription's state asks of the trader.
pub fn banners(view: &BillingView) -> Vec<Banner> {
    let banner = |tone, message: &str, action| Banner {
        tone,
        message: message.to_string(),
        action,
    };
    if !view.billing_on {
        // Nothing can be paid or managed here: the rest would only confuse.
        return vec![banner(BannerTone::Info, BILLING_OFF, BannerAction::None)];
    }
    let Some(subscription) = &view.subscription else {
        return Vec::new();
    };
    let found = match subscription.status {
        SubscriptionStatus::PastDue => Some(banner(
            BannerTone::Warning,
            "Your last payment failed. Update your card in Manage billing to keep Pro.",
            BannerAction::Manage,
        )),
        SubscriptionStatus::Unpaid => Some(banner(
            BannerTone::Warning,
            "Your payments failed, so you are on Free. Update your card in Manage billing to get Pro back.",
            BannerAction::Manage,
        )),
        SubscriptionStatus::Incomplete => Some(banner(
            BannerTone::Info,
            "Your first payment is not complete yet; Pro starts as soon as it goes through.",
            BannerAction::Manage,
        )),
        SubscriptionStatus::Paused => Some(banner(
            BannerTone::Info,
            "Your Pro subscription is paused; you are on Free until it resumes.",
            BannerAction::Manage,
        )),
        SubscriptionStatus::IncompleteExpired if view.plan == PlanId::Free => Some(banner(
            BannerTone::Info,
            "Your upgrade was not paid in time, so you are on Free.",
            BannerAction::Plans,
        )),
        // Until Stripe's word reaches the account, the plan may still be Pro.
        SubscriptionStatus::Canceled if view.plan == PlanId::Free => Some(banner(
            BannerTone::Info,
            "Your Pro subscription has ended; you are on Free.",
            BannerAction::Plans,
        )),
        SubscriptionStatus::Active | SubscriptionStatus::Trialing if subscription.cancel_at_period_end => {
            subscription.current_period_end.map(|end| Banner {
                tone: BannerTone::Info,
                message: format!(
                    "Pro ends on {}. You can renew it in Manage billing.",
                    format_day(end)
                ),
                action: BannerAction::None,
            })
        }
        _ => None,
    };
    found.into_iter().collect()
}

/// "Renews on 2026-11-24", "Ends on …" or "Ended on …".
pub fn period_line(subscription: &SubscriptionView) -> Option<String> {
    if subscription.status == SubscriptionStatus::Canceled {
        let ended = subscription.ended_at.or(subscription.current_period_end)?;
        return Some(format!("Ended on {}", format_day(ended)));
    }
    if !subscription.status.grants_plan() {
        return None;
    }
    let end = subscription.current_period_end?;
    Some(if subscription.cancel_at_period_end {
        format!("Ends on {}", format_day(end))
    } else {
        format!("Renews on {}", format_day(end))
    })
}

/// How full a limit is, in per cent of the bar (0 to 100).
pub fn usage_percent(used: u32, limit: u32) -> u32 {
    if limit == 0 {
        return if used == 0 { 0 } else { 100 };
    }
    let percent = u64::from(used) * 100 / u64::from(limit);
    u32::try_from(percent.min(100)).unwrap_or(100)
}

/// The CSS class and the words of an invoice's status.
pub fn invoice_status(status: &str) -> (&'static str, String) {
    match status {
        "paid" => ("paid", "Paid".into()),
        "open" => ("open", "Open".into()),
        "void" => ("void", "Void".into()),
        "uncollectible" => ("uncollectible", "Uncollectible".into()),
        "draft" => ("draft", "Draft".into()),
        other => ("", other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::{Limits, Usage};

    const DAY: i64 = 86_400_000;

    fn subscription(status: SubscriptionStatus) -> SubscriptionView {
        SubscriptionView {
            status,
            cadence: Some(Cadence::Monthly),
            cancel_at_period_end: false,
            current_period_end: Some(20_000 * DAY),
            ended_at: None,
        }
    }

    fn view(plan: PlanId, subscription: Option<SubscriptionView>) -> BillingView {
        BillingView {
            billing_on: true,
            plan,
            limits: Limits {
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
            },
            usage: Usage::default(),
            subscription,
            invoices: Vec::new(),
            can_manage: true,
        }
    }

    #[test]
    fn the_period_says_renews_ends_or_ended() {
        let active = subscription(SubscriptionStatus::Active);
        assert_eq!(period_line(&active).as_deref(), Some("Renews on 2024-10-04"));
        let ending = SubscriptionView {
            cancel_at_period_end: true,
            ..active.clone()
        };
        assert_eq!(period_line(&ending).as_deref(), Some("Ends on 2024-10-04"));
        let ended = SubscriptionView {
            ended_at: Some(19_990 * DAY),
            ..subscription(SubscriptionStatus::Canceled)
        };
        assert_eq!(period_line(&ended).as_deref(), Some("Ended on 2024-09-24"));
        assert_eq!(period_line(&subscription(SubscriptionStatus::Unpaid)), None);
    }

    #[test]
    fn banners_follow_the_subscription() {
        let tones = |view: &BillingView| {
            banners(view)
                .into_iter()
                .map(|banner| (banner.tone, banner.message, banner.action))
                .collect::<Vec<_>>()
        };
        assert!(tones(&view(PlanId::Free, None)).is_empty());
        assert!(tones(&view(PlanId::Pro, Some(subscription(SubscriptionStatus::Active)))).is_empty());

        let past_due = tones(&view(
            PlanId::Pro,
            Some(subscription(SubscriptionStatus::PastDue)),
        ));
        assert_eq!(
            past_due,
            [(
                BannerTone::Warning,
                "Your last payment failed. Update your card in Manage billing to keep Pro.".to_string(),
                BannerAction::Manage
            )]
        );

        let canceled = tones(&view(
            PlanId::Free,
            Some(subscription(SubscriptionStatus::Canceled)),
        ));
        assert_eq!(
            canceled,
            [(
                BannerTone::Info,
                "Your Pro subscription has ended; you are on Free.".to_string(),
                BannerAction::Plans
            )]
        );

        let ending = SubscriptionView {
            cancel_at_period_end: true,
            ..subscription(SubscriptionStatus::Active)
        };
        assert_eq!(
            tones(&view(PlanId::Pro, Some(ending)))[0].1,
            "Pro ends on 2024-10-04. You can renew it in Manage billing."
        );

        let off = BillingView {
            billing_on: false,
            ..view(PlanId::Free, Some(subscription(SubscriptionStatus::PastDue)))
        };
        assert_eq!(
            tones(&off),
            [(BannerTone::Info, BILLING_OFF.to_string(), BannerAction::None)]
        );
    }

    #[test]
    fn meters_stay_within_their_bar() {
        assert_eq!(usage_percent(2, 3), 66);
        assert_eq!(usage_percent(0, 1), 0);
        assert_eq!(usage_percent(12, 10), 100);
        assert_eq!(usage_percent(0, 0), 0);
        assert_eq!(usage_percent(1, 0), 100);
    }

    #[test]
    fn invoice_statuses_have_words() {
        assert_eq!(invoice_status("paid"), ("paid", "Paid".to_string()));
        assert_eq!(invoice_status("uncollectible").1, "Uncollectible");
        assert_eq!(invoice_status("weird"), ("", "weird".to_string()));
    }
}

#[cfg(all(test, feature = "ssr"))]
mod rendered {
    use super::*;
    use crate::account::Viewer;
    use crate::billing::{Limits, Usage};

    fn pro(status: SubscriptionStatus, invoices: Vec<InvoiceView>) -> BillingView {
        BillingView {
            billing_on: true,
            plan: PlanId::Pro,
            limits: Limits {
                scripts: 50,
                live_scripts: 10,
                watchlist: 100,
                history_candles: 50_000,
                script_cpu_ms: 5000,
                runs_per_minute: 120,
                drawings: 2000,
                backtest_candles: 1_100_000,
                backtests_per_hour: 120,
                backtest_cpu_ms: 60_000,
                alerts: 500,
                alert_firings_per_day: 10_000,
                webhooks: true,
            },
            usage: Usage {
                scripts: 2,
                live_scripts: 0,
                watchlist: 4,
                drawings: 17,
                alerts: 3,
            },
            subscription: Some(SubscriptionView {
                status,
                cadence: Some(Cadence::Yearly),
                cancel_at_period_end: false,
                current_period_end: Some(20_000 * 86_400_000),
                ended_at: None,
            }),
            invoices,
            can_manage: true,
        }
    }

    fn render(view: BillingView) -> String {
        let session = PageSession {
            viewer: Some(Viewer {
                email: "trader@example.com".into(),
                email_verified: true,
            }),
            csrf: "token123".into(),
            ..PageSession::default()
        };
        let owner = Owner::new();
        owner.with(|| view! { <Billing view session /> }.to_html())
    }

    fn invoice(created: i64, number: &str, status: &str) -> InvoiceView {
        InvoiceView {
            number: Some(number.into()),
            created,
            amount: 19_000,
            currency: "usd".into(),
            status: status.into(),
            url: Some(format!("https://invoice.example/{number}")),
        }
    }

    #[test]
    fn a_pro_trader_sees_plan_usage_and_invoices_newest_first() {
        let html = render(pro(
            SubscriptionStatus::Active,
            vec![
                invoice(19_000 * 86_400_000, "INV-1", "paid"),
                invoice(19_365 * 86_400_000, "INV-2", "open"),
            ],
        ));
        assert!(html.contains("Renews on 2024-10-04"), "{html}");
        assert!(html.contains("Pro, billed yearly"), "{html}");
        assert!(html.contains("2 of 50 saved scripts") && html.contains("4 of 100 watchlist symbols"));
        assert!(html.contains("17 of 2,000 drawings"), "{html}");
        assert!(html.contains("50,000 candles of history") && html.contains("5 s of CPU time"));
        assert!(html.contains("you may start 120 runs a minute"), "{html}");
        assert!(html.contains(r#"action="/billing/portal""#) && html.contains(r#"value="token123""#));
        assert!(!html.contains("Upgrade to Pro"), "{html}");
        let (newer, older) = (html.find("INV-2"), html.find("INV-1"));
        assert!(newer < older, "{html}");
        assert!(html.contains("$190.00") && html.contains(r#"target="_blank""#));
        assert!(html.contains(r#"rel="noopener""#));
    }

    #[test]
    fn a_failed_payment_warns_with_the_way_to_fix_it() {
        let html = render(pro(SubscriptionStatus::PastDue, Vec::new()));
        assert!(html.contains("Your last payment failed."), "{html}");
        assert!(html.contains("No invoices yet."));
        // The banner's button and the plan's.
        assert_eq!(html.matches(r#"action="/billing/portal""#).count(), 2, "{html}");
    }

    #[test]
    fn a_free_trader_is_offered_pro() {
        let view = BillingView {
            plan: PlanId::Free,
            subscription: None,
            can_manage: false,
            ..pro(SubscriptionStatus::Active, Vec::new())
        };
        let html = render(view);
        assert!(
            html.contains("Upgrade to Pro") && html.contains(r#"href="/pricing""#),
            "{html}"
        );
        assert!(!html.contains("/billing/portal"), "{html}");
    }
}
