//! A run's payload: the script and its candles, the part of a job that
//! only the run's own child ever reads.
//!
//! ```text
//! u32 source length | source (UTF-8) | u32 n | time: n × i64 | open, high, low, close, volume: n × f64
//! ```
//!
//! All numbers little-endian. Columns are laid out as the child hands
//! them to Python (`numpy.frombuffer`), so reading them copies nothing.

use crate::{Columns, FrameError, MAX_FRAME};

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed payload: {0}")]
pub struct PayloadError(&'static str);

/// Encodes `source` and `candles`. Columns of different lengths are the
/// caller's bug and are refused, as is a payload over [`MAX_FRAME`].
pub fn encode(source: &str, candles: &Columns) -> Result<Vec<u8>, FrameError> {
    if !candles.is_rectangular() {
        return Err(FrameError::Ragged);
    }
    let n = candles.len();
    let len = 8 + source.len() + n * 48;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    let mut out = Vec::with_capacity(len);
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
    let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
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
    Ok(Payload { source, columns, len })
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
        let bytes = encode("def signals(c): é", &candles()).unwrap();
        let payload = decode(&bytes).unwrap();
        assert_eq!(payload.source, "def signals(c): é");
        assert_eq!(payload.len, 2);
        assert_eq!(payload.candles(), candles());

        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        let mut huge = bytes.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).is_err());
        assert!(decode(&[]).is_err());

        let mut ragged = candles();
        ragged.close.pop();
        assert!(matches!(encode("", &ragged), Err(FrameError::Ragged)));
    }
}
