//! The small pages: sign-in, the providers overview, and the error page (misconfiguration, refused form, not
//! found).

use super::layout::{frame, Chrome};
use crate::admin::records::ProviderLine;
use maud::{html, Markup};

/// The sign-in form, with a message after a failed attempt.
pub fn login_page(chrome: &Chrome, message: Option<&str>) -> Markup {
    let t = chrome.lang.text();
    frame(
        chrome,
        t.login_title,
        true,
        html! {
            div.card {
                h1 { (t.login_title) }
                p.muted { (t.login_hint) }
                @if let Some(message) = message {
                    p.error role="alert" { (message) }
                }
                form method="post" action="/login" {
                    label for="auth_key" { (t.auth_key_label) }
                    input #auth_key type="password" name="auth_key" autocomplete="current-password" required autofocus;
                    p { button.primary type="submit" { (t.login_button) } }
                }
            }
        },
    )
}

fn count_badge(class: &str, count: u64) -> Markup {
    html! {
        @if count == 0 {
            span.badge.zero { "0" }
        } @else {
            span class={ "badge " (class) } { (count) }
        }
    }
}

/// Every provider with its counts, and a form to open any slug.
pub fn overview_page(chrome: &Chrome, lines: &[ProviderLine]) -> Markup {
    let t = chrome.lang.text();
    frame(
        chrome,
        t.providers_title,
        false,
        html! {
            h1 { (t.providers_title) }
            table.providers {
                thead {
                    tr {
                        th { (t.col_provider) }
                        th.num { (t.active) }
                        th.num { (t.cooling) }
                        th.num { (t.blocked) }
                        th.num { (t.total) }
                    }
                }
                tbody {
                    @for line in lines {
                        tr data-provider=(line.provider) {
                            td {
                                a href={ "/keys/" (line.provider) } { (line.provider) }
                                @if !line.known {
                                    " " span.small-text.muted { "(" (t.unknown_provider) ")" }
                                }
                            }
                            td.num { (count_badge("active", line.counts.active)) }
                            td.num { (count_badge("cooling", line.counts.cooling)) }
                            td.num { (count_badge("blocked", line.counts.blocked)) }
                            td.num { (line.counts.total()) }
                        }
                    }
                }
            }
            form.card method="get" action="/keys" {
                label for="goto" { (t.goto_label) }
                div.row {
                    input #goto type="text" name="provider" required autocomplete="off" spellcheck="false" placeholder="google-ai-studio";
                    button type="submit" { (t.goto_button) }
                }
            }
        },
    )
}

/// An error page: a title, what happened, and an optional hint on what to do.
pub fn error_page(chrome: &Chrome, title: &str, message: &str, hint: Option<&str>) -> Markup {
    let t = chrome.lang.text();
    frame(
        chrome,
        title,
        true,
        html! {
            div.card {
                h1 { (title) }
                p.error role="alert" { (message) }
                @if let Some(hint) = hint {
                    p { (hint) }
                }
                p { a href="/" { (t.back_home) } }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::i18n::Lang;
    use crate::admin::records::Counts;

    fn chrome() -> Chrome<'static> {
        Chrome { lang: Lang::En, here: "/", csrf: Some("tok") }
    }

    #[test]
    fn the_login_form_posts_auth_key_and_escapes_the_message() {
        let html = login_page(&Chrome { lang: Lang::En, here: "/login", csrf: None }, Some("<b>no</b>")).into_string();
        assert!(html.contains(r#"<form method="post" action="/login">"#), "{html}");
        assert!(html.contains(r#"name="auth_key""#) && html.contains(r#"type="password""#));
        assert!(html.contains("&lt;b&gt;no&lt;/b&gt;") && !html.contains("<b>no"));
    }

    #[test]
    fn the_overview_shows_counts_and_marks_unknown_slugs() {
        let lines = vec![
            ProviderLine { provider: "openai".to_string(), known: true, counts: Counts { active: 3, cooling: 1, blocked: 0 } },
            ProviderLine { provider: "my-proxy".to_string(), known: false, counts: Counts { active: 1, ..Default::default() } },
        ];
        let html = overview_page(&chrome(), &lines).into_string();
        assert!(html.contains(r#"<a href="/keys/openai">openai</a>"#), "{html}");
        assert!(html.contains(r#"<span class="badge active">3</span>"#));
        assert!(html.contains(r#"<span class="badge zero">0</span>"#));
        assert!(html.contains("not served by this Worker"));
        assert!(html.contains(r#"action="/keys""#));
    }

    #[test]
    fn the_error_page_escapes_its_message() {
        let html = error_page(&chrome(), "Oops", "<script>alert(1)</script>", Some("hint")).into_string();
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.contains("<script>alert"));
    }
}
