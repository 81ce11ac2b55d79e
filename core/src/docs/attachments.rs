//! Files attached to a docs page: screenshots and diagrams shown in it, PDFs, log excerpts. They live in the
//! database next to the page, so every replica serves the same files and deleting the page deletes them.
//!
//! What is accepted is decided from the content, not from what the browser says: the name's extension picks a
//! type, and the bytes must be that type (a PNG must start like a PNG, a text file must be UTF-8 without NUL
//! bytes). HTML and scripts are never accepted; SVG is, and is served so that it cannot run anything (see
//! [`headers`]).

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use sha2::{Digest, Sha256};

use portolan_types::docs::Attachment;

use super::pages::DocsError;

/// The `doc_attachments` table.
pub mod rows {
    use sea_orm::entity::prelude::*;

    /// A stored file.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "doc_attachments")]
    pub struct Model {
        /// Id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The page.
        pub page_id: i64,
        /// File name, unique on the page.
        pub name: String,
        /// Checked content type.
        pub content_type: String,
        /// Bytes.
        pub size: i64,
        /// SHA-256, hex.
        pub sha256: String,
        /// The content.
        #[sea_orm(column_type = "Blob")]
        pub data: Vec<u8>,
        /// Who uploaded it.
        pub uploaded_by: String,
        /// When.
        pub uploaded_at: DateTimeUtc,
    }

    /// No navigable relations needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The kinds of file a page takes, by extension: the type it is served as and how its content is checked.
const TYPES: &[(&str, &str, Kind)] = &[
    ("png", "image/png", Kind::Magic(&[b"\x89PNG\r\n\x1a\n"])),
    ("jpg", "image/jpeg", Kind::Magic(&[b"\xff\xd8\xff"])),
    ("jpeg", "image/jpeg", Kind::Magic(&[b"\xff\xd8\xff"])),
    ("gif", "image/gif", Kind::Magic(&[b"GIF87a", b"GIF89a"])),
    ("webp", "image/webp", Kind::Webp),
    ("svg", "image/svg+xml", Kind::Svg),
    ("pdf", "application/pdf", Kind::Magic(&[b"%PDF-"])),
    ("zip", "application/zip", Kind::Magic(&[b"PK\x03\x04", b"PK\x05\x06"])),
    ("txt", "text/plain; charset=utf-8", Kind::Text),
    ("log", "text/plain; charset=utf-8", Kind::Text),
    ("md", "text/plain; charset=utf-8", Kind::Text),
    ("csv", "text/csv; charset=utf-8", Kind::Text),
    ("json", "text/plain; charset=utf-8", Kind::Text),
    ("yaml", "text/plain; charset=utf-8", Kind::Text),
    ("yml", "text/plain; charset=utf-8", Kind::Text),
];

#[derive(Clone, Copy)]
enum Kind {
    /// Starts with one of these signatures.
    Magic(&'static [&'static [u8]]),
    /// `RIFF….WEBP`.
    Webp,
    /// UTF-8 text holding an `<svg` element.
    Svg,
    /// UTF-8 text without NUL bytes.
    Text,
}

/// Types a browser may declare that are never accepted, whatever the name says.
const REFUSED_DECLARED: &[&str] = &[
    "text/html",
    "application/xhtml+xml",
    "application/javascript",
    "text/javascript",
    "application/x-msdownload",
    "application/x-sh",
];

/// The accepted extensions, for messages.
pub fn accepted() -> String {
    TYPES.iter().map(|t| t.0).collect::<Vec<_>>().join(", ")
}

/// A name that is safe in a URL, a header and a file system: the last path component, letters, digits, `.`, `-`
/// and `_` only (others become `-`), no leading dot, at most 100 characters, keeping the extension.
pub fn clean_name(name: &str) -> Result<String, DocsError> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    let mut out = String::new();
    for c in base.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '-' };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    let out = out.trim_start_matches(['.', '-']).to_owned();
    let Some((stem, ext)) = out.rsplit_once('.') else {
        return Err(DocsError::Invalid(format!("file: {name:?} has no extension; accepted: {}", accepted())));
    };
    let stem = stem.trim_end_matches(['.', '-']);
    if stem.is_empty() {
        return Err(DocsError::Invalid(format!("file: {name:?} needs a name before the extension")));
    }
    let stem: String = stem.chars().take(90).collect();
    Ok(format!("{stem}.{}", ext.to_ascii_lowercase()))
}

