//! Server-side syntax highlighting for fenced code blocks: a small lexer per language family that marks comments,
//! strings, numbers, keywords and keys with `hl-*` classes (styled by the portal's CSS, light and dark). It is
//! deliberately lexical, not a parser: a runbook's shell, YAML and SQL read better with colour, and nothing here
//! runs in the browser. The output is HTML-escaped text and `<span class="hl-…">` only; the page sanitizer still
//! checks it.

/// How one language's text is cut into tokens.
struct Lang {
    /// Comments to the end of the line.
    line_comments: &'static [&'static str],
    /// Block comment delimiters.
    block_comment: Option<(&'static str, &'static str)>,
    /// String quotes.
    quotes: &'static [char],
    /// Keywords (compared lower-cased when `case_insensitive`).
    keywords: &'static [&'static str],
    case_insensitive: bool,
    /// `key:` (YAML) or `"key":` (JSON) and `key =` (TOML) are keys.
    keys: Keys,
    /// `$NAME` and `${NAME}` are variables (shell, Dockerfile).
    variables: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Keys {
    None,
    /// A word or string followed by `:`.
    Colon,
    /// A word at the start of a line followed by `=`.
    Equals,
}

const RUST: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn",
    "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self",
    "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while",
];
const PYTHON: &[&str] = &[
    "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else", "except",
    "False", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "None", "nonlocal", "not", "or",
    "pass", "raise", "return", "True", "try", "while", "with", "yield",
];
const JS: &[&str] = &[
    "async",
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "default",
    "delete",
    "do",
    "else",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "from",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "interface",
    "let",
    "new",
    "null",
    "return",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "type",
    "typeof",
    "undefined",
    "var",
    "void",
    "while",
    "yield",
];
const GO: &[&str] = &[
    "break",
    "case",
    "chan",
    "const",
    "continue",
    "default",
    "defer",
    "else",
    "fallthrough",
    "false",
    "for",
    "func",
    "go",
    "goto",
    "if",
    "import",
    "interface",
    "map",
    "nil",
    "package",
    "range",
    "return",
    "select",
    "struct",
    "switch",
    "true",
    "type",
    "var",
];
const SHELL: &[&str] = &[
    "case", "do", "done", "elif", "else", "esac", "exit", "export", "fi", "for", "function", "if", "in", "local",
    "readonly", "return", "set", "then", "until", "while",
];
const SQL: &[&str] = &[
    "add", "alter", "and", "as", "asc", "begin", "by", "case", "commit", "create", "delete", "desc", "distinct",
    "drop", "else", "end", "exists", "from", "group", "having", "in", "index", "insert", "into", "is", "join", "left",
    "limit", "not", "null", "on", "or", "order", "primary", "key", "rollback", "select", "set", "table", "then",
    "union", "update", "values", "when", "where", "with",
];
const DOCKERFILE: &[&str] = &[
    "add",
    "arg",
    "as",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "run",
    "shell",
    "user",
    "volume",
    "workdir",
];
const DATA: &[&str] = &["true", "false", "null", "yes", "no", "on", "off", "~"];
const GRAPHQL: &[&str] = &[
    "directive",
    "enum",
    "extend",
    "false",
    "fragment",
    "implements",
    "input",
    "interface",
    "mutation",
    "null",
    "on",
    "query",
    "scalar",
    "schema",
    "subscription",
    "true",
    "type",
    "union",
];
const PROTOBUF: &[&str] = &[
    "bool", "bytes", "double", "enum", "extend", "false", "float", "import", "int32", "int64", "map", "message",
    "oneof", "option", "optional", "package", "repeated", "reserved", "returns", "rpc", "service", "stream", "string",
    "syntax", "true", "uint32", "uint64",
];

