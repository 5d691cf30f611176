//! The frame every admin page shares: head (stylesheet and deferred script, both versioned), the top bar with the
//! language switch and, when signed in, navigation and the logout form.

use crate::admin::assets::{CSS_VERSION, JS_VERSION};
use crate::admin::i18n::Lang;
use maud::{html, Markup, DOCTYPE};

/// The form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// What the frame needs to know about the request.
pub struct Chrome<'a> {
    /// The page's language.
    pub lang: Lang,
    /// This page's local URL (path and query, without `lang`), for the language switch.
    pub here: &'a str,
    /// The session's CSRF token when signed in: shows navigation and the logout button.
    pub csrf: Option<&'a str>,
}

/// `here` with `lang` set: the language switch's link. `here` must be a local path (starting with one `/`).
pub fn lang_link(here: &str, lang: Lang) -> String {
    let separator = if here.contains('?') { '&' } else { '?' };
    format!("{here}{separator}lang={}", lang.code())
}

/// The hidden CSRF field of a form.
pub fn csrf_input(csrf: &str) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(csrf); }
}

/// A whole page around `body`.
pub fn frame(chrome: &Chrome, title: &str, narrow: bool, body: Markup) -> Markup {
    let t = chrome.lang.text();
    html! {
        (DOCTYPE)
        html lang=(t.html_lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · one-balance" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href={ "/assets/app.css?v=" (CSS_VERSION) };
                script src={ "/assets/app.js?v=" (JS_VERSION) } defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "one-balance" }
                    nav {
                        @if chrome.csrf.is_some() {
                            a href="/" { (t.nav_providers) }
                        }
                        span.langs {
                            @for lang in Lang::ALL {
                                @if lang == chrome.lang {
                                    span.current { (lang.text().lang_name) }
                                } @else {
                                    a href=(lang_link(chrome.here, lang)) hreflang=(lang.text().html_lang) { (lang.text().lang_name) }
                                }
                            }
                        }
                        @if let Some(csrf) = chrome.csrf {
                            form method="post" action="/logout" {
                                (csrf_input(csrf))
                                button.link type="submit" { (t.logout) }
                            }
                        }
                    }
                }
                main class=[narrow.then_some("narrow")] { (body) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_links_versioned_assets_and_has_no_inline_code() {
        let html = frame(&Chrome { lang: Lang::En, here: "/", csrf: None }, "T", false, html! { p { "x" } }).into_string();
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\">"), "{html}");
        assert!(html.contains(&format!("/assets/app.css?v={CSS_VERSION}")));
        assert!(html.contains(&format!("<script src=\"/assets/app.js?v={JS_VERSION}\" defer></script>")));
        assert!(!html.contains("style=") && !html.contains("<style") && !html.contains("onclick"));
        assert!(!html.contains("/logout"), "signed out: no logout form");
    }

    #[test]
    fn signed_in_pages_offer_logout_with_the_csrf_token() {
        let html = frame(&Chrome { lang: Lang::Zh, here: "/keys/openai?q=a", csrf: Some("tok") }, "T", false, html! {}).into_string();
        assert!(html.contains(r#"<input type="hidden" name="csrf" value="tok">"#), "{html}");
        assert!(html.contains(r#"href="/keys/openai?q=a&amp;lang=en""#), "{html}");
        assert!(html.contains("lang=\"zh-CN\""));
    }
}