/// Checks a file: its name's extension must be accepted and its content must be of that type (a declared
/// type that contradicts it is refused too). Returns the clean name and the type it is served as.
pub fn check(name: &str, declared: Option<&str>, data: &[u8], max: usize) -> Result<(String, &'static str), DocsError> {
    let name = clean_name(name)?;
    if data.is_empty() {
        return Err(DocsError::Invalid(format!("file: {name} is empty")));
    }
    if data.len() > max {
        return Err(DocsError::Invalid(format!("file: {name} is {} bytes; files may be at most {max}", data.len())));
    }
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    let Some(&(_, content_type, kind)) = TYPES.iter().find(|t| t.0 == ext) else {
        return Err(DocsError::Invalid(format!("file: .{ext} files are not accepted; accepted: {}", accepted())));
    };
    let essence = |t: &str| t.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if let Some(declared) = declared.map(essence).filter(|d| !d.is_empty()) {
        let expected = essence(content_type);
        let binary_claim =
            declared.starts_with("image/") || declared == "application/pdf" || declared == "application/zip";
        let same = declared == expected || (expected == "image/jpeg" && declared == "image/pjpeg");
        if REFUSED_DECLARED.contains(&declared.as_str()) || (binary_claim && !same) {
            return Err(DocsError::Invalid(format!("file: {name} was sent as {declared}, which a .{ext} file is not")));
        }
    }
    let text = || std::str::from_utf8(data).ok().filter(|t| !t.contains('\0'));
    let fits = match kind {
        Kind::Magic(signatures) => signatures.iter().any(|s| data.starts_with(s)),
        Kind::Webp => data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP",
        Kind::Svg => text().is_some_and(|t| t.contains("<svg")),
        Kind::Text => text().is_some(),
    };
    if !fits {
        return Err(DocsError::Invalid(format!(
            "file: {name} is not a valid .{ext} file (its content does not match its name)"
        )));
    }
    Ok((name, content_type))
}

/// Where a file is served.
pub fn url(id: i64, name: &str) -> String {
    format!("/files/{id}/{name}")
}