fn lang(name: &str) -> Option<Lang> {
    let base = Lang {
        line_comments: &["//"],
        block_comment: Some(("/*", "*/")),
        quotes: &['"', '\''],
        keywords: &[],
        case_insensitive: false,
        keys: Keys::None,
        variables: false,
    };
    Some(match name {
        "rust" | "rs" => Lang { keywords: RUST, quotes: &['"'], ..base },
        "python" | "py" => Lang { line_comments: &["#"], block_comment: None, keywords: PYTHON, ..base },
        "javascript" | "js" | "typescript" | "ts" | "jsx" | "tsx" => {
            Lang { keywords: JS, quotes: &['"', '\'', '`'], ..base }
        }
        "go" | "golang" => Lang { keywords: GO, quotes: &['"', '`'], ..base },
        "sh" | "bash" | "shell" | "console" | "zsh" => {
            Lang { line_comments: &["#"], block_comment: None, keywords: SHELL, variables: true, ..base }
        }
        "sql" | "postgresql" | "psql" => {
            Lang { line_comments: &["--"], keywords: SQL, case_insensitive: true, quotes: &['\''], ..base }
        }
        "yaml" | "yml" => {
            Lang { line_comments: &["#"], block_comment: None, keywords: DATA, keys: Keys::Colon, ..base }
        }
        "json" | "jsonc" => Lang { keywords: DATA, keys: Keys::Colon, quotes: &['"'], ..base },
        "toml" | "ini" => {
            Lang { line_comments: &["#", ";"], block_comment: None, keywords: DATA, keys: Keys::Equals, ..base }
        }
        "graphql" | "gql" => Lang { line_comments: &["#"], block_comment: None, keywords: GRAPHQL, ..base },
        "protobuf" | "proto" | "grpc" => Lang { keywords: PROTOBUF, quotes: &['"'], ..base },
        "dockerfile" | "docker" => Lang {
            line_comments: &["#"],
            block_comment: None,
            keywords: DOCKERFILE,
            case_insensitive: true,
            variables: true,
            ..base
        },
        _ => return None,
    })
}

/// The language name of a fence's info string (`rust,ignore` → `rust`), lower-cased, only `a-z0-9+#-`.
pub fn language(info: &str) -> String {
    info.split([' ', ',', '{'])
        .next()
        .unwrap_or("")
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '-'))
        .take(30)
        .collect()
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn span(out: &mut String, class: &str, text: &str) {
    out.push_str("<span class=\"hl-");
    out.push_str(class);
    out.push_str("\">");
    escape_into(out, text);
    out.push_str("</span>");
}

