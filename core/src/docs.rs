//! Runbooks, guides and reference pages: the Markdown renderer every page goes through, and pages with revisions
//! whose saves never overwrite each other.

pub mod attachments;
pub mod cache;
pub mod diff;
pub mod guides;
pub mod highlight;
pub mod markdown;
pub mod pages;
pub mod techdocs;
