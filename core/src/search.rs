//! One search over everything searchable: docs pages (title and current source) and catalog entities (name,
//! title, description). Every word must occur, partially (`pay` finds `payments`); candidates come from the
//! trigram indexes (FTS5 on SQLite, `pg_trgm` on PostgreSQL), so the database does the finding and this module
//! only ranks and cuts snippets. The page index is a column written in the same transaction as each save, so it
//! is right after edits, restores, renames and deletions, and for every replica sharing the database. The
//! candidate statements return ids and titles only: what ranking and snippets read of each page's current revision
//! comes from a per-process cache by revision id (`docs::cache::RevisionTexts`; revisions never change), so a
//! repeated search does not have the database send kilobytes of text per candidate.

use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, QueryFilter, QuerySelect};

use portolan_types::catalog::EntityQuery;
use portolan_types::docs::PAGE_KINDS;
use portolan_types::search::{Highlight, SearchHit, SearchQuery, SearchResults};

use crate::catalog::store;
use crate::catalog::visibility::Visibility;
use crate::docs::cache::{RevisionText, RevisionTexts};
use crate::docs::pages::{self, page_rows, revisions};

/// Words searched for at most.
const MAX_WORDS: usize = 8;
/// Pages read before ranking: up to this many whose title holds a word, and as many more from the index.
const CANDIDATES: u64 = 60;

/// What ranking reads of a page.
#[derive(Debug, sea_orm::FromQueryResult)]
struct Candidate {
    id: i64,
    space: String,
    slug: String,
    title: String,
    kind: String,
    current_revision_id: Option<i64>,
}

/// `%word%` for LIKE, with `%`, `_` and `\` taken literally.
fn like_pattern(word: &str) -> String {
    let escaped = word.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// `word` as a phrase of the SQLite trigram indexes (FTS5 `MATCH`, its quotes doubled), or `None` when it is
/// shorter than the three characters a trigram needs and has to be matched with `LIKE`.
pub(crate) fn trigram_phrase(word: &str) -> Option<String> {
    (word.chars().count() >= 3).then(|| format!("\"{}\"", word.replace('"', "\"\"")))
}

/// Whether the match at byte `at` of `text` starts a word (nothing alphanumeric right before it).
fn starts_word(text: &str, at: usize) -> bool {
    !text[..at].chars().next_back().is_some_and(char::is_alphanumeric)
}

/// Characters of a snippet.
const SNIPPET: usize = 180;

/// The words of a query: lower-cased, at most [`MAX_WORDS`].
pub fn words(q: &str) -> Vec<String> {
    q.split_whitespace().take(MAX_WORDS).map(str::to_lowercase).collect()
}

/// Searches pages and entities; `vis` hides what the viewer may not see of the catalog, and `texts` keeps what
/// ranking and snippets read of the pages' revisions.
pub async fn search(
    db: &DatabaseConnection,
    texts: &RevisionTexts,
    vis: &Visibility,
    q: &SearchQuery,
) -> Result<SearchResults, DbErr> {
    let words = words(&q.q);
    let limit = usize::try_from(q.limit.unwrap_or(20).clamp(1, 50)).unwrap_or(20);
    if words.is_empty() {
        return Ok(SearchResults { query: String::new(), hits: Vec::new() });
    }
    let kind = q.kind.as_deref().map(str::trim).filter(|k| !k.is_empty()).map(str::to_lowercase);
    let page_kind = kind.as_deref().is_some_and(|k| PAGE_KINDS.contains(&k));
    let space = q.space.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let mut hits = Vec::new();
    if kind.is_none() || page_kind {
        hits.extend(search_pages(db, texts, &words, space, kind.as_deref(), q.owner.as_deref(), limit).await?);
    }
    if space.is_none() && !page_kind {
        hits.extend(search_entities(db, vis, &words, kind.as_deref(), q.owner.as_deref()).await?);
    }
    hits.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.title.to_lowercase().cmp(&b.title.to_lowercase())));
    hits.truncate(limit);
    Ok(SearchResults { query: words.join(" "), hits })
}

