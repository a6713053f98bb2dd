//! The trader's charts: drawings (kept per symbol, shown on every
//! interval of it, synchronised to the trader's other tabs and devices)
//! and the layout of several charts. Which scripts a chart shows is the
//! scripts domain's ([`crate::scripts::layers`]), since it reads scripts.
//!
//! Policy: a drawing is checked whole before it is stored (its kind's
//! number of points, finite prices at sane times, a note's text, a
//! `#rrggbb` colour, a carried symbol); the plan limits how many an
//! account keeps ([`Action::Draw`], counted in the store's transaction);
//! another user's drawing is, to anyone else, one that does not exist;
//! every change that is stored is sent to all of the user's `/ws`
//! connections, on every instance, through the
//! [per-user bus](crate::platform::user_bus).

pub mod entity;
pub mod handlers;
pub mod store;

use inchart_api::charts::{
    Drawing, DrawingChange, DrawingKind, DrawingList, ImportOutcome, Layout, MAX_NOTE,
};
use inchart_api::stream::ServerMessage;
use uuid::Uuid;

use crate::market::Symbols;
use crate::plans::{Action, Plans};
use crate::platform::clock::now_ms;
use crate::platform::user_bus::{UserBus, UserFrame, UserRoute};
use crate::web::ApiError;
use store::{ChartStore, Put};

/// The most drawings one import carries.
pub const MAX_IMPORT: usize = 500;
/// The earliest time a drawing's point may have: 2000-01-01.
pub const EARLIEST_POINT: i64 = 946_684_800_000;
/// The latest: 2100-01-01 (a ray or a box may reach into the future).
pub const LATEST_POINT: i64 = 4_102_444_800_000;

/// Everything the chart endpoints need, cloned cheaply per request.
#[derive(Clone)]
pub struct Charts {
    store: ChartStore,
    plans: Plans,
    symbols: Symbols,
    bus: UserBus,
}

/// What was done to a drawing put.
pub enum Drawn {
    Created(Drawing),
    Updated(Drawing),
}

fn not_found() -> ApiError {
    ApiError::NotFound("There is no such drawing in your account.".into())
}

/// A drawing's id, as a path or a body names it.
fn drawing_id(raw: &str) -> Option<Uuid> {
    Uuid::parse_str(raw).ok()
}

impl Charts {
    pub fn new(store: ChartStore, plans: Plans, symbols: Symbols, bus: UserBus) -> Self {
        Self {
            store,
            plans,
            symbols,
            bus,
        }
    }

    /// The user's drawings on a carried symbol, with the plan's limit and
    /// how many they keep in all.
    pub async fn drawings(&self, user: Uuid, symbol: &str) -> Result<DrawingList, ApiError> {
        let symbol = self.symbols.carried(symbol, "symbol")?;
        let limit = self.plans.limits_of(Some(user)).await?.drawings;
        Ok(DrawingList {
            drawings: self.store.drawings(user, &symbol).await?,
            limit,
            used: self.store.count(user).await?,
        })
    }

    /// How many drawings the user keeps.
    pub async fn count(&self, user: Uuid) -> anyhow::Result<u32> {
        self.store.count(user).await
    }

    /// Draws or changes a drawing named `id` (the path's); a new one
    /// within the plan's limit.
    pub async fn put(&self, user: Uuid, id: &str, drawing: Drawing) -> Result<Drawn, ApiError> {
        let path_id = drawing_id(id).ok_or_else(not_found)?;
        let (body_id, drawing) = self.check(drawing)?;
        if body_id != path_id {
            return Err(ApiError::invalid(
                "id",
                "The drawing's id is not the one in the address.",
            ));
        }
        let allowance = self.plans.check(Some(user), Action::Draw).await?;
        let drawn = match self
            .store
            .put(user, path_id, drawing.clone(), allowance.limit, now_ms())
            .await?
        {
            Put::Created => Drawn::Created(drawing.clone()),
            Put::Updated => Drawn::Updated(drawing.clone()),
            Put::NotYours => return Err(not_found()),
            Put::OtherSymbol => {
                return Err(ApiError::invalid(
                    "symbol",
                    "A drawing stays on its symbol; draw a new one there.",
                ));
            }
            Put::Full => return Err(allowance.refused()),
        };
        self.tell(user, DrawingChange::Put { drawing }).await;
        Ok(drawn)
    }

