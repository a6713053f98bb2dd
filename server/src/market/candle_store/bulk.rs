//! Reads and writes of a million candles, each backend its fastest way
//! (measured: `candle_store::figures`, BENCHMARKS.md):
//!
//! - PostgreSQL reads with `COPY … TO STDOUT (FORMAT binary)`: rows arrive
//!   as fixed-width big-endian fields, decoded straight into the columns
//!   (about three times faster than decoding result rows). It writes a page
//!   with one `INSERT … SELECT … FROM UNNEST(arrays)`: seven array
//!   parameters instead of nine per candle.
//! - SQLite reads rows in key-ordered chunks ([`SQLITE_CHUNK`]) and writes
//!   multi-row `VALUES`, [`SQLITE_ROWS`] candles a statement.
//!
//! Both write with the store's one rule ([`super::ONLY_NEWER`]), and only
//! while the feed that fetched the page still owns the store (see
//! [`super::CandleStore::write_history`]).

use anyhow::{Context, bail, ensure};
use futures::TryStreamExt;
use inchart_api::market::{Candle, Interval, Symbol};
use sea_orm::sqlx::postgres::PgPoolCopyExt;
use sea_orm::sqlx::{self, PgPool, Row, SqlitePool};

use super::{CandleColumns, ONLY_NEWER};

/// Candles per SQLite `INSERT`: 10 parameters each stays far below
/// SQLite's bound-parameter limit (32766).
const SQLITE_ROWS: usize = 500;
/// Rows per SQLite read (about 10 MB of them while they are decoded).
const SQLITE_CHUNK: usize = 20_000;

/// `SET` of every candle column but the key, from the row that conflicted.
const UPDATE_CANDLE: &str = "\"open\" = \"excluded\".\"open\", \"high\" = \"excluded\".\"high\", \
     \"low\" = \"excluded\".\"low\", \"close\" = \"excluded\".\"close\", \
     \"volume\" = \"excluded\".\"volume\", \"trades\" = \"excluded\".\"trades\", \
     \"closed\" = \"excluded\".\"closed\"";

const INSERT_INTO: &str = "INSERT INTO \"candles\" (\"symbol\", \"interval\", \"open_time\", \"open\", \"high\", \
     \"low\", \"close\", \"volume\", \"trades\", \"closed\")";

/// Records where a series begins, in PostgreSQL's and SQLite's placeholders.
const LISTING: [&str; 2] = [
    "INSERT INTO \"candle_listings\" (\"symbol\", \"interval\", \"first_open_time\") VALUES ($1, $2, $3) \
     ON CONFLICT (\"symbol\", \"interval\") DO UPDATE SET \"first_open_time\" = \"excluded\".\"first_open_time\"",
    "INSERT INTO \"candle_listings\" (\"symbol\", \"interval\", \"first_open_time\") VALUES (?1, ?2, ?3) \
     ON CONFLICT (\"symbol\", \"interval\") DO UPDATE SET \"first_open_time\" = \"excluded\".\"first_open_time\"",
];

/// The feed's name as `market_feed` stores it.
pub(super) type FeedName = &'static str;

fn on_conflict() -> String {
    format!(
        "ON CONFLICT (\"symbol\", \"interval\", \"open_time\") DO UPDATE SET {UPDATE_CANDLE} WHERE {ONLY_NEWER}"
    )
}

/// Reads the columns of one series' range with a binary `COPY`.
pub(super) async fn postgres_columns(
    pool: &PgPool,
    symbol: &Symbol,
    interval: Interval,
    (from, to): (i64, i64),
    closed_only: bool,
    capacity: usize,
) -> anyhow::Result<CandleColumns> {
    // COPY takes no bound parameters: the values are written in. A symbol
    // is letters and digits only (`Symbol::parse`), an interval one of six
    // names, the times integers, so nothing here can leave its literal.
    let closed = if closed_only { " AND \"closed\"" } else { "" };
    let statement = format!(
        "COPY (SELECT \"open_time\", \"open\", \"high\", \"low\", \"close\", \"volume\" FROM \"candles\" \
         WHERE \"symbol\" = '{symbol}' AND \"interval\" = '{interval}' \
         AND \"open_time\" BETWEEN {from} AND {to}{closed} ORDER BY \"open_time\") \
         TO STDOUT (FORMAT binary)",
        symbol = symbol.as_str(),
        interval = interval.as_str(),
    );
    let mut stream = pool
        .copy_out_raw(&statement)
        .await
        .context("while starting to copy candles out")?;
    let mut decoder = CopyDecoder::new(capacity);
    while let Some(chunk) = stream.try_next().await.context("while copying candles out")? {
        decoder.feed(&chunk)?;
    }
    decoder.finish()
}

