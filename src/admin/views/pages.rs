//! The small pages: sign-in, the providers overview (with the isolate's pool-wide throttle figures), and the error
//! page (misconfiguration, refused form, not found).

use super::layout::{frame, Chrome};
use crate::admin::display::{self, duration};
use crate::admin::i18n::{fill, Text};
use crate::admin::rows::ProviderLine;
use crate::attempt::AffinityFigures;
use crate::breaker::{Figures, BreakerConfig};
use maud::{html, Markup};

/// The pool-wide throttle detector as this isolate sees it.
pub struct ThrottleView<'a> {
    /// The thresholds (`THROTTLE_*`).
    pub config: &'a BreakerConfig,
    /// Every (provider, model) seen in the window, paused, or paused before.
    pub figures: &'a [Figures],
    /// Now, unix seconds (for time left).
    pub now_s: u64,
}

/// How this isolate's requests stayed on their sessions' keys.
fn affinity_section(figures: &AffinityFigures, t: &Text) -> Markup {
    let (with_session, held) = figures.shares();
    html! {
        section.affinity {
            h2 { (t.affinity_title) }
            p.muted.small-text { (t.affinity_note) }
            @if figures.requests == 0 {
                p.card.muted { (t.affinity_none) }
            } @else {
                p.card {
                    (fill(t.affinity_figures, &[
                        ("requests", &figures.requests.to_string()),
                        ("with_session", &with_session.to_string()),
                        ("held", &held.to_string()),
                        ("moved", &figures.moved.to_string()),
                    ]))
                }
            }
        }
    }
}

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
            span class={ "badge " (class) } { (display::count(count)) }
        }
    }
}

