//! Markdown to safe HTML, on the server: CommonMark with GitHub's tables, task lists, strikethrough, footnotes,
//! alerts (`> [!WARNING]`) and bare-URL autolinks; heading anchors and a table of contents. Whatever the author
//! writes, the result is sanitized (ammonia, an allow list): no script, no event handlers, no `javascript:` or
//! `data:` URLs, no styles, no frames, and every `id` the page carries is prefixed, so no heading can clobber a
//! global the application relies on.

use std::collections::{HashMap, HashSet};

use pulldown_cmark::{CodeBlockKind, CowStr, Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd};

use super::highlight;

/// The prefix of every `id` in rendered pages (and of in-page `#` links to them).
pub const ID_PREFIX: &str = "md-";

/// One heading of the table of contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TocEntry {
    /// 1 to 6.
    pub level: u8,
    /// The anchor (`md-…`), for `#` links.
    pub id: String,
    /// The heading's text.
    pub text: String,
}

/// A rendered page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// Sanitized HTML.
    pub html: String,
    /// Headings in order.
    pub toc: Vec<TocEntry>,
    /// Wiki links (`[[…]]`) that lead nowhere, as written, once each.
    pub broken: Vec<String>,
}

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_GFM
        | Options::ENABLE_WIKILINKS
}

/// The targets of a page's wiki links (`[[Page title]]`, `[[space/slug]]`, `[[component:payments-api]]`,
/// `[[target|shown text]]`), trimmed, once each, in order.
pub fn wiki_targets(markdown: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for event in Parser::new_ext(markdown, options()) {
        if let Event::Start(Tag::Link { link_type: LinkType::WikiLink { .. }, dest_url, .. }) = event {
            let target = dest_url.trim().to_owned();
            if !target.is_empty() && !out.contains(&target) {
                out.push(target);
            }
        }
    }
    out
}

/// GitHub's heading slug: lower case, letters, digits, `-` and `_` kept, spaces to `-`, the rest dropped.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() || c == '-' || c == '_' {
            out.push(c);
        } else if c.is_whitespace() {
            out.push('-');
        }
    }
    if out.is_empty() { "section".to_owned() } else { out }
}

/// Splits plain text at `http(s)://` URLs, so bare URLs become links (GitHub's autolink extension).
fn autolink(text: &str) -> Vec<Event<'static>> {
    let mut events = Vec::new();
    let mut rest = text;
    while let Some(start) = ["https://", "http://"].iter().filter_map(|p| rest.find(p)).min() {
        let tail = &rest[start..];
        let mut end = tail.find(|c: char| c.is_whitespace() || c == '<' || c == '>').unwrap_or(tail.len());
        // Trailing punctuation belongs to the sentence, not the URL.
        while end > 0 && tail[..end].ends_with(['.', ',', ':', ';', '!', '?', ')', '\'', '"']) {
            end -= 1;
        }
        let url = &tail[..end];
        if url.len() <= "https://".len() {
            events.push(Event::Text(CowStr::from(rest[..start + end.max(1)].to_owned())));
            rest = &rest[start + end.max(1)..];
            continue;
        }
        if start > 0 {
            events.push(Event::Text(CowStr::from(rest[..start].to_owned())));
        }
        let dest = CowStr::from(url.to_owned());
        events.push(Event::Start(Tag::Link {
            link_type: LinkType::Autolink,
            dest_url: dest.clone(),
            title: CowStr::from(""),
            id: CowStr::from(""),
        }));
        events.push(Event::Text(dest));
        events.push(Event::End(TagEnd::Link));
        rest = &tail[end..];
    }
    if !rest.is_empty() {
        events.push(Event::Text(CowStr::from(rest.to_owned())));
    }
    events
}

/// Renders Markdown to sanitized HTML with a table of contents; every wiki link shows as broken (see
/// [`render_linked`]).
pub fn render(markdown: &str) -> Rendered {
    render_linked(markdown, &HashMap::new())
}