/// Decodes `COPY … (FORMAT binary)` of six `NOT NULL` 8-byte columns
/// (`bigint`, then five `double precision`) as it streams in.
struct CopyDecoder {
    pending: Vec<u8>,
    header_read: bool,
    ended: bool,
    columns: CandleColumns,
}

/// `PGCOPY\n\377\r\n\0`, then 32-bit flags and a 32-bit extension length.
const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
const FIELDS: usize = 6;
/// A row: a 16-bit field count, then per field a 32-bit length and 8 bytes.
const ROW_BYTES: usize = 2 + FIELDS * (4 + 8);

impl CopyDecoder {
    fn new(capacity: usize) -> Self {
        Self {
            pending: Vec::new(),
            header_read: false,
            ended: false,
            columns: CandleColumns::with_capacity(capacity),
        }
    }

    fn feed(&mut self, chunk: &[u8]) -> anyhow::Result<()> {
        self.pending.extend_from_slice(chunk);
        let bytes = self.pending.as_slice();
        let mut at = 0;
        if !self.header_read {
            if bytes.len() < SIGNATURE.len() + 8 {
                return Ok(());
            }
            ensure!(
                bytes.starts_with(SIGNATURE),
                "the database's COPY is not in the binary format"
            );
            let extension = u32::from_be_bytes(be(bytes, 15)) as usize;
            if bytes.len() < 19 + extension {
                return Ok(());
            }
            at = 19 + extension;
            self.header_read = true;
        }
        while !self.ended && bytes.len() - at >= 2 {
            let fields = i16::from_be_bytes(be(bytes, at));
            if fields == -1 {
                self.ended = true;
                at += 2;
                break;
            }
            ensure!(fields as usize == FIELDS, "a copied candle has {fields} fields");
            if bytes.len() - at < ROW_BYTES {
                break;
            }
            let field = |index: usize| -> anyhow::Result<[u8; 8]> {
                let start = at + 2 + index * 12;
                ensure!(
                    i32::from_be_bytes(be(bytes, start)) == 8,
                    "a copied candle field is not 8 bytes"
                );
                Ok(be(bytes, start + 4))
            };
            self.columns.push(
                i64::from_be_bytes(field(0)?),
                f64::from_be_bytes(field(1)?),
                f64::from_be_bytes(field(2)?),
                f64::from_be_bytes(field(3)?),
                f64::from_be_bytes(field(4)?),
                f64::from_be_bytes(field(5)?),
            );
            at += ROW_BYTES;
        }
        self.pending.drain(..at);
        Ok(())
    }

    fn finish(self) -> anyhow::Result<CandleColumns> {
        if !self.ended {
            bail!("the database's COPY of candles ended early");
        }
        Ok(self.columns)
    }
}

/// `N` bytes of `bytes` from `at`; the callers checked the length.
fn be<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}

/// Reads the columns of one series' range as rows, [`SQLITE_CHUNK`] at a
/// time in key order: each chunk is collected, then decoded. Decoding
/// rows as they stream in took 2.4 times as long (the worker thread and
/// the reader hand each row over), and collecting all of a million rows at
/// once would hold half a gigabyte of them.
pub(super) async fn sqlite_columns(
    pool: &SqlitePool,
    symbol: &Symbol,
    interval: Interval,
    range: (i64, i64),
    closed_only: bool,
    capacity: usize,
) -> anyhow::Result<CandleColumns> {
    sqlite_columns_by(SQLITE_CHUNK, pool, symbol, interval, range, closed_only, capacity).await
}