async fn search_pages(
    db: &DatabaseConnection,
    texts: &RevisionTexts,
    words: &[String],
    space: Option<&str>,
    kind: Option<&str>,
    owner: Option<&str>,
    limit: usize,
) -> Result<Vec<SearchHit>, DbErr> {
    let Some((by_title, by_body)) = candidate_statements(db.get_database_backend(), words, space, kind, owner) else {
        return Ok(Vec::new());
    };
    let mut rows: Vec<Candidate> = Candidate::find_by_statement(by_title).all(db).await?;
    let body_rows = Candidate::find_by_statement(by_body).all(db).await?;
    let found = revision_texts(db, texts, rows.iter().chain(&body_rows).filter_map(|p| p.current_revision_id)).await?;
    let empty = Arc::new(RevisionText { lower: "".into(), plain: "".into() });
    let text_of = |p: &Candidate| p.current_revision_id.and_then(|id| found.get(&id)).unwrap_or(&empty).clone();
    // A title match is a candidate only if every word occurs in the title or the source (a word has no
    // whitespace, so none spans the two).
    rows.retain(|p| {
        let (title, text) = (p.title.to_lowercase(), text_of(p));
        words.iter().all(|w| title.contains(w.as_str()) || text.lower.contains(w.as_str()))
    });
    let seen: std::collections::HashSet<i64> = rows.iter().map(|p| p.id).collect();
    rows.extend(body_rows.into_iter().filter(|p| !seen.contains(&p.id)));
    let mut ranked: Vec<(u32, Candidate, Arc<RevisionText>)> = rows
        .into_iter()
        .map(|p| {
            let text = text_of(&p);
            (score(&p.title, &text.lower, words), p, text)
        })
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.title.cmp(&b.1.title)));
    ranked.truncate(limit);
    Ok(ranked
        .into_iter()
        .map(|(score, p, text)| SearchHit {
            kind: "page".to_owned(),
            title_marks: highlight(&p.title, words, None),
            snippet: highlight(&text.plain, words, Some(SNIPPET)),
            path: format!("/docs/{}/{}", p.space, p.slug),
            detail: format!("{} · {}", p.space, p.kind),
            title: p.title,
            score,
        })
        .collect())
}

/// What search reads of these revisions: from `texts` where kept, the others read from the database in one
/// statement (and then kept).
async fn revision_texts(
    db: &DatabaseConnection,
    texts: &RevisionTexts,
    ids: impl Iterator<Item = i64>,
) -> Result<HashMap<i64, Arc<RevisionText>>, DbErr> {
    let ids: Vec<i64> = ids.collect();
    let mut found = texts.get_many(ids.iter().copied());
    let mut missing: Vec<i64> = ids.into_iter().filter(|id| !found.contains_key(id)).collect();
    if missing.is_empty() {
        return Ok(found);
    }
    missing.sort_unstable();
    missing.dedup();
    let sources: Vec<(i64, String)> = revisions::Entity::find()
        .select_only()
        .columns([revisions::Column::Id, revisions::Column::Markdown])
        .filter(revisions::Column::Id.is_in(missing))
        .into_tuple()
        .all(db)
        .await?;
    for (id, markdown) in sources {
        let text = Arc::new(RevisionText::of(&markdown));
        texts.put(id, text.clone());
        found.insert(id, text);
    }
    Ok(found)
}