/// Renders Markdown to sanitized HTML with a table of contents. `links` maps wiki-link targets (as written,
/// trimmed) to where they lead; the others are marked as broken and listed.
pub fn render_linked(markdown: &str, links: &HashMap<String, String>) -> Rendered {
    let events: Vec<Event> = Parser::new_ext(markdown, options()).collect();
    let mut broken: Vec<String> = Vec::new();
    // For each open link: whether it is a broken wiki link (closed with `</span>` instead of `</a>`).
    let mut open_links: Vec<bool> = Vec::new();
    let mut out: Vec<Event> = Vec::with_capacity(events.len());
    let mut toc = Vec::new();
    let mut used: HashMap<String, usize> = HashMap::new();
    let mut link_depth = 0usize;
    let mut code_depth = 0usize;
    let mut i = 0;
    while i < events.len() {
        match &events[i] {
            Event::Start(Tag::Heading { level, classes, attrs, .. }) => {
                // The heading's text decides its anchor.
                let mut text = String::new();
                let mut j = i + 1;
                while j < events.len() && !matches!(events[j], Event::End(TagEnd::Heading(_))) {
                    if let Event::Text(t) | Event::Code(t) = &events[j] {
                        text.push_str(t);
                    }
                    j += 1;
                }
                let base = slug(&text);
                let n = used.entry(base.clone()).or_insert(0);
                let id = if *n == 0 { base.clone() } else { format!("{base}-{n}") };
                *n += 1;
                toc.push(TocEntry { level: heading_number(*level), id: format!("{ID_PREFIX}{id}"), text });
                out.push(Event::Start(Tag::Heading {
                    level: *level,
                    id: Some(CowStr::from(id)),
                    classes: classes.clone(),
                    attrs: attrs.clone(),
                }));
            }
            Event::Start(Tag::Link { link_type: LinkType::WikiLink { .. }, dest_url, title, id }) => {
                link_depth += 1;
                let target = dest_url.trim();
                match links.get(target) {
                    Some(href) => {
                        open_links.push(false);
                        out.push(Event::Start(Tag::Link {
                            link_type: LinkType::Inline,
                            dest_url: CowStr::from(href.clone()),
                            title: title.clone(),
                            id: id.clone(),
                        }));
                    }
                    None => {
                        open_links.push(true);
                        if !broken.iter().any(|b| b == target) {
                            broken.push(target.to_owned());
                        }
                        out.push(Event::InlineHtml(CowStr::from("<span class=\"wikilink-missing\">")));
                    }
                }
            }
            Event::Start(Tag::Link { .. }) => {
                link_depth += 1;
                open_links.push(false);
                out.push(events[i].clone());
            }
            Event::End(TagEnd::Link) => {
                link_depth = link_depth.saturating_sub(1);
                if open_links.pop() == Some(true) {
                    out.push(Event::InlineHtml(CowStr::from("</span>")));
                } else {
                    out.push(events[i].clone());
                }
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                // A fence naming a language the highlighter knows becomes escaped code with `hl-*` spans.
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => highlight::language(info),
                    CodeBlockKind::Indented => String::new(),
                };
                let mut code = String::new();
                let mut j = i + 1;
                while j < events.len() && !matches!(events[j], Event::End(TagEnd::CodeBlock)) {
                    if let Event::Text(t) = &events[j] {
                        code.push_str(t);
                    }
                    j += 1;
                }
                match highlight::highlight(&lang, &code) {
                    Some(html) => {
                        out.push(Event::Html(CowStr::from(format!(
                            "<pre><code class=\"language-{lang}\">{html}</code></pre>\n"
                        ))));
                        i = j;
                    }
                    None => {
                        code_depth += 1;
                        out.push(events[i].clone());
                    }
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                code_depth = code_depth.saturating_sub(1);
                out.push(events[i].clone());
            }
            Event::Text(t) if link_depth == 0 && code_depth == 0 && t.contains("http") => {
                out.extend(autolink(t));
            }
            // Raw HTML passes only when it is made of harmless tags; anything else (`<script>`, `<style>`,
            // `<textarea>`, an unclosed comment) is shown as text, so it cannot swallow the rest of the page.
            Event::Html(h) | Event::InlineHtml(h) if !simple_html(h) => out.push(Event::Text(h.clone())),
            other => out.push(other.clone()),
        }
        i += 1;
    }
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut raw, out.into_iter());
    Rendered { html: sanitize(&raw), toc, broken }
}

/// Elements raw HTML in a page may use (the sanitizer still checks their attributes).
const RAW_HTML_TAGS: [&str; 33] = [
    "a", "b", "i", "em", "strong", "code", "del", "s", "ins", "mark", "kbd", "sub", "sup", "br", "hr", "p", "div",
    "span", "details", "summary", "img", "dl", "dt", "dd", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th",
    "td",
];

