//! The admin pages as maud functions: plain data in, [`maud::Markup`] out, HTML-escaped by construction.
//!
//! No view writes a style or script inline (the CSP allows neither): styling is classes from `app.css`, and what
//! the script needs travels in `data-*` attributes. `PreEscaped` appears only through `maud::DOCTYPE`. Untrusted
//! values never go into URL attributes except as path segments the router has already checked and query strings
//! built with percent-encoding.

mod forms;
mod keys;
mod key_row;
mod layout;
mod pages;

pub use keys::{keys_page, list_url, KeysPage, Notice};
pub use layout::{Chrome, CSRF_FIELD};
pub use pages::{error_page, login_page, overview_page, ThrottleView};