/// The two statements that find a search's candidate pages: those whose title holds a word, and the first
/// [`CANDIDATES`] holding every word. `None` when `owner` is not a valid owner (nothing can match).
///
/// Each carries its `LIMIT` in its text rather than as a bound value. PostgreSQL plans a prepared statement once
/// for all values after a few runs, and for a bound `LIMIT` it assumes a tenth of the rows: a plain scan that
/// stops early then looked cheaper than the trigram index, so on the docs benchmark every search lower-cased the
/// title of every page (1.8 ms of the database's time instead of 0.05). With the limit in the text the shared
/// plan keeps the index.
pub fn candidate_statements(
    backend: sea_orm::DbBackend,
    words: &[String],
    space: Option<&str>,
    kind: Option<&str>,
    owner: Option<&str>,
) -> Option<(sea_orm::Statement, sea_orm::Statement)> {
    use sea_orm::QueryTrait;
    let search_text = || Expr::col((page_rows::Entity, pages::search_text_column()));
    let mut select = page_rows::Entity::find().select_only().columns([
        page_rows::Column::Id,
        page_rows::Column::Space,
        page_rows::Column::Slug,
        page_rows::Column::Title,
        page_rows::Column::Kind,
        page_rows::Column::CurrentRevisionId,
    ]);
    if let Some(space) = space {
        select = select.filter(page_rows::Column::Space.eq(space.to_lowercase()));
    }
    if let Some(kind) = kind {
        select = select.filter(page_rows::Column::Kind.eq(kind));
    }
    if let Some(owner) = owner.map(str::trim).filter(|o| !o.is_empty()) {
        match pages::owner_ref(Some(owner)) {
            Ok(Some(o)) => select = select.filter(page_rows::Column::OwnerRef.eq(o)),
            _ => return None,
        }
    }
    // Ranking favours titles, so the pages whose title holds a word are candidates whatever the body index says,
    // checked for every word in Rust below. They come from the title index: FTS5's trigram index on SQLite (words
    // of three characters or more), `pg_trgm` on `lower(title)` on PostgreSQL; shorter words scan the titles.
    let sqlite = backend == sea_orm::DbBackend::Sqlite;
    let title_phrases: Option<Vec<String>> =
        if sqlite { words.iter().map(|w| trigram_phrase(w)).collect() } else { None };
    let in_title = if let Some(any) = title_phrases {
        sea_orm::Condition::all().add(Expr::cust_with_values(
            "\"doc_pages\".\"id\" IN (SELECT rowid FROM doc_titles_fts WHERE doc_titles_fts MATCH ?)",
            [sea_orm::Value::from(any.join(" OR "))],
        ))
    } else {
        let title =
            || Expr::expr(sea_orm::sea_query::Func::lower(Expr::col((page_rows::Entity, page_rows::Column::Title))));
        let mut in_title = sea_orm::Condition::any();
        for word in words {
            in_title = in_title.add(title().like(LikeExpr::new(like_pattern(word)).escape('\\')));
        }
        in_title
    };
    let by_title = select.clone().filter(in_title);
    // The other candidates come from the index: the first it finds holding every word, unranked. Ranking them in
    // the index (bm25) meant testing every page that matches, and common words match nearly all of them; the
    // ranking below caps a word's count at five anyway.
    let mut phrases = Vec::new();
    let mut by_body = select;
    for word in words {
        match trigram_phrase(word).filter(|_| sqlite) {
            Some(phrase) => phrases.push(phrase),
            None => by_body = by_body.filter(search_text().like(LikeExpr::new(like_pattern(word)).escape('\\'))),
        }
    }
    if !phrases.is_empty() {
        by_body = by_body.filter(Expr::cust_with_values(
            "\"doc_pages\".\"id\" IN (SELECT rowid FROM doc_pages_fts WHERE doc_pages_fts MATCH ? LIMIT ?)",
            [sea_orm::Value::from(phrases.join(" AND ")), sea_orm::Value::from(CANDIDATES as i64)],
        ));
    }
    let limited = |select: sea_orm::Select<page_rows::Entity>| {
        let built = select.build(backend);
        sea_orm::Statement { sql: format!("{} LIMIT {CANDIDATES}", built.sql), ..built }
    };
    Some((limited(by_title), limited(by_body)))
}

async fn search_entities(
    db: &DatabaseConnection,
    vis: &Visibility,
    words: &[String],
    kind: Option<&str>,
    owner: Option<&str>,
) -> Result<Vec<SearchHit>, DbErr> {
    let query = EntityQuery {
        kind: kind.map(str::to_owned),
        owner: owner.map(str::to_owned),
        q: Some(words.join(" ")),
        limit: Some(50),
        ..Default::default()
    };
    let found = store::list(db, &query, vis).await?;
    Ok(found
        .items
        .into_iter()
        .map(|e| {
            let title = e.display_name().to_owned();
            let description = e.description.clone().unwrap_or_default();
            let named = format!("{} {}", e.name, e.title.clone().unwrap_or_default());
            SearchHit {
                kind: "entity".to_owned(),
                title_marks: highlight(&title, words, None),
                snippet: highlight(&description, words, Some(SNIPPET)),
                path: e.path(),
                detail: match &e.spec_type {
                    Some(t) => format!("{} · {t}", e.kind),
                    None => e.kind.clone(),
                },
                score: score(&named, &description.to_lowercase(), words),
                title,
            }
        })
        .collect())
}

