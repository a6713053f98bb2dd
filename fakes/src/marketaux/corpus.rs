//! The fake's seeded news: for each crypto base, `per_base` articles about
//! it published over `history` before the corpus's "now", newest first.
//!
//! Policies:
//! - Deterministic: each base's articles come from a generator seeded with
//!   the base's name, and their times are offsets back from "now", so two
//!   fakes with the same "now" and configuration serve the same corpus.
//! - Plausible, not real: titles, descriptions, snippets and highlights are
//!   filled-in templates in the article's mood. Each article is positive,
//!   neutral or negative about its base (sentiment in [0.25, 0.95], exactly
//!   0, or in [-0.95, -0.25]); about one in four English articles also names
//!   a second base with its own mood; about one in five is in German or
//!   Spanish, from a publisher in that language.
//! - Every published time is at least a minute before "now".

use super::article::{Article, Entity, Highlight, crypto_name};
use super::dates;
use crate::seeded::{Rng, round_to};

/// The corpus's random draws, on the fakes' seeded generator.
struct Seeded {
    rng: Rng,
}

impl Seeded {
    fn from_text(text: &str) -> Self {
        Self {
            rng: Rng::seeded(text),
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Uniform in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// One of `choices` (not empty).
    fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        let index = usize::try_from(self.below(choices.len() as u64)).unwrap_or(0);
        choices.get(index).copied().unwrap_or_default()
    }

    /// Uniform in `[low, high)`, rounded to `decimals`.
    fn between(&mut self, low: f64, high: f64, decimals: i32) -> f64 {
        round_to(self.rng.between(low, high), decimals)
    }

    /// A version-4 UUID.
    fn uuid(&mut self) -> String {
        let high = self.next_u64();
        let low = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xffff,
            high & 0x0fff,
            8 + (low >> 62),
            (low >> 48) & 0x0fff,
            low & 0xffff_ffff_ffff
        )
    }
}

/// How an article speaks of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mood {
    Positive,
    Neutral,
    Negative,
}

impl Mood {
    fn draw(rng: &mut Seeded) -> Mood {
        match rng.below(3) {
            0 => Mood::Positive,
            1 => Mood::Neutral,
            _ => Mood::Negative,
        }
    }

    fn sentiment(self, rng: &mut Seeded) -> f64 {
        match self {
            Mood::Positive => rng.between(0.25, 0.95, 4),
            Mood::Neutral => 0.0,
            Mood::Negative => -rng.between(0.25, 0.95, 4),
        }
    }
}

/// The templates of one language; `{name}`, `{base}`, `{other}` and `{pct}`
/// are filled in.
struct Voice {
    code: &'static str,
    sources: &'static [&'static str],
    titles: [&'static [&'static str]; 3],
    descriptions: [&'static str; 3],
    /// Main-text highlights; `<em>{name}</em>` marks the entity.
    highlights: [&'static [&'static str]; 3],
    snippet_tail: &'static str,
    keywords: &'static str,
}

impl Voice {
    fn of(&self, mood: Mood) -> usize {
        match mood {
            Mood::Positive => 0,
            Mood::Neutral => 1,
            Mood::Negative => 2,
        }
    }
}

const ENGLISH: Voice = Voice {
    code: "en",
    sources: &[
        "coindesk.com",
        "cointelegraph.com",
        "reuters.com",
        "decrypt.co",
        "theblock.co",
        "bloomberg.com",
        "cnbc.com",
        "finance.yahoo.com",
    ],
    titles: [
        &[
            "{name} climbs above key resistance as ETF inflows accelerate",
            "{name} rallies {pct}% as traders pile into {base} futures",
            "Analysts turn bullish on {name} after network upgrade goes live",
            "{name} open interest hits a record as buyers return",
            "Whales accumulate {base} ahead of expected rate cut",
        ],
        &[
            "{name} trades sideways as volatility drops to a monthly low",
            "What to watch for {name} this week",
            "{name} developers publish roadmap for the next upgrade",
            "{base} funding rates flat as the market waits for macro data",
        ],
        &[
            "{name} slides {pct}% as long liquidations top $200 million",
            "{name} falls below support amid broad crypto sell-off",
            "Regulators step up scrutiny of {name} trading venues",
            "{base} fund outflows continue for a third straight day",
        ],
    ],
    descriptions: [
        "{name} gained {pct}% over the past 24 hours as buyers returned to the market.",
        "{name} held near its recent range while traders waited for fresh catalysts.",
        "{name} lost {pct}% over the past 24 hours as sellers pressed the market.",
    ],
    highlights: [
        &[
            "<em>{name}</em> gained {pct}% over the past 24 hours, extending its weekly advance.",
            "Demand for <em>{name}</em> picked up sharply, with spot volumes near a three-month high.",
        ],
        &[
            "<em>{name}</em> was little changed at the time of writing.",
            "Traders said <em>{name}</em> lacked a clear direction heading into the weekend.",
        ],
        &[
            "<em>{name}</em> dropped {pct}% as sellers took control of the session.",
            "Liquidations in <em>{name}</em> futures added to the pressure on prices.",
        ],
    ],
    snippet_tail: "Spot volumes across major exchanges were above their 30-day average, \
                   while derivatives traders kept a close eye on funding rates and open interest.",
    keywords: "{name}, {base}, crypto, markets",
};

