//! A run's payload: its mode, the script and its candles, the part of a
//! job that only the run's own child ever reads.
//!
//! ```text
//! mode | u32 source length | source (UTF-8) | u32 n | time: n × i64 | open, high, low, close, volume: n × f64
//!
//! mode: u8 0                                  a chart run
//!       u8 1 | u32 window | u32 confirm_max   a backtest (window ≥ 1)
//! ```
//!
//! All numbers little-endian. Columns are laid out as the child hands
//! them to Python (`numpy.frombuffer`), so reading them copies nothing.
//! A payload is at most [`MAX_PAYLOAD`] bytes.

use crate::{Columns, FrameError, MAX_PAYLOAD, Mode};

const CHART: u8 = 0;
const BACKTEST: u8 = 1;

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed payload: {0}")]
pub struct PayloadError(&'static str);

/// Encodes `mode`, `source` and `candles`. Columns of different lengths
/// and a backtest without a window are the caller's bug and are refused,
/// as is a payload over [`MAX_PAYLOAD`].
pub fn encode(mode: Mode, source: &str, candles: &Columns) -> Result<Vec<u8>, FrameError> {
    if !candles.is_rectangular() {
        return Err(FrameError::Ragged);
    }
    let n = candles.len();
    let len = 9 + 8 + source.len() + n * 48;
    if len > MAX_PAYLOAD {
        return Err(FrameError::PayloadTooLarge(len));
    }
    let mut out = Vec::with_capacity(len);
    match mode {
        Mode::Chart => out.push(CHART),
        Mode::Backtest { window: 0, .. } => return Err(FrameError::EmptyWindow),
        Mode::Backtest { window, confirm_max } => {
            out.push(BACKTEST);
            out.extend_from_slice(&window.to_le_bytes());
            out.extend_from_slice(&confirm_max.to_le_bytes());
        }
    }
    out.extend_from_slice(&(source.len() as u32).to_le_bytes());
    out.extend_from_slice(source.as_bytes());
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.extend(candles.time.iter().flat_map(|t| t.to_le_bytes()));
    for column in [
        &candles.open,
        &candles.high,
        &candles.low,
        &candles.close,
        &candles.volume,
    ] {
        out.extend(column.iter().flat_map(|v| v.to_le_bytes()));
    }
    Ok(out)
}

/// A payload read in place.
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a> {
    pub mode: Mode,
    pub source: &'a str,
    /// time, open, high, low, close, volume: `8 × len` bytes each.
    pub columns: [&'a [u8]; 6],
    pub len: usize,
}

/// Reads a payload; every length must add up to exactly `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Payload<'_>, PayloadError> {
    let mut rest = bytes;
    let mut take = |n: usize, what: &'static str| -> Result<&[u8], PayloadError> {
        if rest.len() < n {
            return Err(PayloadError(what));
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let u32_le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let u32_at = |b: &[u8]| u32_le(b) as usize;
    let mode = match take(1, "no mode")?[0] {
        CHART => Mode::Chart,
        BACKTEST => {
            let window = u32_le(take(4, "no window")?);
            let confirm_max = u32_le(take(4, "no re-check budget")?);
            if window == 0 {
                return Err(PayloadError("a backtest without a window"));
            }
            Mode::Backtest { window, confirm_max }
        }
        _ => return Err(PayloadError("an unknown mode")),
    };
    let source_len = u32_at(take(4, "no source length")?);
    let source = std::str::from_utf8(take(source_len, "the source is cut short")?)
        .map_err(|_| PayloadError("the source is not UTF-8"))?;
    let len = u32_at(take(4, "no candle count")?);
    let column_bytes = len.checked_mul(8).ok_or(PayloadError("too many candles"))?;
    let mut columns = [&[][..]; 6];
    for column in &mut columns {
        *column = take(column_bytes, "the candle columns are cut short")?;
    }
    if !rest.is_empty() {
        return Err(PayloadError("bytes after the candles"));
    }
    Ok(Payload {
        mode,
        source,
        columns,
        len,
    })
}

impl Payload<'_> {
    /// The candles as columns.
    pub fn candles(&self) -> Columns {
        let floats = |b: &[u8]| -> Vec<f64> {
            b.chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect()
        };
        Columns {
            time: self.columns[0]
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
            open: floats(self.columns[1]),
            high: floats(self.columns[2]),
            low: floats(self.columns[3]),
            close: floats(self.columns[4]),
            volume: floats(self.columns[5]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candles() -> Columns {
        Columns {
            time: vec![1, 2],
            open: vec![1.5, 2.5],
            high: vec![2.0, 3.0],
            low: vec![1.0, 2.0],
            close: vec![1.75, -0.0],
            volume: vec![10.0, f64::MAX],
        }
    }

    #[test]
    fn payloads_round_trip_and_refuse_anything_that_does_not_add_up() {
        let bytes = encode(Mode::Chart, "def signals(c): é", &candles()).unwrap();
        let payload = decode(&bytes).unwrap();
        assert_eq!(payload.mode, Mode::Chart);
        assert_eq!(payload.source, "def signals(c): é");
        assert_eq!(payload.len, 2);
        assert_eq!(payload.candles(), candles());

        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        let mut huge = bytes.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).is_err());
        assert!(decode(&[]).is_err());
        let mut unknown = bytes.clone();
        unknown[0] = 2;
        assert!(decode(&unknown).is_err());

        let mut ragged = candles();
        ragged.close.pop();
        assert!(matches!(
            encode(Mode::Chart, "", &ragged),
            Err(FrameError::Ragged)
        ));
    }

    #[test]
    fn a_backtest_carries_its_window_and_re_check_budget() {
        let mode = Mode::Backtest {
            window: 1000,
            confirm_max: 2000,
        };
        let bytes = encode(mode, "src", &candles()).unwrap();
        let payload = decode(&bytes).unwrap();
        assert_eq!((payload.mode, payload.source, payload.len), (mode, "src", 2));
        assert_eq!(payload.candles(), candles());
        assert!(decode(&bytes[..6]).is_err());

        let mut no_window = bytes.clone();
        no_window[1..5].copy_from_slice(&0u32.to_le_bytes());
        assert!(decode(&no_window).is_err());
        let empty = Mode::Backtest {
            window: 0,
            confirm_max: 1,
        };
        assert!(matches!(
            encode(empty, "", &candles()),
            Err(FrameError::EmptyWindow)
        ));
    }

    #[test]
    fn a_payload_holds_over_a_million_candles_but_not_without_bound() {
        const { assert!(9 + 8 + 1_500_000 * 48 < MAX_PAYLOAD) };
        const { assert!(MAX_PAYLOAD <= u32::MAX as usize) };
        let n = MAX_PAYLOAD / 48 + 1;
        let too_many = Columns {
            time: vec![0; n],
            open: vec![0.0; n],
            high: vec![0.0; n],
            low: vec![0.0; n],
            close: vec![0.0; n],
            volume: vec![0.0; n],
        };
        assert!(matches!(
            encode(Mode::Chart, "", &too_many),
            Err(FrameError::PayloadTooLarge(_))
        ));
    }
}