/// Rank: each word found in the title weighs 10 (15 at the start of a title word), the whole query in the title
/// 20 more; in the body, 2 at the start of a word, and 1 for each further occurrence (up to 5).
fn score(title: &str, body: &str, words: &[String]) -> u32 {
    let title = title.to_lowercase();
    let mut total = 0u32;
    for w in words {
        if let Some(at) = title.find(w.as_str()) {
            total += if starts_word(&title, at) { 15 } else { 10 };
        }
        // One pass over the body: occurrences (up to five), and whether one starts a word.
        let (mut count, mut starts) = (0u32, false);
        for (at, _) in body.match_indices(w.as_str()) {
            count = Ord::min(count + 1, 5);
            starts = starts || starts_word(body, at);
            if count == 5 && starts {
                break;
            }
        }
        total += count + if starts { 2 } else { 0 };
    }
    if words.len() > 1 && title.contains(&words.join(" ")) {
        total += 20;
    }
    total
}

/// Markdown source as reading text for snippets: markup characters dropped, whitespace collapsed.
///
/// It copies the runs of text between markup and whitespace as they are, looking at bytes and decoding only
/// non-ASCII characters (to find Unicode whitespace): a search cuts snippets from twenty 5 KB pages, and pushing
/// them one character at a time was a fifth of the server's time for a search on the docs benchmark.
pub(crate) fn plain_text(markdown: &str) -> String {
    let bytes = markdown.as_bytes();
    let mut out = String::with_capacity(markdown.len());
    let mut gap = false;
    let (mut start, mut i) = (0, 0);
    let flush = |out: &mut String, gap: &mut bool, run: &str| {
        if !run.is_empty() {
            if *gap {
                out.push(' ');
                *gap = false;
            }
            out.push_str(run);
        }
    };
    while i < bytes.len() {
        let b = bytes[i];
        let (len, whitespace, markup) = if b.is_ascii() {
            (1, matches!(b, b'\t'..=b'\r' | b' '), matches!(b, b'#' | b'*' | b'`' | b'|' | b'>' | b'[' | b']'))
        } else {
            // `i` is a character boundary: it only ever moves by whole characters.
            let c = markdown[i..].chars().next().unwrap_or(' ');
            (c.len_utf8(), c.is_whitespace(), false)
        };
        if whitespace || markup {
            flush(&mut out, &mut gap, &markdown[start..i]);
            if whitespace {
                gap = !out.is_empty();
            }
            start = i + len;
        }
        i += len;
    }
    flush(&mut out, &mut gap, &markdown[start..]);
    out
}

/// Marks every occurrence of the words in `text`, case-insensitively. With a window, cuts the text to about that
/// many characters around the first match (with `…` where cut); without a match, the window's start.
///
/// A snippet of a long page works on a stretch of the text around the first match only (four windows long), found
/// with a byte search of the lower-cased text: marking every character of a 5 KB page, twenty pages a search, was a
/// fifth of a search's time. Where lower-casing changes the text's length (a few Unicode letters), it works on the
/// whole text.
pub fn highlight(text: &str, words: &[String], window: Option<usize>) -> Vec<Highlight> {
    let Some(size) = window else { return highlight_all(text, words, None) };
    let reach = size.saturating_mul(2);
    if text.len() <= reach.saturating_mul(2) {
        return highlight_all(text, words, window);
    }
    let lower = text.to_lowercase();
    if lower.len() != text.len() {
        return highlight_all(text, words, window);
    }
    let first = words.iter().filter(|w| !w.is_empty()).filter_map(|w| lower.find(w.as_str())).min().unwrap_or(0);
    let mut from = first.saturating_sub(reach);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let mut to = (first + reach).min(text.len());
    while !text.is_char_boundary(to) {
        to += 1;
    }
    let mut out = highlight_all(&text[from..to], words, window);
    if from > 0 && out.first().is_none_or(|h| h.hit || !h.text.starts_with('…')) {
        out.insert(0, Highlight { text: "…".to_owned(), hit: false });
    }
    if to < text.len() && out.last().is_none_or(|h| h.hit || !h.text.ends_with('…')) {
        match out.last_mut() {
            Some(last) if !last.hit => last.text.push('…'),
            _ => out.push(Highlight { text: "…".to_owned(), hit: false }),
        }
    }
    out
}

