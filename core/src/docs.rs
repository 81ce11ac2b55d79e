//! Runbooks, guides and reference pages. So far: the Markdown renderer every page goes through.

pub mod markdown;