    /// Deletes the user's drawing.
    pub async fn delete(&self, user: Uuid, id: &str) -> Result<(), ApiError> {
        let id = drawing_id(id).ok_or_else(not_found)?;
        let symbol = self.store.delete(user, id).await?.ok_or_else(not_found)?;
        self.tell(
            user,
            DrawingChange::Delete {
                symbol,
                id: id.to_string(),
            },
        )
        .await;
        Ok(())
    }

    /// Keeps a visitor's drawings in the account they just opened: those
    /// that are whole and fit the plan; the rest (a drawing this server
    /// cannot read, as an older page may have kept, included) are counted
    /// as refused.
    pub async fn import(
        &self,
        user: Uuid,
        drawings: Vec<serde_json::Value>,
    ) -> Result<ImportOutcome, ApiError> {
        if drawings.len() > MAX_IMPORT {
            return Err(ApiError::invalid(
                "drawings",
                format!("An import carries at most {MAX_IMPORT} drawings."),
            ));
        }
        let offered = drawings.len() as u32;
        let checked: Vec<(Uuid, Drawing)> = drawings
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Drawing>(value).ok())
            .filter_map(|drawing| self.check(drawing).ok())
            .collect();
        let allowance = self.plans.check(Some(user), Action::Draw).await?;
        let kept = self
            .store
            .import(user, checked, allowance.limit, now_ms())
            .await?;
        let imported = kept.len() as u32;
        for drawing in kept {
            self.tell(user, DrawingChange::Put { drawing }).await;
        }
        Ok(ImportOutcome {
            imported,
            refused: offered - imported,
        })
    }

    /// The user's saved layout; `None` when they have not saved one.
    pub async fn layout(&self, user: Uuid) -> Result<Option<Layout>, ApiError> {
        Ok(self.store.layout(user).await?)
    }

    /// Saves the user's layout: 1, 2 or 4 charts of carried symbols.
    pub async fn set_layout(&self, user: Uuid, layout: Layout) -> Result<(), ApiError> {
        if !layout.is_valid() {
            return Err(ApiError::invalid("charts", "A layout holds 1, 2 or 4 charts."));
        }
        for chart in &layout.charts {
            self.symbols.check(chart.symbol.clone(), "charts")?;
        }
        Ok(self.store.set_layout(user, &layout, now_ms()).await?)
    }

    /// A drawing checked whole, with its id; its note trimmed.
    fn check(&self, mut drawing: Drawing) -> Result<(Uuid, Drawing), ApiError> {
        let id =
            drawing_id(&drawing.id).ok_or_else(|| ApiError::invalid("id", "A drawing's id is a UUID."))?;
        drawing.id = id.to_string();
        drawing.symbol = self.symbols.check(drawing.symbol, "symbol")?;
        check_shape(&mut drawing)?;
        Ok((id, drawing))
    }

    /// Sends a stored change to the user's connections; a change that does
    /// not reach them is logged, not the request's failure (it is stored,
    /// and the other tabs read it when they reload).
    async fn tell(&self, user: Uuid, change: DrawingChange) {
        let topic = match &change {
            DrawingChange::Put { drawing } => format!("drawing:{}", drawing.id),
            DrawingChange::Delete { id, .. } => format!("drawing:{id}"),
        };
        let frame = match serde_json::to_string(&ServerMessage::Drawing { change }) {
            Ok(frame) => frame,
            Err(error) => {
                tracing::error!(%error, "a drawing change could not be encoded");
                return;
            }
        };
        let frame = UserFrame {
            route: UserRoute {
                user,
                series: None,
                topic,
            },
            frame: frame.into(),
        };
        if let Err(error) = self.bus.publish(frame).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "a drawing change was not sent to the user's tabs"
            );
        }
    }
}