/// [`sqlite_columns`], `chunk` rows at a time.
pub(super) async fn sqlite_columns_by(
    chunk: usize,
    pool: &SqlitePool,
    symbol: &Symbol,
    interval: Interval,
    (from, to): (i64, i64),
    closed_only: bool,
    capacity: usize,
) -> anyhow::Result<CandleColumns> {
    let closed = if closed_only { " AND \"closed\"" } else { "" };
    let query = format!(
        "SELECT \"open_time\", \"open\", \"high\", \"low\", \"close\", \"volume\" FROM \"candles\" \
         WHERE \"symbol\" = ?1 AND \"interval\" = ?2 AND \"open_time\" BETWEEN ?3 AND ?4{closed} \
         ORDER BY \"open_time\" LIMIT {chunk}"
    );
    let mut columns = CandleColumns::with_capacity(capacity);
    let mut cursor = from;
    loop {
        // The connection is taken for one chunk at a time: SQLite has one,
        // and the feed's writes and page reads go between the chunks.
        let rows = sqlx::query(&query)
            .bind(symbol.as_str())
            .bind(interval.as_str())
            .bind(cursor)
            .bind(to)
            .fetch_all(pool)
            .await
            .context("while reading candles")?;
        // By position, without sqlx's type check: the columns are declared
        // `bigint` and `double`, and SQLite converts a value stored
        // otherwise as it reads it.
        for row in &rows {
            columns.push(
                row.try_get_unchecked(0)?,
                row.try_get_unchecked(1)?,
                row.try_get_unchecked(2)?,
                row.try_get_unchecked(3)?,
                row.try_get_unchecked(4)?,
                row.try_get_unchecked(5)?,
            );
        }
        match columns.time.last() {
            Some(&last) if rows.len() == chunk && last < to => cursor = last + 1,
            _ => return Ok(columns),
        }
    }
}

/// Writes `candles` (and the series' listing, when given) in one
/// transaction if `feed` still owns the store; answers whether it did.
pub(super) async fn postgres_write(
    pool: &PgPool,
    feed: FeedName,
    symbol: &Symbol,
    interval: Interval,
    candles: &[Candle],
    listing: Option<i64>,
) -> anyhow::Result<bool> {
    let mut transaction = pool.begin().await.context("while starting a history write")?;
    // Shared, so history pages are written side by side, but a feed
    // switch (which locks the row for update) waits for them, and they
    // for it: a page never outlives the switch that deletes its feed.
    let owner: Option<String> =
        sqlx::query_scalar("SELECT \"source\" FROM \"market_feed\" WHERE \"id\" = 1 FOR SHARE")
            .fetch_optional(&mut *transaction)
            .await
            .context("while checking which feed owns the store")?;
    if owner.as_deref() != Some(feed) {
        return Ok(false);
    }
    if !candles.is_empty() {
        let statement = format!(
            "{INSERT_INTO} SELECT $1, $2, page.* FROM UNNEST($3::int8[], $4::float8[], $5::float8[], \
             $6::float8[], $7::float8[], $8::float8[], $9::int8[], $10::bool[]) AS page {}",
            on_conflict()
        );
        let column = |field: fn(&Candle) -> f64| candles.iter().map(field).collect::<Vec<f64>>();
        sqlx::query(&statement)
            .bind(symbol.as_str())
            .bind(interval.as_str())
            .bind(candles.iter().map(|c| c.open_time).collect::<Vec<i64>>())
            .bind(column(|c| c.open))
            .bind(column(|c| c.high))
            .bind(column(|c| c.low))
            .bind(column(|c| c.close))
            .bind(column(|c| c.volume))
            .bind(candles.iter().map(|c| c.trades).collect::<Vec<i64>>())
            .bind(candles.iter().map(|c| c.closed).collect::<Vec<bool>>())
            .execute(&mut *transaction)
            .await
            .with_context(|| format!("while writing older {symbol} {interval} candles"))?;
    }
    if let Some(first) = listing {
        sqlx::query(LISTING[0])
            .bind(symbol.as_str())
            .bind(interval.as_str())
            .bind(first)
            .execute(&mut *transaction)
            .await
            .with_context(|| format!("while recording where {symbol} {interval} begins"))?;
    }
    transaction
        .commit()
        .await
        .context("while committing a history write")?;
    Ok(true)
}

