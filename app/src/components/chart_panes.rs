//! What scripts draw and where: their markers and price-scale lines over
//! the candles, their oscillators in panes under them, and the trader's
//! choices about those panes (closed ones, heights, where volume goes),
//! kept in the browser so every chart of theirs opens the same way.

use std::collections::HashSet;

use chart_bridge::{Overlay, Pane, PaneLevel, PaneSeries, SeriesStyle, VolumeMode};
use serde::{Deserialize, Serialize};

use crate::scripts::{LineStyle, RunView, Side};

/// Line colours for lines that do not name one, readable on both themes.
pub const LINE_COLOURS: [&str; 6] = ["#0A84FF", "#FF9F0A", "#BF5AF2", "#64D2FF", "#FFD60A", "#FF375F"];

/// Where the volume bars go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Volume {
    /// Under the candles, on the price chart.
    #[default]
    Overlay,
    /// In a pane of its own.
    Pane,
    Hidden,
}

impl Volume {
    pub const ALL: [Volume; 3] = [Volume::Overlay, Volume::Pane, Volume::Hidden];

    /// Its name in the page and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Volume::Overlay => "overlay",
            Volume::Pane => "pane",
            Volume::Hidden => "hidden",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Volume::Overlay => "On the chart",
            Volume::Pane => "In its own pane",
            Volume::Hidden => "Hidden",
        }
    }

    pub fn mode(self) -> VolumeMode {
        match self {
            Volume::Overlay => VolumeMode::Overlay,
            Volume::Pane => VolumeMode::Pane,
            Volume::Hidden => VolumeMode::Hidden,
        }
    }
}

/// The name of the volume's own pane, as the chart reports it closed.
pub const VOLUME_PANE: &str = "Volume";

/// How the trader arranged the panes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaneView {
    /// Panes the trader closed, by name, until restored.
    #[serde(default)]
    pub closed: Vec<String>,
    /// Each pane's share of the chart's height, by name.
    #[serde(default)]
    pub heights: Vec<(String, f64)>,
    #[serde(default)]
    pub volume: Volume,
}

impl PaneView {
    /// Where the browser keeps it.
    pub const STORAGE_KEY: &'static str = "inchart.chart.panes";

    /// Closes a pane (the volume's pane hides the volume).
    pub fn close(&mut self, name: &str) {
        if name == VOLUME_PANE {
            self.volume = Volume::Hidden;
        } else if !self.closed.iter().any(|closed| closed == name) {
            self.closed.push(name.to_string());
        }
    }

    /// Remembers new heights, keeping those of panes not on screen now.
    pub fn remember_heights(&mut self, heights: Vec<(String, f64)>) {
        for (name, share) in heights {
            match self.heights.iter_mut().find(|(known, _)| *known == name) {
                Some(entry) => entry.1 = share,
                None => self.heights.push((name, share)),
            }
        }
    }
}

/// The trader's arrangement of panes, read from the browser and kept
/// there at every change.
pub fn pane_view() -> leptos::prelude::RwSignal<PaneView> {
    use leptos::prelude::*;

    let view = RwSignal::new(PaneView::default());
    #[cfg(feature = "hydrate")]
    {
        if let Some(saved) = crate::browser_store::read::<PaneView>(PaneView::STORAGE_KEY) {
            view.set(saved);
        }
        Effect::new(move |previous: Option<()>| {
            view.with(|view| {
                if previous.is_some() {
                    crate::browser_store::write(PaneView::STORAGE_KEY, view);
                }
            });
        });
    }
    view
}

/// Everything the scripts' runs put on a chart.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Drawn {
    /// Over the candles: lines on the price scale and markers.
    pub overlays: Vec<Overlay>,
    /// Under the candles, each with its own scale.
    pub panes: Vec<Pane>,
    /// Levels on the price scale.
    pub price_levels: Vec<PaneLevel>,
}

/// What `runs` (each with its script's name) draw, leaving out the panes
/// in `closed`.
pub fn drawn_of(runs: &[(String, RunView)], closed: &HashSet<String>) -> Drawn {
    let mut drawn = Drawn::default();
    let mut colour = 0;
    let mut next_colour = || {
        colour += 1;
        LINE_COLOURS[(colour - 1) % LINE_COLOURS.len()].to_string()
    };
    for (name, run) in runs {
        let Ok(output) = &run.result else { continue };
        for line in &output.lines {
            let color = line.color.clone().unwrap_or_else(&mut next_colour);
            match &line.pane {
                None => drawn.overlays.push(Overlay {
                    name: line.name.clone(),
                    kind: "Spline".into(),
                    rows: line.points.iter().map(|&(t, v)| vec![t as f64, v]).collect(),
                    labels: Vec::new(),
                    settings_json: serde_json::json!({ "color": color, "lineWidth": 1.5 }).to_string(),
                }),
                Some(pane) if closed.contains(pane) => {}
                Some(pane) => pane_named(&mut drawn.panes, pane).series.push(PaneSeries {
                    name: line.name.clone(),
                    style: match line.style {
                        LineStyle::Line => SeriesStyle::Line,
                        LineStyle::Histogram => SeriesStyle::Histogram,
                    },
                    color,
                    points: line.points.clone(),
                }),
            }
        }
        for level in &output.levels {
            let drawn_level = PaneLevel {
                name: level.name.clone(),
                value: level.value,
                color: level.color.clone(),
            };
            match &level.pane {
                None => drawn.price_levels.push(drawn_level),
                Some(pane) if closed.contains(pane) => {}
                Some(pane) => pane_named(&mut drawn.panes, pane).levels.push(drawn_level),
            }
        }
        if !output.markers.is_empty() {
            drawn.overlays.push(Overlay {
                name: name.clone(),
                kind: "Trades".into(),
                rows: output
                    .markers
                    .iter()
                    .map(|m| {
                        let side = if m.side == Side::Buy { 1.0 } else { 0.0 };
                        vec![m.time as f64, side, m.price]
                    })
                    .collect(),
                labels: output.markers.iter().map(|m| m.label.clone()).collect(),
                settings_json: serde_json::json!({
                    "showLabel": true,
                    "buyColor": "#30D158",
                    "sellColor": "#FF453A",
                    "markerSize": 6,
                })
                .to_string(),
            });
        }
    }
    drawn
}

