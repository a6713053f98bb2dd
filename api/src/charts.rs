//! What a trader keeps on their charts: drawings, which of their scripts
//! each chart shows, and a layout of several charts.

use serde::{Deserialize, Serialize};

use crate::market::{Interval, Symbol};
use crate::scripts::RunView;

/// The most points a drawing has (a trend line's two ends).
pub const MAX_DRAWING_POINTS: usize = 2;
/// The longest text note, in characters.
pub const MAX_NOTE: usize = 280;
/// The most charts on one page.
pub const MAX_LAYOUT_CHARTS: usize = 4;

/// One of the drawing tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrawingKind {
    /// A segment between two points.
    Trend,
    /// A level at one price across the chart.
    Horizontal,
    /// From a first point through a second one, on to the right edge.
    Ray,
    /// A box between two corners.
    Rectangle,
    /// Fibonacci retracement levels between two points.
    Fibonacci,
    /// A text note at a point.
    Note,
}

impl DrawingKind {
    /// How many points a drawing of this kind is made of.
    pub fn points(self) -> usize {
        match self {
            DrawingKind::Horizontal | DrawingKind::Note => 1,
            _ => 2,
        }
    }
}

/// A point of a drawing, anchored in time and price so that it stays put
/// on every interval of its symbol.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Anchor {
    /// Milliseconds since the Unix epoch.
    pub time: i64,
    pub price: f64,
}

/// A drawing on a symbol's charts. The browser names it (a UUID) when it
/// is drawn, so a visitor's drawings keep their names when they move to
/// the account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drawing {
    pub id: String,
    pub symbol: Symbol,
    pub kind: DrawingKind,
    pub points: Vec<Anchor>,
    /// A note's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A CSS colour as `#rrggbb`; the chart's accent when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// A change to one drawing, as `/ws` carries it to the trader's other tabs
/// and devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum DrawingChange {
    /// Drawn or changed.
    Put { drawing: Drawing },
    /// Deleted.
    Delete { symbol: Symbol, id: String },
}

/// The body of `GET /api/v1/drawings?symbol=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrawingList {
    pub drawings: Vec<Drawing>,
    /// How many drawings the plan keeps in all, and how many are kept.
    pub limit: u32,
    pub used: u32,
}

/// The body of `POST /api/v1/drawings/import`: a visitor's drawings,
/// moving to the account they just opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrawingImport {
    pub drawings: Vec<Drawing>,
}

/// The answer to an import: how many were kept, and how many did not fit
/// the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportOutcome {
    pub imported: u32,
    pub refused: u32,
}

/// One of the trader's scripts as a chart's layers menu lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    pub script_id: String,
    pub name: String,
    /// Whether it runs live on this series' closed candles.
    pub live: bool,
    /// Whether this chart shows its output.
    pub shown: bool,
    /// Its newest run on this series, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<Box<RunView>>,
}

/// The body of `GET /api/v1/chart/layers?symbol=&interval=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layers {
    pub symbol: Symbol,
    pub interval: Interval,
    pub layers: Vec<Layer>,
}

/// The body of `PUT /api/v1/chart/layers/{script_id}`: show or hide a
/// script's output on one series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerChoice {
    pub symbol: Symbol,
    pub interval: Interval,
    pub shown: bool,
}

/// One chart of a layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayoutChart {
    pub symbol: Symbol,
    pub interval: Interval,
}

/// Several charts on one page (`/charts`), kept per trader and in the
/// address so that it can be shared. `GET /api/v1/chart/layout` answers
/// the saved one, or `null` when the trader has saved none: the page then
/// shows the charts its address names, or one chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// 1, 2 or 4 charts.
    pub charts: Vec<LayoutChart>,
    /// The crosshair moves on every chart at once.
    #[serde(default)]
    pub sync_crosshair: bool,
    /// Scrolling and zooming one chart moves the others to the same time.
    #[serde(default)]
    pub sync_time: bool,
}

impl Layout {
    /// Whether the layout can be drawn: 1, 2 or 4 charts.
    pub fn is_valid(&self) -> bool {
        matches!(self.charts.len(), 1 | 2 | 4)
    }

    /// The layout as a query string value, `BTCUSDT:1h,ETHUSDT:15m`.
    pub fn charts_param(&self) -> String {
        self.charts
            .iter()
            .map(|c| format!("{}:{}", c.symbol, c.interval))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads [`Layout::charts_param`]'s form back; `None` when any part is
    /// not a symbol and interval or the count is not 1, 2 or 4.
    pub fn parse_charts(param: &str) -> Option<Vec<LayoutChart>> {
        let charts = param
            .split(',')
            .map(|part| {
                let (symbol, interval) = part.split_once(':')?;
                Some(LayoutChart {
                    symbol: Symbol::parse(symbol).ok()?,
                    interval: interval.parse().ok()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        matches!(charts.len(), 1 | 2 | 4).then_some(charts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_reads_back_from_its_address() {
        let layout = Layout {
            charts: Layout::parse_charts("BTCUSDT:1h,ETHUSDT:15m").unwrap(),
            sync_crosshair: true,
            sync_time: false,
        };
        assert_eq!(layout.charts_param(), "BTCUSDT:1h,ETHUSDT:15m");
        assert!(Layout::parse_charts("BTCUSDT:1h,ETHUSDT:15m,SOLUSDT:1d").is_none());
        assert!(Layout::parse_charts("BTCUSDT").is_none());
        assert!(Layout::parse_charts("BTCUSDT:7h").is_none());
    }

    #[test]
    fn drawing_changes_read_as_the_socket_sends_them() {
        let change: DrawingChange = serde_json::from_str(
            r#"{"op":"put","drawing":{"id":"d1","symbol":"BTCUSDT","kind":"fibonacci",
                "points":[{"time":1,"price":2.5},{"time":3,"price":4}]}}"#,
        )
        .unwrap();
        let DrawingChange::Put { drawing } = change else {
            panic!("a put")
        };
        assert_eq!(drawing.kind.points(), drawing.points.len());
    }
}