/// Whether a chunk of raw HTML holds only [`RAW_HTML_TAGS`] and closed comments.
fn simple_html(html: &str) -> bool {
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        if let Some(comment) = rest.strip_prefix("!--") {
            match comment.find("-->") {
                Some(end) => {
                    rest = &comment[end + 3..];
                    continue;
                }
                None => return false,
            }
        }
        let name: String = rest
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if !RAW_HTML_TAGS.contains(&name.as_str()) {
            return false;
        }
        // The tag must end before anything else starts: an unterminated `<img` would take what follows as its
        // attributes. Quoted values may hold `>`.
        let mut quote = None;
        let mut end = None;
        for (i, c) in rest.char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '>') => {
                    end = Some(i);
                    break;
                }
                (None, '<') => return false,
                _ => {}
            }
        }
        match end {
            Some(i) => rest = &rest[i + 1..],
            None => return false,
        }
    }
    true
}

fn heading_number(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Classes the renderer itself writes; any other class is dropped.
fn allowed_class(element: &str, class: &str) -> bool {
    match element {
        "code" => class.starts_with("language-") && class.len() < 40,
        "blockquote" => class.starts_with("markdown-alert-"),
        "div" => class == "footnote-definition",
        "sup" => class == "footnote-reference",
        "span" => {
            matches!(class, "footnote-definition-label" | "wikilink-missing")
                || matches!(class, "hl-com" | "hl-str" | "hl-num" | "hl-kw" | "hl-key" | "hl-var")
        }
        _ => false,
    }
}

/// The allow list: what Markdown can produce, and nothing that runs, styles or frames.
pub fn sanitize(html: &str) -> String {
    let tags: HashSet<&str> = [
        "a",
        "p",
        "br",
        "hr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "strong",
        "em",
        "del",
        "s",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "img",
        "input",
        "sup",
        "sub",
        "div",
        "span",
        "details",
        "summary",
        "kbd",
        "dl",
        "dt",
        "dd",
    ]
    .into_iter()
    .collect();
    let mut attributes: HashMap<&str, HashSet<&str>> = HashMap::new();
    attributes.insert("a", ["href", "title"].into_iter().collect());
    attributes.insert("img", ["src", "alt", "title", "width", "height"].into_iter().collect());
    attributes.insert("input", ["type", "checked", "disabled"].into_iter().collect());
    attributes.insert("ol", ["start"].into_iter().collect());
    attributes.insert("th", ["align"].into_iter().collect());
    attributes.insert("td", ["align"].into_iter().collect());
    for heading in ["h1", "h2", "h3", "h4", "h5", "h6"] {
        attributes.insert(heading, ["id"].into_iter().collect());
    }
    attributes.insert("div", ["id", "class"].into_iter().collect());
    attributes.insert("sup", ["class"].into_iter().collect());
    attributes.insert("span", ["class"].into_iter().collect());
    attributes.insert("code", ["class"].into_iter().collect());
    attributes.insert("blockquote", ["class"].into_iter().collect());
    ammonia::Builder::default()
        .tags(tags)
        .tag_attributes(attributes)
        .generic_attributes(HashSet::new())
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        .attribute_filter(|element, attribute, value| match (element, attribute) {
            ("input", "type") => (value == "checkbox").then(|| value.into()),
            ("input", "disabled" | "checked") => Some(value.into()),
            (_, "id") => Some(prefixed(value).into()),
            (_, "href") if value.starts_with('#') => Some(format!("#{}", prefixed(&value[1..])).into()),
            (element, "class") => {
                let kept: Vec<&str> = value.split_whitespace().filter(|c| allowed_class(element, c)).collect();
                (!kept.is_empty()).then(|| kept.join(" ").into())
            }
            _ => Some(value.into()),
        })
        .clean(html)
        .to_string()
}

/// The attributes of one tag's text (`a href="x" title='y'`), values unquoted.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = tag.chars().peekable();
    // Skip the element name.
    while chars.peek().is_some_and(|c| !c.is_whitespace()) {
        chars.next();
    }
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == '/') {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() || c == '=' || c == '/' {
                break;
            }
            name.push(c);
            chars.next();
        }
        if name.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            match chars.peek().copied() {
                Some(q @ ('"' | '\'')) => {
                    chars.next();
                    for c in chars.by_ref() {
                        if c == q {
                            break;
                        }
                        value.push(c);
                    }
                }
                _ => {
                    while let Some(&c) = chars.peek() {
                        if c.is_whitespace() {
                            break;
                        }
                        value.push(c);
                        chars.next();
                    }
                }
            }
        }
        out.push((name.to_lowercase(), value));
    }
    out
}

