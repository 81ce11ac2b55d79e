//! Portolan's server-side core: configuration, database access, domain services and clients for external
//! systems. It knows nothing of HTTP or Leptos; the `server` crate and the `app` crate's server functions call
//! into it and convert its errors at their own boundary.

pub mod access;
pub mod audit;
pub mod auth;
pub mod bounded;
pub mod catalog;
pub mod config;
pub mod cost;
pub mod db;
pub mod demo;
pub mod deploys;
pub mod docs;
pub mod github;
pub mod health;
pub mod scaffold;
pub mod search;
pub mod state;
pub mod webhooks;

pub use config::{Config, Secret};
pub use state::AppState;