/// The headers a file is served with. Every file gets a sandboxing content security policy (an SVG or a PDF
/// opened directly cannot run scripts or reach anything), `nosniff` comes from the global layer, and anything
/// that is not a raster image, a PDF or plain text is a download rather than shown.
pub fn headers(content_type: &str, name: &str) -> [(&'static str, String); 4] {
    let inline = content_type.starts_with("image/") && content_type != "image/svg+xml"
        || content_type == "application/pdf"
        || content_type.starts_with("text/");
    [
        ("content-type", content_type.to_owned()),
        ("content-disposition", format!("{}; filename=\"{name}\"", if inline { "inline" } else { "attachment" })),
        (
            "content-security-policy",
            "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox".to_owned(),
        ),
        ("cross-origin-resource-policy", "same-origin".to_owned()),
    ]
}

fn view(m: rows::Model) -> Attachment {
    let url = url(m.id, &m.name);
    let markdown = if m.content_type.starts_with("image/") {
        format!("![{}]({url})", m.name)
    } else {
        format!("[{}]({url})", m.name)
    };
    Attachment {
        id: m.id,
        page_id: m.page_id,
        name: m.name,
        content_type: m.content_type,
        size: m.size,
        sha256: m.sha256,
        uploaded_by: m.uploaded_by,
        uploaded_at: m.uploaded_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        url,
        markdown,
    }
}

/// Stores a checked file on a page; the same name again replaces the file. Audited.
pub async fn store(
    db: &DatabaseConnection,
    actor: &str,
    page_id: i64,
    name: &str,
    declared: Option<&str>,
    data: &[u8],
    max: usize,
) -> Result<Attachment, DocsError> {
    let (name, content_type) = check(name, declared, data, max)?;
    let sha = hex::encode(Sha256::digest(data));
    let txn = crate::db::begin_write(db).await?;
    super::pages::page_rows::Entity::find_by_id(page_id).one(&txn).await?.ok_or(DocsError::NotFound)?;
    let existing = rows::Entity::find()
        .filter(rows::Column::PageId.eq(page_id))
        .filter(rows::Column::Name.eq(&name))
        .select_only()
        .column(rows::Column::Id)
        .into_tuple::<i64>()
        .one(&txn)
        .await?;
    let mut row = rows::ActiveModel {
        page_id: Set(page_id),
        name: Set(name.clone()),
        content_type: Set(content_type.to_owned()),
        size: Set(i64::try_from(data.len()).unwrap_or(i64::MAX)),
        sha256: Set(sha.clone()),
        data: Set(data.to_vec()),
        uploaded_by: Set(actor.to_owned()),
        uploaded_at: Set(Utc::now()),
        ..Default::default()
    };
    let saved = match existing {
        Some(id) => {
            row.id = Set(id);
            row.update(&txn).await?
        }
        None => row.insert(&txn).await?,
    };
    let target = format!("page:{page_id}");
    crate::audit::record(
        &txn,
        crate::audit::Entry {
            actor,
            action: "docs.attachment.upload",
            target: Some(&target),
            detail: Some(
                serde_json::json!({"name": name, "size": data.len(), "sha256": sha, "replaced": existing.is_some()}),
            ),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(view(saved))
}

/// A file's row without its content.
#[derive(sea_orm::FromQueryResult)]
struct Meta {
    id: i64,
    page_id: i64,
    name: String,
    content_type: String,
    size: i64,
    sha256: String,
    uploaded_by: String,
    uploaded_at: chrono::DateTime<Utc>,
}

/// A page's files by name, without their content.
pub async fn list<C: ConnectionTrait>(db: &C, page_id: i64) -> Result<Vec<Attachment>, DbErr> {
    let found = rows::Entity::find()
        .filter(rows::Column::PageId.eq(page_id))
        .order_by_asc(rows::Column::Name)
        .select_only()
        .columns([
            rows::Column::Id,
            rows::Column::PageId,
            rows::Column::Name,
            rows::Column::ContentType,
            rows::Column::Size,
            rows::Column::Sha256,
            rows::Column::UploadedBy,
            rows::Column::UploadedAt,
        ])
        .into_model::<Meta>()
        .all(db)
        .await?;
    Ok(found
        .into_iter()
        .map(|m| {
            view(rows::Model {
                id: m.id,
                page_id: m.page_id,
                name: m.name,
                content_type: m.content_type,
                size: m.size,
                sha256: m.sha256,
                data: Vec::new(),
                uploaded_by: m.uploaded_by,
                uploaded_at: m.uploaded_at,
            })
        })
        .collect())
}

/// A file with its content.
pub async fn get(db: &DatabaseConnection, id: i64) -> Result<Option<rows::Model>, DbErr> {
    rows::Entity::find_by_id(id).one(db).await
}

/// A file's metadata (which page it is on, for permission checks).
pub async fn find(db: &DatabaseConnection, id: i64) -> Result<Option<Attachment>, DbErr> {
    Ok(get(db, id).await?.map(view))
}

/// Removes a file. Audited.
pub async fn delete(db: &DatabaseConnection, actor: &str, id: i64) -> Result<(), DocsError> {
    let txn = crate::db::begin_write(db).await?;
    let found = rows::Entity::find_by_id(id)
        .select_only()
        .columns([rows::Column::PageId, rows::Column::Name])
        .into_tuple::<(i64, String)>()
        .one(&txn)
        .await?
        .ok_or(DocsError::NotFound)?;
    rows::Entity::delete_by_id(id).exec(&txn).await?;
    let target = format!("page:{}", found.0);
    crate::audit::record(
        &txn,
        crate::audit::Entry {
            actor,
            action: "docs.attachment.delete",
            target: Some(&target),
            detail: Some(serde_json::json!({"name": found.1})),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn names_lose_paths_and_odd_characters_but_keep_their_extension() {
        assert_eq!(clean_name("../../etc/passwd.txt").unwrap(), "passwd.txt");
        assert_eq!(clean_name("C:\\Users\\me\\Deploy flow (v2).PNG").unwrap(), "Deploy-flow-v2.png");
        assert_eq!(clean_name(".htaccess.txt").unwrap(), "htaccess.txt");
        assert!(clean_name("README").is_err());
        assert!(clean_name(".png").is_err());
        assert!(clean_name("a\"b.png").unwrap().chars().all(|c| c != '"'), "no quote can reach a header");
    }

    #[test]
    fn content_must_be_what_the_name_says() {
        assert_eq!(check("graph.png", Some("image/png"), PNG, 100).unwrap(), ("graph.png".to_owned(), "image/png"));
        // A script renamed to .png, HTML as .txt's declared type, an executable.
        let e = check("graph.png", Some("image/png"), b"<script>alert(1)</script>", 100).unwrap_err();
        assert!(e.to_string().contains("not a valid .png"), "{e}");
        assert!(check("notes.txt", Some("text/html"), b"<b>hi</b>", 100).is_err());
        assert!(check("tool.exe", None, b"MZ\x90\0", 100).unwrap_err().to_string().contains("not accepted"));
        assert!(check("page.html", None, b"<p>", 100).is_err());
        // A PNG claimed to be a JPEG.
        assert!(check("graph.jpg", Some("image/jpeg"), PNG, 100).is_err());
        assert!(check("graph.png", Some("image/jpeg"), PNG, 100).is_err());
        // Text must be UTF-8 without NUL; SVG must hold an svg element.
        assert!(check("log.txt", None, b"ok\0", 100).is_err());
        assert!(check("log.txt", Some("application/octet-stream"), "fine \u{2713}".as_bytes(), 100).is_ok());
        assert!(check("d.svg", Some("image/svg+xml"), b"<svg xmlns='http://www.w3.org/2000/svg'/>", 100).is_ok());
        assert!(check("d.svg", None, b"<html><script>x</script>", 100).is_err());
        assert!(check("d.webp", None, b"RIFF\0\0\0\0WEBPVP8 ", 100).is_ok());
    }

    #[test]
    fn size_is_limited_and_empty_files_refused() {
        assert!(check("a.txt", None, b"", 10).unwrap_err().to_string().contains("empty"));
        let e = check("a.txt", None, &[b'a'; 11], 10).unwrap_err();
        assert!(e.to_string().contains("at most 10"), "{e}");
    }

    #[test]
    fn only_raster_images_pdf_and_text_are_shown_inline_and_all_are_sandboxed() {
        let get = |t: &str, h: &str| headers(t, "x").iter().find(|(k, _)| *k == h).map(|(_, v)| v.clone()).unwrap();
        assert!(get("image/png", "content-disposition").starts_with("inline"));
        assert!(get("image/svg+xml", "content-disposition").starts_with("attachment"));
        assert!(get("application/zip", "content-disposition").starts_with("attachment"));
        assert!(get("image/svg+xml", "content-security-policy").contains("sandbox"));
    }
}