fn throttle_section(view: &ThrottleView, t: &Text) -> Markup {
    let c = view.config;
    let note = fill(
        t.throttle_note,
        &[
            ("pause", &duration(u64::from(c.pause_s), t)),
            ("window", &duration(u64::from(c.window_s), t)),
            ("min_keys", &c.min_keys.to_string()),
            ("percent", &c.percent.to_string()),
        ],
    );
    html! {
        section.throttle {
            h2 { (t.throttle_title) }
            @if c.min_keys == 0 {
                p.muted.small-text { (t.throttle_off) }
            } @else {
                p.muted.small-text { (note) }
            }
            @if view.figures.is_empty() {
                p.card.muted { (t.throttle_none) }
            } @else {
                table.throttle {
                    thead {
                        tr {
                            th { (t.col_provider) }
                            th { (t.col_model) }
                            th.num { (t.col_keys_tried) }
                            th.num { (t.col_succeeded) }
                            th.num { (t.col_rate_limited) }
                            th.num { (t.col_rate_limited_bare) }
                            th.num { (t.col_usable) }
                            th { (t.col_paused) }
                            th.num { (t.col_pauses) }
                        }
                    }
                    tbody {
                        @for f in view.figures {
                            tr data-provider=(f.provider) data-model=(f.model) {
                                td { (f.provider) }
                                td { @if f.model.is_empty() { span.muted { (t.no_model) } } @else { code { (f.model) } } }
                                td.num.tried { (f.keys_tried) }
                                td.num.succeeded { (f.keys_succeeded) }
                                td.num.limited { (f.keys_rate_limited) }
                                td.num.bare { (f.keys_rate_limited_bare) }
                                td.num.usable {
                                    @if let Some(n) = f.usable_keys { (n) } @else { span.muted { "—" } }
                                }
                                td.paused {
                                    @if f.paused_until_s > view.now_s {
                                        span.badge.blocked { (fill(t.time_left, &[("time", &duration(f.paused_until_s - view.now_s, t))])) }
                                    } @else {
                                        span.muted { "—" }
                                    }
                                }
                                td.num.pauses { (f.pauses_total) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Every provider with its counts, the isolate's throttle figures, and a form to open any slug.
pub fn overview_page(chrome: &Chrome, lines: &[ProviderLine], throttle: &ThrottleView, affinity: &AffinityFigures) -> Markup {
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
                            td.num { (display::count(line.counts.total())) }
                        }
                    }
                }
            }
            (throttle_section(throttle, t))
            (affinity_section(affinity, t))
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
    use crate::admin::rows::Counts;

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
        let affinity = AffinityFigures { requests: 200, with_session: 150, held: 120, moved: 25 };
        let html = overview_page(&chrome(), &lines, &ThrottleView { config: &BreakerConfig::default(), figures: &[], now_s: 0 }, &affinity).into_string();
        assert!(html.contains("200 requests"), "{html}");
        assert!(html.contains("75%") && html.contains("80%"), "shares of sessions and of first choices");
        assert!(html.contains(r#"<a href="/keys/openai">openai</a>"#), "{html}");
        assert!(html.contains(r#"<span class="badge active">3</span>"#));
        assert!(html.contains(r#"<span class="badge zero">0</span>"#));
        assert!(html.contains("not served by this Worker"));
        assert!(html.contains(r#"action="/keys""#));
    }

    fn figures(provider: &str, model: &str, paused_until_s: u64) -> Figures {
        Figures {
            provider: provider.to_string(),
            model: model.to_string(),
            keys_tried: 3,
            keys_succeeded: 0,
            keys_rate_limited: 2,
            keys_rate_limited_bare: 1,
            usable_keys: Some(40),
            paused_until_s,
            pauses_total: 1,
        }
    }

    #[test]
    fn the_overview_shows_throttle_figures_per_isolate_with_the_thresholds() {
        let config = BreakerConfig { min_keys: 2, percent: 80, window_s: 30, pause_s: 30 };
        let rows = [figures("google-ai-studio", "<script>m</script>", 1_025), figures("openai", "", 0)];
        let view = ThrottleView { config: &config, figures: &rows, now_s: 1_000 };
        let html = overview_page(&chrome(), &[], &view, &AffinityFigures::default()).into_string();
        assert!(html.contains("per isolate") && html.contains("paused for 30s") && html.contains("at least 2 distinct keys"), "{html}");
        assert!(html.contains("80%") && html.contains("within 30s"), "{html}");
        assert!(html.contains("<code>&lt;script&gt;m&lt;/script&gt;</code>") && !html.contains("<script>m"), "{html}");
        assert!(
            html.contains(r#"<td class="num tried">3</td><td class="num succeeded">0</td><td class="num limited">2</td><td class="num bare">1</td><td class="num usable">40</td>"#),
            "{html}"
        );
        assert!(html.contains("without quota details") && html.contains("usable keys"), "{html}");
        assert!(html.contains("25s left"), "{html}");
        assert!(html.contains("(no model)"), "{html}");
        let zh = overview_page(&Chrome { lang: Lang::Zh, here: "/", csrf: Some("tok") }, &[], &view, &AffinityFigures::default()).into_string();
        assert!(zh.contains("按隔离实例") && zh.contains("至少 2 个不同密钥") && zh.contains("暂停 30秒") && zh.contains("不带配额详情"), "{zh}");
    }

    #[test]
    fn the_overview_says_when_detection_is_off_or_nothing_was_seen() {
        let off = BreakerConfig { min_keys: 0, ..BreakerConfig::default() };
        let html = overview_page(&chrome(), &[], &ThrottleView { config: &off, figures: &[], now_s: 0 }, &AffinityFigures::default()).into_string();
        assert!(html.contains("detection is off") && html.contains("No requests in the window"), "{html}");
        assert!(!html.contains("<table class=\"throttle\""));
    }

    #[test]
    fn the_error_page_escapes_its_message() {
        let html = error_page(&chrome(), "Oops", "<script>alert(1)</script>", Some("hint")).into_string();
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.contains("<script>alert"));
    }
}