/// [`highlight`] over the whole text.
fn highlight_all(text: &str, words: &[String], window: Option<usize>) -> Vec<Highlight> {
    let chars: Vec<char> = text.chars().collect();
    // One lower-case char per char keeps the two aligned.
    let lower: Vec<char> = chars.iter().map(|c| c.to_lowercase().next().unwrap_or(*c)).collect();
    let mut hit = vec![false; chars.len()];
    for w in words {
        let w: Vec<char> = w.chars().collect();
        if w.is_empty() || w.len() > lower.len() {
            continue;
        }
        for start in 0..=lower.len() - w.len() {
            if lower[start..start + w.len()] == w[..] {
                hit[start..start + w.len()].iter_mut().for_each(|h| *h = true);
            }
        }
    }
    let (from, to) = match window {
        Some(size) if chars.len() > size => {
            let first = hit.iter().position(|h| *h).unwrap_or(0);
            let mut from = first.saturating_sub(size / 3);
            // Start at a word.
            while from > 0 && from < first && !chars[from - 1].is_whitespace() {
                from += 1;
            }
            (from, (from + size).min(chars.len()))
        }
        _ => (0, chars.len()),
    };
    let mut out: Vec<Highlight> = Vec::new();
    if from > 0 {
        out.push(Highlight { text: "…".to_owned(), hit: false });
    }
    for i in from..to {
        match out.last_mut() {
            Some(last) if last.hit == hit[i] && !(i == from && from > 0) => last.text.push(chars[i]),
            _ => out.push(Highlight { text: chars[i].to_string(), hit: hit[i] }),
        }
    }
    if to < chars.len() {
        match out.last_mut() {
            Some(last) if !last.hit => last.text.push('…'),
            _ => out.push(Highlight { text: "…".to_owned(), hit: false }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(h: &[Highlight]) -> Vec<&str> {
        h.iter().filter(|h| h.hit).map(|h| h.text.as_str()).collect()
    }

    #[test]
    fn words_are_marked_case_insensitively_and_partially() {
        let h = highlight("Restart the Payments API; payments first", &["pay".to_owned()], None);
        assert_eq!(marked(&h), ["Pay", "pay"]);
        let whole: String = h.iter().map(|h| h.text.as_str()).collect();
        assert_eq!(whole, "Restart the Payments API; payments first");
        let h = highlight("Zürich ÄRGER", &["ärger".to_owned(), "zü".to_owned()], None);
        assert_eq!(marked(&h), ["Zü", "ÄRGER"]);
    }

    #[test]
    fn a_snippet_is_cut_around_the_first_match() {
        let text = format!("{} the rollback step is here {}", "intro ".repeat(100), "outro ".repeat(100));
        let h = highlight(&text, &["rollback".to_owned()], Some(80));
        let joined: String = h.iter().map(|h| h.text.as_str()).collect();
        assert!(joined.starts_with('…') && joined.ends_with('…'), "{joined}");
        assert!(joined.chars().count() <= 84, "{joined}");
        assert_eq!(marked(&h), ["rollback"]);
    }

    #[test]
    fn a_snippet_of_a_long_text_is_what_marking_the_whole_text_gives() {
        let words = ["rollback".to_owned(), "db".to_owned()];
        let filler = |n: usize| "Intro words, and a longer sentence that goes on. ".repeat(n);
        for (before, after) in [(0, 40), (1, 40), (3, 40), (10, 40), (40, 0), (40, 1), (40, 40)] {
            let text = format!("{}Run the Rollback for the DB now.{}", filler(before), filler(after));
            assert_eq!(
                highlight(&text, &words, Some(180)),
                highlight_all(&text, &words, Some(180)),
                "{before} {after}"
            );
        }
        let nothing = filler(40);
        assert_eq!(highlight(&nothing, &words, Some(180)), highlight_all(&nothing, &words, Some(180)));
        // Lower-casing that changes the length falls back to the whole text, with the same result.
        let odd = format!("{}İstanbul rollback{}", filler(20), filler(20));
        assert_eq!(highlight(&odd, &words, Some(180)), highlight_all(&odd, &words, Some(180)));
        assert_eq!(marked(&highlight(&odd, &words, Some(180))), ["rollback"]);
    }

    #[test]
    fn titles_outrank_bodies_and_word_starts_outrank_middles() {
        let w = vec!["deploy".to_owned()];
        let title_hit = score("Deploy the API", "nothing here", &w);
        let body_hit = score("Runbook", "how to deploy the api", &w);
        let middle = score("Redeploy", "", &w);
        assert!(title_hit > middle && middle > body_hit, "{title_hit} {middle} {body_hit}");
        let both = vec!["payments".to_owned(), "api".to_owned()];
        assert!(score("Payments API", "", &both) > score("API for payments", "", &both));
    }

    #[test]
    fn body_occurrences_count_up_to_five_and_a_word_start_adds_two() {
        let w = vec!["deploy".to_owned()];
        assert_eq!(score("x", "deploy, then redeploy", &w), 2 + 2);
        assert_eq!(score("x", &"redeploy ".repeat(7), &w), 5, "capped at five, no word start");
        assert_eq!(score("x", &format!("{}deploy", "redeploy ".repeat(7)), &w), 5 + 2, "the start after the fifth");
        assert_eq!(score("x", "nothing", &w), 0);
    }

    #[test]
    fn words_of_three_characters_or_more_become_quoted_trigram_phrases() {
        assert_eq!(trigram_phrase("pay").as_deref(), Some("\"pay\""));
        assert_eq!(trigram_phrase("a\"b").as_deref(), Some("\"a\"\"b\""), "quotes doubled");
        assert_eq!(trigram_phrase("zü"), None, "two characters, however many bytes");
    }

    /// The character-at-a-time version [`plain_text`] replaced.
    fn plain_text_by_chars(markdown: &str) -> String {
        let mut out = String::new();
        let mut gap = false;
        for c in markdown.chars() {
            if matches!(c, '#' | '*' | '`' | '|' | '>' | '[' | ']') {
                continue;
            }
            if c.is_whitespace() {
                gap = !out.is_empty();
                continue;
            }
            if gap {
                out.push(' ');
                gap = false;
            }
            out.push(c);
        }
        out
    }

    #[test]
    fn plain_text_is_what_reading_character_by_character_gives() {
        let pieces = [
            "# Title",
            " ",
            "\n\n",
            "\t",
            "\u{b}",
            "\u{c}",
            "\r\n",
            "**bold**",
            "`code`",
            "| a | b |",
            "> quote",
            "[[Link]]",
            "Zürich",
            "\u{a0}",
            "\u{2003}",
            "\u{3000}",
            "日本語",
            "é",
            "x",
            "  ",
            "###",
            "\u{85}",
            "İ",
            "😀",
        ];
        // Every sequence of up to three pieces, and a long mixed text.
        for a in pieces {
            assert_eq!(plain_text(a), plain_text_by_chars(a), "{a:?}");
            for b in pieces {
                for c in pieces {
                    let text = format!("{a}{b}{c}");
                    assert_eq!(plain_text(&text), plain_text_by_chars(&text), "{text:?}");
                }
            }
        }
        let long: String = (0..2_000).map(|i| pieces[(i * 7) % pieces.len()]).collect();
        assert_eq!(plain_text(&long), plain_text_by_chars(&long));
    }

    #[test]
    fn markdown_reads_as_text_in_snippets() {
        assert_eq!(plain_text("# Restart\n\n| a | b |\n\n**bold** `code` [[Link]]"), "Restart a b bold code Link");
        assert_eq!(plain_text("  \t# a * b\u{a0}c  \n"), "a b c", "runs of space collapse, none at the ends");
        assert_eq!(plain_text("### \n`` ``"), "");
    }
}