/// The first thing in `html` that could run, style or clobber (a check for tests and fuzzing, not a sanitizer):
/// every tag is inspected (text is escaped, so every `<` starts one) for elements, event handlers, styles, script
/// URLs and ids outside the prefix.
pub fn unsafe_markup(html: &str) -> Option<String> {
    for tag in html.split('<').skip(1).map(|t| t.split('>').next().unwrap_or_default()) {
        let name =
            tag.trim_start_matches('/').split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or_default();
        let name = name.to_lowercase();
        if ["script", "iframe", "object", "embed", "style", "link", "meta", "svg", "math", "form", "body", "base"]
            .contains(&name.as_str())
        {
            return Some(format!("<{tag}>"));
        }
        for (attr, value) in attributes(tag) {
            let lower: String = value.chars().filter(|c| !c.is_whitespace() && !c.is_control()).collect::<String>();
            let lower = lower.to_lowercase();
            let bad = attr.starts_with("on")
                || matches!(attr.as_str(), "style" | "srcdoc" | "background" | "formaction")
                || (matches!(attr.as_str(), "href" | "src")
                    && ["javascript:", "vbscript:", "data:"].iter().any(|s| lower.starts_with(s)))
                || (attr == "id" && !value.starts_with(ID_PREFIX));
            if bad {
                return Some(format!("{attr}=\"{value}\" in <{tag}>"));
            }
        }
    }
    None
}