/// The code as escaped HTML with `hl-*` spans, or `None` for a language it does not know.
pub fn highlight(language: &str, code: &str) -> Option<String> {
    let l = lang(language)?;
    let mut out = String::with_capacity(code.len() * 2);
    let bytes = code.as_bytes();
    let mut i = 0;
    let mut line_start = true;
    while i < code.len() {
        let rest = &code[i..];
        let c = rest.chars().next().unwrap_or(' ');
        if let Some(marker) = l.line_comments.iter().find(|m| rest.starts_with(**m)) {
            // `#` starts a shell comment only at a word boundary (`a#b` and `$#` are not comments).
            let boundary = i == 0 || bytes[i - 1].is_ascii_whitespace();
            if *marker != "#" || boundary {
                let end = rest.find('\n').unwrap_or(rest.len());
                span(&mut out, "com", &rest[..end]);
                i += end;
                continue;
            }
        }
        if let Some((open, close)) = l.block_comment
            && rest.starts_with(open)
        {
            let end = rest[open.len()..].find(close).map_or(rest.len(), |e| e + open.len() + close.len());
            span(&mut out, "com", &rest[..end]);
            i += end;
            continue;
        }
        if l.quotes.contains(&c) {
            let mut end = c.len_utf8();
            let mut escaped = false;
            for (j, ch) in rest[end..].char_indices() {
                if escaped {
                    escaped = false;
                } else if ch == '\\' {
                    escaped = true;
                } else if ch == c {
                    end += j + ch.len_utf8();
                    break;
                } else if ch == '\n' && c != '`' {
                    end += j;
                    break;
                }
                if j + ch.len_utf8() + 1 == rest.len() {
                    end = rest.len();
                }
            }
            let end = end.min(rest.len());
            let text = &rest[..end];
            let is_key = l.keys == Keys::Colon && rest[end..].trim_start_matches([' ', '\t']).starts_with(':');
            span(&mut out, if is_key { "key" } else { "str" }, text);
            i += end;
            line_start = false;
            continue;
        }
        if l.variables && c == '$' {
            let tail = &rest[1..];
            let len = if tail.starts_with('{') {
                tail.find('}').map_or(tail.len(), |e| e + 1)
            } else {
                tail.find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_')).unwrap_or(tail.len())
            };
            if len > 0 {
                span(&mut out, "var", &rest[..=len]);
                i += len + 1;
                line_start = false;
                continue;
            }
        }
        if c.is_ascii_digit() && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')) {
            let end =
                rest.find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '.' || ch == '_')).unwrap_or(rest.len());
            span(&mut out, "num", &rest[..end]);
            i += end;
            line_start = false;
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let end = rest
                .find(|ch: char| !(ch.is_alphanumeric() || ch == '_' || (l.keys != Keys::None && ch == '-')))
                .unwrap_or(rest.len());
            let word = &rest[..end];
            let after = rest[end..].trim_start_matches([' ', '\t']);
            let is_key = match l.keys {
                Keys::Colon => after.starts_with(':') && !after.starts_with("::"),
                Keys::Equals => line_start && after.starts_with('='),
                Keys::None => false,
            };
            let is_keyword = if l.case_insensitive {
                l.keywords.contains(&word.to_lowercase().as_str())
            } else {
                l.keywords.contains(&word)
            };
            if is_key {
                span(&mut out, "key", word);
            } else if is_keyword {
                span(&mut out, "kw", word);
            } else {
                escape_into(&mut out, word);
            }
            i += end;
            line_start = false;
            continue;
        }
        escape_into(&mut out, &rest[..c.len_utf8()]);
        if c == '\n' {
            line_start = true;
        } else if !(c.is_whitespace() || (l.keys == Keys::Colon && c == '-')) {
            line_start = false;
        }
        i += c.len_utf8();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_marks_comments_strings_variables_and_keywords() {
        let h = highlight("sh", "# drain first\nif [ \"$ENV\" = prod ]; then kubectl drain ${NODE}; fi\n").unwrap();
        assert!(h.contains("<span class=\"hl-com\"># drain first</span>"), "{h}");
        assert!(h.contains("<span class=\"hl-kw\">if</span>") && h.contains("<span class=\"hl-kw\">fi</span>"), "{h}");
        assert!(h.contains("<span class=\"hl-str\">&quot;$ENV&quot;</span>"), "{h}");
        assert!(h.contains("<span class=\"hl-var\">${NODE}</span>"), "{h}");
        assert!(!highlight("sh", "echo a#b").unwrap().contains("hl-com"), "# inside a word is no comment");
    }

    #[test]
    fn yaml_and_json_keys_differ_from_values() {
        let y = highlight("yaml", "spec:\n  owner: payments # the team\n  replicas: 3\n  enabled: true\n").unwrap();
        assert!(
            y.contains("<span class=\"hl-key\">spec</span>:") && y.contains("<span class=\"hl-key\">owner</span>"),
            "{y}"
        );
        assert!(
            y.contains("<span class=\"hl-num\">3</span>") && y.contains("<span class=\"hl-kw\">true</span>"),
            "{y}"
        );
        assert!(y.contains("<span class=\"hl-com\"># the team</span>"), "{y}");
        let j = highlight("json", r#"{"name": "api", "port": 8080}"#).unwrap();
        assert!(j.contains("<span class=\"hl-key\">&quot;name&quot;</span>"), "{j}");
        assert!(j.contains("<span class=\"hl-str\">&quot;api&quot;</span>"), "{j}");
    }

    #[test]
    fn sql_keywords_in_any_case_and_rust_keeps_generics_escaped() {
        let s = highlight("sql", "SELECT id FROM pages -- all\nwhere x = 'a''b'").unwrap();
        assert!(
            s.contains("<span class=\"hl-kw\">SELECT</span>") && s.contains("<span class=\"hl-kw\">where</span>"),
            "{s}"
        );
        assert!(s.contains("<span class=\"hl-com\">-- all</span>"), "{s}");
        let r = highlight("rust", "fn f() -> Vec<u8> { /* x */ 1 }").unwrap();
        assert!(r.contains("Vec&lt;u8&gt;") && r.contains("<span class=\"hl-com\">/* x */</span>"), "{r}");
    }

    #[test]
    fn graphql_and_protobuf_api_definitions() {
        let g = highlight("graphql", "# payments\ntype Query {\n  payment(id: ID!): Payment\n}\n").unwrap();
        assert!(
            g.contains("<span class=\"hl-com\"># payments</span>") && g.contains("<span class=\"hl-kw\">type</span>"),
            "{g}"
        );
        let p = highlight("proto", "service Pay { rpc Capture (Req) returns (Resp); } // v1").unwrap();
        assert!(
            p.contains("<span class=\"hl-kw\">rpc</span>") && p.contains("<span class=\"hl-kw\">returns</span>"),
            "{p}"
        );
        assert!(p.contains("<span class=\"hl-com\">// v1</span>"), "{p}");
    }

    #[test]
    fn unknown_languages_are_left_alone_and_nothing_unescaped_gets_through() {
        assert!(highlight("brainfuck", "+++").is_none());
        assert_eq!(language("rust,ignore"), "rust");
        assert_eq!(language("\"><script>"), "script");
        for lang in
            ["sh", "yaml", "json", "sql", "rust", "python", "js", "go", "toml", "dockerfile", "graphql", "proto"]
        {
            for code in
                ["</code><script>alert(1)</script>", "\"<img src=x onerror=alert(1)>", "'unterminated <b>", "/* <i>"]
            {
                let h = highlight(lang, code).unwrap();
                assert!(
                    !h.contains("<script") && !h.contains("<img") && !h.contains("<b>") && !h.contains("<i>"),
                    "{lang}: {h}"
                );
            }
        }
    }
}