const GERMAN: Voice = Voice {
    code: "de",
    sources: &["finanzen.net", "btc-echo.de", "handelsblatt.com"],
    titles: [
        &[
            "{name} steigt über wichtige Marke",
            "{name} legt um {pct} Prozent zu",
        ],
        &["{name} tritt auf der Stelle", "{name}: Anleger warten ab"],
        &["{name} fällt deutlich", "{name} verliert {pct} Prozent"],
    ],
    descriptions: [
        "{name} ist in den vergangenen 24 Stunden um {pct} Prozent gestiegen.",
        "{name} bewegte sich kaum, Händler warten auf neue Impulse.",
        "{name} ist in den vergangenen 24 Stunden um {pct} Prozent gefallen.",
    ],
    highlights: [
        &["<em>{name}</em> legte um {pct} Prozent zu."],
        &["<em>{name}</em> notierte zuletzt nahezu unverändert."],
        &["<em>{name}</em> gab um {pct} Prozent nach."],
    ],
    snippet_tail: "Das Handelsvolumen an den großen Börsen lag über dem Durchschnitt der letzten 30 Tage.",
    keywords: "{name}, {base}, Krypto, Märkte",
};

const SPANISH: Voice = Voice {
    code: "es",
    sources: &["es.cointelegraph.com", "criptonoticias.com", "expansion.com"],
    titles: [
        &["{name} sube con fuerza", "{name} avanza un {pct}%"],
        &["{name} cotiza sin cambios", "{name}: el mercado espera"],
        &[
            "{name} cae ante la presión vendedora",
            "{name} retrocede un {pct}%",
        ],
    ],
    descriptions: [
        "{name} subió un {pct}% en las últimas 24 horas.",
        "{name} se mantuvo estable mientras el mercado espera nuevos datos.",
        "{name} cayó un {pct}% en las últimas 24 horas.",
    ],
    highlights: [
        &["<em>{name}</em> subió un {pct}% en la sesión."],
        &["<em>{name}</em> se mantuvo prácticamente sin cambios."],
        &["<em>{name}</em> cayó un {pct}% en la sesión."],
    ],
    snippet_tail: "El volumen negociado en los principales exchanges superó la media de 30 días.",
    keywords: "{name}, {base}, cripto, mercados",
};

/// English titles for an article about two bases (the mood is in the highlights).
const PAIR_TITLES: &[&str] = &[
    "{name} and {other} lead the session's biggest moves",
    "Traders rotate between {name} and {other} as volumes climb",
    "{name} versus {other}: where the funding rates point",
    "{name} and {other} diverge as the crypto market looks for direction",
];

struct Fill<'a> {
    name: &'a str,
    base: &'a str,
    other: &'a str,
    pct: String,
}

impl Fill<'_> {
    fn apply(&self, template: &str) -> String {
        template
            .replace("{name}", self.name)
            .replace("{base}", self.base)
            .replace("{other}", self.other)
            .replace("{pct}", &self.pct)
    }
}

/// `title` lower-cased, words joined by `-`.
fn slug(title: &str) -> String {
    let mut slug = String::with_capacity(title.len());
    for word in title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
    {
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.extend(word.chars().flat_map(char::to_lowercase));
    }
    slug
}

/// The seeded corpus for `bases` (e.g. `BTC`), newest first.
pub(crate) fn generate(bases: &[String], per_base: usize, history_secs: i64, now: i64) -> Vec<Article> {
    let mut articles = Vec::with_capacity(bases.len() * per_base);
    for base in bases {
        let mut rng = Seeded::from_text(&format!("marketaux:CC:{base}"));
        for _ in 0..per_base {
            articles.push(article_about(base, bases, history_secs, now, &mut rng));
        }
    }
    sort_newest_first(&mut articles);
    articles
}

/// Newest first; equal times by uuid, so the order is total.
pub(crate) fn sort_newest_first(articles: &mut [Article]) {
    articles.sort_by(|a, b| {
        b.published_at
            .cmp(&a.published_at)
            .then_with(|| a.uuid.cmp(&b.uuid))
    });
}