/// Every id gets the prefix, even one that already starts with it, so a heading's anchor is always the prefix plus
/// its slug (`md-` + `md-intro`) and the table of contents finds it.
fn prefixed(id: &str) -> String {
    format!("{ID_PREFIX}{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenced_code_in_a_known_language_is_highlighted_and_still_sanitized() {
        let r = render("```sh\n# restart\nkubectl rollout restart deploy/api\n```\n\n```\nplain <b>\n```\n");
        assert!(
            r.html.contains("<pre><code class=\"language-sh\"><span class=\"hl-com\"># restart</span>"),
            "{}",
            r.html
        );
        assert!(r.html.contains("<pre><code>plain &lt;b&gt;\n</code></pre>"), "{}", r.html);
        let evil = render("```sh\n</code></pre><script>alert(1)</script>\n```\n");
        assert_eq!(unsafe_markup(&evil.html), None, "{}", evil.html);
        assert!(evil.html.contains("&lt;/code&gt;"), "{}", evil.html);
    }

    #[test]
    fn wiki_links_lead_where_resolved_and_show_as_broken_otherwise() {
        let md = "See [[Restart the payments API]], [[component:payments-api|the API]] and [[Nowhere]].\n\n\
                  `[[not a link]]` [[ Nowhere ]]\n";
        assert_eq!(wiki_targets(md), ["Restart the payments API", "component:payments-api", "Nowhere"]);
        let links: HashMap<String, String> = [
            ("Restart the payments API".to_owned(), "/docs/payments/restart".to_owned()),
            ("component:payments-api".to_owned(), "/catalog/default/component/payments-api".to_owned()),
        ]
        .into_iter()
        .collect();
        let r = render_linked(md, &links);
        let h = &r.html;
        assert!(
            h.contains(
                "<a href=\"/docs/payments/restart\" rel=\"noopener noreferrer nofollow\">Restart the payments API</a>"
            ),
            "{h}"
        );
        assert!(h.contains(">the API</a>"), "the shown text of a piped link: {h}");
        assert!(h.contains("<span class=\"wikilink-missing\">Nowhere</span>"), "{h}");
        assert!(h.contains("<code>[[not a link]]</code>"), "{h}");
        assert_eq!(r.broken, ["Nowhere"]);
        // A target cannot smuggle markup or a script URL through the link.
        let evil = render_linked("[[x\" onclick=\"alert(1)]] [[javascript:alert(1)]]", &HashMap::new());
        assert_eq!(unsafe_markup(&evil.html), None, "{}", evil.html);
        assert!(evil.html.contains("<span class=\"wikilink-missing\">x\" onclick=\"alert(1)</span>"), "{}", evil.html);
        let linked: HashMap<String, String> =
            [("javascript:alert(1)".to_owned(), "javascript:alert(1)".to_owned())].into();
        let r = render_linked("[[javascript:alert(1)]]", &linked);
        assert!(!r.html.contains("javascript:alert(1)\""), "even a resolver's bad URL is sanitized: {}", r.html);
    }

    #[test]
    fn github_flavour_renders() {
        let md = "# Restart the payments API\n\nSee https://status.example.com.\n\n\
                  | step | who |\n|---|---|\n| drain | on-call |\n\n- [x] paged\n- [ ] fixed\n\n~~old~~ new[^1]\n\n\
                  [^1]: a footnote\n\n> [!WARNING]\n> Do not restart both regions at once.\n\n```rust\nfn main() {}\n```\n";
        let r = render(md);
        let h = &r.html;
        assert!(h.contains("<h1 id=\"md-restart-the-payments-api\">Restart the payments API</h1>"), "{h}");
        assert!(h.contains("<a href=\"https://status.example.com\" rel=\"noopener noreferrer nofollow\">https://status.example.com</a>."), "{h}");
        assert!(h.contains("<table>") && h.contains("<td>drain</td>"), "{h}");
        assert!(h.contains("<input disabled=\"\" type=\"checkbox\" checked=\"\">"), "{h}");
        assert!(h.contains("<del>old</del>"), "{h}");
        assert!(h.contains("href=\"#md-1\"") && h.contains("id=\"md-1\""), "footnotes link within the page: {h}");
        assert!(h.contains("<blockquote class=\"markdown-alert-warning\">"), "{h}");
        assert!(h.contains("<code class=\"language-rust\">"), "{h}");
        assert_eq!(
            r.toc,
            vec![TocEntry {
                level: 1,
                id: "md-restart-the-payments-api".into(),
                text: "Restart the payments API".into()
            }]
        );
    }

    #[test]
    fn the_checker_tells_attributes_from_their_values() {
        assert_eq!(unsafe_markup("<img alt=\"turn on the lights\" src=\"x.png\">"), None);
        assert!(unsafe_markup("<img src=x onerror=alert(1)>").is_some());
        assert!(unsafe_markup("<a href=\" JaVaScRiPt:alert(1)\">x</a>").is_some());
        assert!(unsafe_markup("<h1 id=\"x\">").is_some());
        assert_eq!(unsafe_markup("<p>&lt;script&gt;</p>"), None);
    }

    #[test]
    fn raw_html_cannot_swallow_the_rest_of_the_page() {
        // Found by the `markdown` fuzz target: a stray `<script>` made the sanitizer drop everything after it.
        for opener in ["<script>alert(1)", "<style>", "<textarea>", "<title>", "<!-- unclosed", "<xmp>", "<noscript>"] {
            // CommonMark runs a `<script>`, `<style>` or `<textarea>` block to its closing tag, so what follows is
            // shown as written; it is never dropped.
            let r = render(&format!("{opener}\n\n## Still here\n\nand this\n"));
            assert!(r.html.contains("Still here") && r.html.contains("and this"), "{opener}: {}", r.html);
            assert_eq!(unsafe_markup(&r.html), None, "{opener}: {}", r.html);
        }
        // An unterminated tag would take the following heading as its attributes.
        let r = render("<img src=x\n\n# Heading\n");
        assert!(r.html.contains("<h1 id=\"md-heading\">Heading</h1>"), "{}", r.html);
        let kept = render("<details><summary>More</summary>\n\nhidden text\n\n</details>\n\nPress <kbd>Ctrl</kbd>.");
        assert!(kept.html.contains("<details><summary>More</summary>"), "{}", kept.html);
        assert!(kept.html.contains("<kbd>Ctrl</kbd>"), "{}", kept.html);
        assert!(render("a <!-- note --> b").html.contains("a  b"));
    }

    #[test]
    fn anchors_match_the_toc_even_for_headings_that_look_prefixed() {
        // Found by the `markdown` fuzz target.
        let r = render("# md-intro\n\n[x](#md-intro)\n");
        assert_eq!(r.toc[0].id, "md-md-intro");
        assert!(r.html.contains("<h1 id=\"md-md-intro\">"), "{}", r.html);
        assert!(r.html.contains("href=\"#md-md-intro\""), "{}", r.html);
    }

    #[test]
    fn repeated_headings_get_distinct_anchors() {
        let r = render("## Steps\n\n## Steps\n\n## Über `cache`!\n");
        let ids: Vec<&str> = r.toc.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["md-steps", "md-steps-1", "md-über-cache"]);
    }

    #[test]
    fn urls_in_code_and_links_stay_as_written() {
        let h = render("`https://a.example` and [site](https://b.example) and <https://c.example>").html;
        assert!(h.contains("<code>https://a.example</code>"), "{h}");
        assert_eq!(h.matches("<a ").count(), 2, "{h}");
    }

    /// Vectors from OWASP's XSS filter evasion cheat sheet, written as an author might: raw HTML, Markdown links and
    /// images, and attributes. None may produce anything that runs.
    #[test]
    fn owasp_filter_evasion_vectors_render_inert() {
        let vectors = [
            "<script>alert('XSS')</script>",
            "<SCRIPT SRC=https://xss.example/xss.js></SCRIPT>",
            "<IMG SRC=\"javascript:alert('XSS');\">",
            "<IMG SRC=javascript:alert('XSS')>",
            "<IMG SRC=JaVaScRiPt:alert('XSS')>",
            "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
            "<a onmouseover=\"alert(document.cookie)\">xxs link</a>",
            "<IMG \"\"\"><SCRIPT>alert(\"XSS\")</SCRIPT>\"\\>",
            "<IMG SRC=# onmouseover=\"alert('xxs')\">",
            "<IMG SRC=/ onerror=\"alert(String.fromCharCode(88,83,83))\"></img>",
            "<img src=x onerror=\"&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041\">",
            "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>",
            "<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72&#x74&#x28&#x27&#x58&#x53&#x53&#x27&#x29>",
            "<IMG SRC=\"jav\tascript:alert('XSS');\">",
            "<IMG SRC=\"jav&#x09;ascript:alert('XSS');\">",
            "<IMG SRC=\" &#14;  javascript:alert('XSS');\">",
            "<SCRIPT/XSS SRC=\"https://xss.example/xss.js\"></SCRIPT>",
            "<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert(\"XSS\")>",
            "<<SCRIPT>alert(\"XSS\");//\\<</SCRIPT>",
            "<iframe src=https://xss.example/scriptlet.html <",
            "</TITLE><SCRIPT>alert(\"XSS\");</SCRIPT>",
            "<INPUT TYPE=\"IMAGE\" SRC=\"javascript:alert('XSS');\">",
            "<BODY BACKGROUND=\"javascript:alert('XSS')\">",
            "<svg/onload=alert('XSS')>",
            "<LINK REL=\"stylesheet\" HREF=\"javascript:alert('XSS');\">",
            "<STYLE>@import'https://xss.example/xss.css';</STYLE>",
            "<META HTTP-EQUIV=\"refresh\" CONTENT=\"0;url=javascript:alert('XSS');\">",
            "<TABLE BACKGROUND=\"javascript:alert('XSS')\">",
            "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">",
            "<OBJECT TYPE=\"text/x-scriptlet\" DATA=\"https://xss.example/scriptlet.html\"></OBJECT>",
            "<EMBED SRC=\"data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcv\" AllowScriptAccess=\"always\"></EMBED>",
            "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
            "[click](javascript:alert('XSS'))",
            "[click](JaVaScRiPt:alert('XSS'))",
            "[click](vbscript:msgbox('XSS'))",
            "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
            "![x](javascript:alert('XSS'))",
            "[a](https://example.com \"title\" onclick=alert(1))",
            "<details open ontoggle=alert(1)>",
            "<form action=javascript:alert(1)><button>x</button></form>",
            "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
            "<h1 id=\"__RESOLVED_RESOURCES\">clobber</h1>",
            "<div class=\"alert\" style=\"position:fixed\">spoof</div>",
        ];
        for v in vectors {
            let h = render(v).html;
            assert_eq!(unsafe_markup(&h), None, "{v:?}: {h}");
        }
    }
}