/// Checks a drawing's points, text and colour, whatever its symbol.
fn check_shape(drawing: &mut Drawing) -> Result<(), ApiError> {
    let wanted = drawing.kind.points();
    if drawing.points.len() != wanted {
        let points = if wanted == 1 { "one point" } else { "two points" };
        return Err(ApiError::invalid(
            "points",
            format!("A {} is drawn through {points}.", kind_words(drawing.kind)),
        ));
    }
    for point in &drawing.points {
        if !point.price.is_finite() {
            return Err(ApiError::invalid("points", "A point's price is a finite number."));
        }
        if !(EARLIEST_POINT..LATEST_POINT).contains(&point.time) {
            return Err(ApiError::invalid(
                "points",
                "A point's time is between the years 2000 and 2100, in milliseconds.",
            ));
        }
    }
    match (drawing.kind, drawing.text.as_deref()) {
        (DrawingKind::Note, None) => return Err(ApiError::invalid("text", "A note needs its text.")),
        (DrawingKind::Note, Some(text)) => {
            let text = text.trim();
            if text.is_empty() {
                return Err(ApiError::invalid("text", "A note needs its text."));
            }
            if text.chars().count() > MAX_NOTE {
                return Err(ApiError::invalid(
                    "text",
                    format!("A note holds at most {MAX_NOTE} characters."),
                ));
            }
            if text.chars().any(char::is_control) {
                return Err(ApiError::invalid(
                    "text",
                    "A note is one line of text, without control characters.",
                ));
            }
            drawing.text = Some(text.to_string());
        }
        (_, Some(_)) => return Err(ApiError::invalid("text", "Only a note has text.")),
        (_, None) => {}
    }
    if let Some(color) = &drawing.color
        && !is_hex_colour(color)
    {
        return Err(ApiError::invalid("color", "A colour is written #rrggbb."));
    }
    Ok(())
}

fn is_hex_colour(color: &str) -> bool {
    color.len() == 7 && color.starts_with('#') && color[1..].chars().all(|c| c.is_ascii_hexdigit())
}

fn kind_words(kind: DrawingKind) -> &'static str {
    match kind {
        DrawingKind::Trend => "trend line",
        DrawingKind::Horizontal => "horizontal line",
        DrawingKind::Ray => "ray",
        DrawingKind::Rectangle => "rectangle",
        DrawingKind::Fibonacci => "Fibonacci retracement",
        DrawingKind::Note => "note",
    }
}

#[cfg(test)]
mod tests {
    use inchart_api::charts::Anchor;
    use inchart_api::market::Symbol;

    use super::*;

    fn note(text: &str) -> Drawing {
        Drawing {
            id: Uuid::new_v4().to_string(),
            symbol: Symbol::parse("BTCUSDT").unwrap(),
            kind: DrawingKind::Note,
            points: vec![Anchor {
                time: 1_714_521_600_000,
                price: 60_000.0,
            }],
            text: Some(text.into()),
            color: Some("#FFaa00".into()),
        }
    }

    fn field(result: Result<(), ApiError>) -> &'static str {
        match result {
            Err(ApiError::InvalidParameter { field, .. }) => field,
            Err(other) => panic!("not a 400: {other:?}"),
            Ok(()) => "ok",
        }
    }

    #[test]
    fn a_drawing_is_checked_whole() {
        let mut good = note("  support here  ");
        assert_eq!(field(check_shape(&mut good)), "ok");
        assert_eq!(good.text.as_deref(), Some("support here"));

        let mut cases: Vec<(Drawing, &str)> = Vec::new();
        let mut two = note("x");
        two.points.push(two.points[0]);
        cases.push((two, "points"));
        let mut nan = note("x");
        nan.points[0].price = f64::NAN;
        cases.push((nan, "points"));
        let mut ancient = note("x");
        ancient.points[0].time = 1_000;
        cases.push((ancient, "points"));
        cases.push((note("   "), "text"));
        cases.push((note(&"x".repeat(MAX_NOTE + 1)), "text"));
        cases.push((note("two\nlines"), "text"));
        let mut trend_text = note("x");
        trend_text.kind = DrawingKind::Horizontal;
        cases.push((trend_text, "text"));
        let mut red = note("x");
        red.color = Some("red".into());
        cases.push((red, "color"));
        let mut short = note("x");
        short.color = Some("#fff".into());
        cases.push((short, "color"));
        for (mut drawing, wanted) in cases {
            assert_eq!(field(check_shape(&mut drawing)), wanted, "{drawing:?}");
        }
        // The most a note holds is fine, counted in characters.
        assert_eq!(field(check_shape(&mut note(&"é".repeat(MAX_NOTE)))), "ok");
    }
}
