//! What the news pages and the Quick Look panel read.

use app::news::{NewsPages, NewsView};
use inchart_api::market::Symbol;

use super::News;

use app::PageAnswer as Answer;
use app::PageError;

impl NewsPages for News {
    fn news(&self, symbol: Option<Symbol>, page: u32) -> Answer<NewsView> {
        let news = self.clone();
        Box::pin(async move {
            if let Some(symbol) = &symbol
                && !news.carries(symbol)
            {
                return Err(PageError::new(format!("InChart does not carry {symbol}.")));
            }
            Ok(news.page(symbol.as_ref(), page).await)
        })
    }
}