/// The pane called `name`, added after the others when new: lines of
/// several scripts naming the same pane share it.
fn pane_named<'a>(panes: &'a mut Vec<Pane>, name: &str) -> &'a mut Pane {
    let index = match panes.iter().position(|pane| pane.name == name) {
        Some(index) => index,
        None => {
            panes.push(Pane {
                name: name.to_string(),
                series: Vec::new(),
                levels: Vec::new(),
            });
            panes.len() - 1
        }
    };
    &mut panes[index]
}

#[cfg(test)]
mod tests {
    use inchart_api::market::{Interval, Symbol};
    use inchart_api::scripts::{Level, Line, Marker, Output, Trigger};

    use super::*;

    fn run(output: Output) -> RunView {
        RunView {
            id: "r".into(),
            script_id: "s".into(),
            version: 1,
            symbol: Symbol::parse("BTCUSDT").unwrap(),
            interval: Interval::H1,
            trigger: Trigger::Live,
            first_candle: None,
            last_candle: None,
            candles: 3,
            result: Ok(output),
            log: String::new(),
            cpu_ms: 0,
            wall_ms: 0,
            created_at: 0,
        }
    }

    fn line(name: &str, pane: Option<&str>, style: LineStyle) -> Line {
        Line {
            name: name.into(),
            color: None,
            points: vec![(1, 50.0), (2, 60.0)],
            pane: pane.map(str::to_string),
            style,
        }
    }

    fn level(name: &str, value: f64, pane: Option<&str>) -> Level {
        Level {
            name: name.into(),
            value,
            pane: pane.map(str::to_string),
            color: None,
        }
    }

    #[test]
    fn an_rsi_goes_to_its_own_pane_with_its_levels_and_an_average_stays_on_the_candles() {
        let rsi = run(Output {
            markers: vec![Marker {
                time: 2,
                side: Side::Buy,
                price: 59_000.0,
                label: None,
            }],
            lines: vec![
                line("SMA 9", None, LineStyle::Line),
                line("RSI 14", Some("RSI"), LineStyle::Line),
            ],
            levels: vec![
                level("Overbought", 70.0, Some("RSI")),
                level("Oversold", 30.0, Some("RSI")),
            ],
        });
        let drawn = drawn_of(&[("RSI cross".into(), rsi)], &HashSet::new());
        let kinds: Vec<_> = drawn.overlays.iter().map(|o| o.kind.as_str()).collect();
        assert_eq!(kinds, ["Spline", "Trades"]);
        assert_eq!(drawn.panes.len(), 1);
        let pane = &drawn.panes[0];
        assert_eq!(pane.name, "RSI");
        assert_eq!(pane.series[0].name, "RSI 14");
        assert_eq!(
            pane.levels.iter().map(|l| l.value).collect::<Vec<_>>(),
            [70.0, 30.0]
        );
        assert!(drawn.price_levels.is_empty());
    }

    #[test]
    fn lines_naming_one_pane_share_it_across_scripts_and_closed_panes_are_left_out() {
        let macd = run(Output {
            markers: Vec::new(),
            lines: vec![
                line("MACD", Some("MACD"), LineStyle::Line),
                line("Histogram", Some("MACD"), LineStyle::Histogram),
            ],
            levels: vec![level("Zero", 0.0, None)],
        });
        let other = run(Output {
            markers: Vec::new(),
            lines: vec![
                line("Signal", Some("MACD"), LineStyle::Line),
                line("RSI", Some("RSI"), LineStyle::Line),
            ],
            levels: Vec::new(),
        });
        let runs = [("a".to_string(), macd), ("b".to_string(), other)];
        let drawn = drawn_of(&runs, &HashSet::new());
        assert_eq!(
            drawn.panes.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["MACD", "RSI"]
        );
        assert_eq!(drawn.panes[0].series.len(), 3);
        assert_eq!(drawn.panes[0].series[1].style, SeriesStyle::Histogram);
        assert_eq!(drawn.price_levels.len(), 1);

        let closed = HashSet::from(["MACD".to_string()]);
        let drawn = drawn_of(&runs, &closed);
        assert_eq!(
            drawn.panes.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["RSI"]
        );
    }

    #[test]
    fn closing_the_volume_pane_hides_the_volume_and_heights_are_merged() {
        let mut view = PaneView {
            volume: Volume::Pane,
            ..PaneView::default()
        };
        view.close(VOLUME_PANE);
        view.close("RSI");
        view.close("RSI");
        assert_eq!(view.volume, Volume::Hidden);
        assert_eq!(view.closed, ["RSI"]);
        view.remember_heights(vec![("RSI".into(), 0.2), ("MACD".into(), 0.25)]);
        view.remember_heights(vec![("RSI".into(), 0.3)]);
        assert_eq!(
            view.heights,
            [("RSI".to_string(), 0.3), ("MACD".to_string(), 0.25)]
        );
    }
}