fn article_about(base: &str, bases: &[String], history_secs: i64, now: i64, rng: &mut Seeded) -> Article {
    let voice = match rng.below(10) {
        0 => &GERMAN,
        1 => &SPANISH,
        _ => &ENGLISH,
    };
    let others: Vec<&str> = bases
        .iter()
        .map(String::as_str)
        .filter(|other| *other != base)
        .collect();
    let other = (voice.code == "en" && !others.is_empty() && rng.below(4) == 0).then(|| rng.pick(&others));
    let mood = Mood::draw(rng);
    let name = crypto_name(base);
    let other_name = other.map(crypto_name).unwrap_or_default();
    let fill = Fill {
        name: &name,
        base,
        other: &other_name,
        pct: format!("{:.1}", rng.between(1.0, 9.9, 1)),
    };
    let title = match other {
        Some(_) => fill.apply(rng.pick(PAIR_TITLES)),
        None => fill.apply(rng.pick(voice.titles[voice.of(mood)])),
    };
    let description = fill.apply(voice.descriptions[voice.of(mood)]);
    let mut keywords = fill.apply(voice.keywords);
    let mut entities = vec![entity(base, &name, mood, &fill, voice, Some(&title), rng)];
    if let Some(other) = other {
        keywords.push_str(&format!(", {other_name}, {other}"));
        let other_fill = Fill {
            name: &other_name,
            base: other,
            other: &name,
            pct: format!("{:.1}", rng.between(1.0, 9.9, 1)),
        };
        let other_mood = Mood::draw(rng);
        entities.push(entity(
            other,
            &other_name,
            other_mood,
            &other_fill,
            voice,
            Some(&title),
            rng,
        ));
    }
    let ago =
        60 + i64::try_from(rng.below(u64::try_from((history_secs - 60).max(1)).unwrap_or(1))).unwrap_or(0);
    let published_at = now - ago;
    let source = rng.pick(voice.sources).to_owned();
    let uuid = rng.uuid();
    let day = dates::format_published_at(published_at)
        .map(|at| at.get(..10).unwrap_or_default().replace('-', "/"))
        .unwrap_or_default();
    Article {
        url: format!("https://{source}/markets/{day}/{}", slug(&title)),
        image_url: format!(
            "https://{source}/images/{}.jpg",
            uuid.get(..8).unwrap_or_default()
        ),
        snippet: format!("{description} {}", voice.snippet_tail),
        uuid,
        title,
        description,
        keywords,
        language: voice.code.to_owned(),
        published_at,
        source,
        relevance_score: None,
        entities,
        similar: Vec::new(),
    }
}

/// The entity `base` in an article of `mood`: one or two main-text
/// highlights, plus the title when it names the entity; its score is their mean.
fn entity(
    base: &str,
    name: &str,
    mood: Mood,
    fill: &Fill<'_>,
    voice: &Voice,
    title: Option<&str>,
    rng: &mut Seeded,
) -> Entity {
    let templates = voice.highlights[voice.of(mood)];
    let count = 1 + usize::try_from(rng.below(2)).unwrap_or(0);
    let mut highlights: Vec<Highlight> = templates
        .iter()
        .take(count)
        .map(|template| Highlight {
            highlight: fill.apply(template),
            sentiment: mood.sentiment(rng),
            highlighted_in: "main_text".to_owned(),
        })
        .collect();
    if let Some(title) = title.filter(|title| title.contains(name)) {
        highlights.push(Highlight {
            highlight: title.replacen(name, &format!("<em>{name}</em>"), 1),
            sentiment: mood.sentiment(rng),
            highlighted_in: "title".to_owned(),
        });
    }
    let sum: f64 = highlights.iter().map(|highlight| highlight.sentiment).sum();
    let sentiment_score = round_to(sum / highlights.len().max(1) as f64, 4);
    Entity {
        symbol: format!("CC:{base}"),
        name: name.to_owned(),
        exchange: None,
        exchange_long: None,
        country: "global".to_owned(),
        type_: "cryptocurrency".to_owned(),
        industry: "N/A".to_owned(),
        match_score: rng.between(8.0, 60.0, 5),
        sentiment_score,
        highlights,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lower_case_words() {
        assert_eq!(
            slug("Bitcoin rallies 4.2% as traders pile in"),
            "bitcoin-rallies-4-2-as-traders-pile-in"
        );
        assert_eq!(slug("Bitcoin: Anleger warten ab"), "bitcoin-anleger-warten-ab");
    }

    #[test]
    fn uuids_look_like_version_4() {
        let uuid = Seeded::from_text("x").uuid();
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.as_bytes()[14], b'4');
        assert!(matches!(uuid.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{uuid}");
    }
}
