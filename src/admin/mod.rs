//! The admin site's policy: everything the operator's page and the JSON admin API decide, with no `worker` types,
//! so all of it is unit-tested on the host.
//!
//! Sessions and CSRF tokens ([`session`]), pasted-key parsing ([`bulk`]), the
//! commands both surfaces run and their validation ([`commands`]), list queries and paging ([`listing`]), the rows
//! the admin store reads ([`rows`]), the route table ([`routes`]), wire formats ([`wire`]), words in English and
//! Simplified Chinese ([`i18n`]), display formatting ([`display`]), the shipped stylesheet and script ([`assets`]),
//! and the HTML itself ([`views`], maud: escaped by construction). The limit on failed sign-ins is the crate-wide
//! `crate::guess_limit`. The I/O that applies these decisions lives in `edge::admin`.

pub mod assets;
pub mod bulk;
pub mod commands;
pub mod display;
pub mod i18n;
pub mod listing;
pub mod rows;
pub mod routes;
pub mod session;
pub mod views;
pub mod wire;