/// [`postgres_write`] for SQLite.
pub(super) async fn sqlite_write(
    pool: &SqlitePool,
    feed: FeedName,
    symbol: &Symbol,
    interval: Interval,
    candles: &[Candle],
    listing: Option<i64>,
) -> anyhow::Result<bool> {
    let mut transaction = pool.begin().await.context("while starting a history write")?;
    // Written first, then checked: the write takes SQLite's one write
    // lock, so the feed read after it is the one this write commits on.
    for chunk in candles.chunks(SQLITE_ROWS) {
        let mut statement = String::with_capacity(INSERT_INTO.len() + chunk.len() * 34 + 400);
        statement.push_str(INSERT_INTO);
        statement.push_str(" VALUES ");
        for row in 0..chunk.len() {
            if row > 0 {
                statement.push(',');
            }
            statement.push_str("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        }
        statement.push(' ');
        statement.push_str(&on_conflict());
        let mut query = sqlx::query(&statement);
        for candle in chunk {
            query = query
                .bind(symbol.as_str())
                .bind(interval.as_str())
                .bind(candle.open_time)
                .bind(candle.open)
                .bind(candle.high)
                .bind(candle.low)
                .bind(candle.close)
                .bind(candle.volume)
                .bind(candle.trades)
                .bind(candle.closed);
        }
        // Full chunks share one prepared statement; a shorter last one, of
        // any length, is not kept.
        query
            .persistent(chunk.len() == SQLITE_ROWS)
            .execute(&mut *transaction)
            .await
            .with_context(|| format!("while writing older {symbol} {interval} candles"))?;
    }
    if let Some(first) = listing {
        sqlx::query(LISTING[1])
            .bind(symbol.as_str())
            .bind(interval.as_str())
            .bind(first)
            .execute(&mut *transaction)
            .await
            .with_context(|| format!("while recording where {symbol} {interval} begins"))?;
    }
    let owner: Option<String> = sqlx::query_scalar("SELECT \"source\" FROM \"market_feed\" WHERE \"id\" = 1")
        .fetch_optional(&mut *transaction)
        .await
        .context("while checking which feed owns the store")?;
    if owner.as_deref() != Some(feed) {
        transaction
            .rollback()
            .await
            .context("while dropping a history write")?;
        return Ok(false);
    }
    transaction
        .commit()
        .await
        .context("while committing a history write")?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copied(rows: &[[f64; 5]], times: &[i64]) -> Vec<u8> {
        let mut bytes = SIGNATURE.to_vec();
        bytes.extend_from_slice(&0_u32.to_be_bytes());
        bytes.extend_from_slice(&0_u32.to_be_bytes());
        for (row, time) in rows.iter().zip(times) {
            bytes.extend_from_slice(&6_i16.to_be_bytes());
            bytes.extend_from_slice(&8_i32.to_be_bytes());
            bytes.extend_from_slice(&time.to_be_bytes());
            for value in row {
                bytes.extend_from_slice(&8_i32.to_be_bytes());
                bytes.extend_from_slice(&value.to_be_bytes());
            }
        }
        bytes.extend_from_slice(&(-1_i16).to_be_bytes());
        bytes
    }

    #[test]
    fn binary_copy_decodes_across_any_chunking() -> anyhow::Result<()> {
        let rows = [[1.5, 2.5, 0.5, 2.0, 10.0], [2.0, 3.25, 1.75, 3.0, 0.125]];
        let bytes = copied(&rows, &[60_000, 120_000]);
        for size in [1, 3, 7, 19, 74, bytes.len()] {
            let mut decoder = CopyDecoder::new(0);
            for chunk in bytes.chunks(size) {
                decoder.feed(chunk)?;
            }
            let columns = decoder.finish()?;
            assert_eq!(columns.time, [60_000, 120_000]);
            assert_eq!(columns.open, [1.5, 2.0]);
            assert_eq!(columns.high, [2.5, 3.25]);
            assert_eq!(columns.low, [0.5, 1.75]);
            assert_eq!(columns.close, [2.0, 3.0]);
            assert_eq!(columns.volume, [10.0, 0.125]);
        }
        Ok(())
    }

    #[test]
    fn a_cut_or_foreign_copy_is_an_error() {
        let bytes = copied(&[[1.0; 5]], &[0]);
        let mut cut = CopyDecoder::new(0);
        assert!(cut.feed(&bytes[..bytes.len() - 2]).is_ok());
        assert!(cut.finish().is_err(), "no end marker");
        let mut text = CopyDecoder::new(0);
        assert!(text.feed(b"1\t2\t3\t4\t5\t6\n1\t2\t3\t4\t5\t6\n").is_err());
    }
}
