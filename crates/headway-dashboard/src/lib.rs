//! The dashboard's pages: each a template (`templates/`) filled from what
//! `headway-views` computed, so a page shows the API's figures and no others.
//! The server (`headway-server/src/dashboard.rs`) signs people in, reads the
//! views and hands them to these functions.
//!
//! A new page: a template, a `Page` struct and its constructor here (with a
//! test), then a route in the server.

pub mod chart;
mod pages;

pub use pages::*;

/// The stylesheet every page links (`/ui/style.css`).
pub const STYLE: &str = include_str!("../assets/style.css");
