//! A provider's key list: tabs with counts, search and sort, the bulk-action form (delete, unblock, reset, check
//! now), the table, the pager, the add-keys form with its report, and the bulk deletes.
//!
//! Table rows are in [`super::key_row`], the add form, its report and the bulk deletes in [`super::forms`]. Row checkboxes belong to the bulk form through `form="bulk"`, so the remark
//! forms inside the rows need no nesting, and every action works without the script.

use super::forms::{add_form, danger_zone, report_view};
use super::key_row::{back_fields, key_row};
use super::layout::{csrf_input, frame, Chrome};
use crate::admin::commands::AddReport;
use crate::admin::display;
use crate::admin::i18n::{fill, Text};
use crate::admin::listing::{page_count, page_links, ListQuery, PageLink, Sort, Tab};
use crate::admin::rows::{Counts, KeyRecord};
use crate::admin::wire;
use maud::{html, Markup};

/// What an action just did, shown once after its redirect (`?notice=…&n=…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Keys deleted.
    Deleted(u64),
    /// Keys unblocked.
    Unblocked(u64),
    /// Keys whose cooldowns were reset.
    Reset(u64),
    /// Keys probed now, and how many of them passed.
    Checked {
        /// Keys probed.
        checked: u64,
        /// Of those, how many passed (`ok`).
        passed: u64,
    },
    /// A remark saved.
    RemarkSaved,
}

impl Notice {
    /// The query string that carries it.
    pub fn to_query(self) -> String {
        let (code, n) = match self {
            Notice::Deleted(n) => ("deleted", n),
            Notice::Unblocked(n) => ("unblocked", n),
            Notice::Reset(n) => ("reset", n),
            Notice::RemarkSaved => ("remark", 0),
            Notice::Checked { checked, passed } => return format!("notice=checked&n={checked}&ok={passed}"),
        };
        format!("notice={code}&n={n}")
    }

    /// The notice in decoded query pairs, if any.
    pub fn from_pairs(pairs: &[(String, String)]) -> Option<Notice> {
        let n = wire::first(pairs, "n").and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        match wire::first(pairs, "notice")? {
            "deleted" => Some(Notice::Deleted(n)),
            "unblocked" => Some(Notice::Unblocked(n)),
            "reset" => Some(Notice::Reset(n)),
            "remark" => Some(Notice::RemarkSaved),
            "checked" => {
                let passed = wire::first(pairs, "ok").and_then(|n| n.parse::<u64>().ok()).unwrap_or(0).min(n);
                Some(Notice::Checked { checked: n, passed })
            }
            _ => None,
        }
    }

    fn text(self, t: &Text) -> String {
        let count = |template, n: u64| fill(template, &[("count", &n.to_string())]);
        match self {
            Notice::Deleted(n) => count(t.notice_deleted, n),
            Notice::Unblocked(n) => count(t.notice_unblocked, n),
            Notice::Reset(n) => count(t.notice_reset, n),
            Notice::RemarkSaved => t.notice_remark_saved.to_string(),
            Notice::Checked { checked, passed } => {
                fill(t.notice_checked, &[("count", &checked.to_string()), ("ok", &passed.to_string())])
            }
        }
    }
}

/// Everything the key list shows.
pub struct KeysPage<'a> {
    /// Provider slug (checked by the router).
    pub provider: &'a str,
    /// Whether the provider table has it.
    pub known: bool,
    /// The list query.
    pub query: &'a ListQuery,
    /// Keys per tab, with the search applied.
    pub counts: &'a Counts,
    /// This page's keys.
    pub keys: &'a [KeyRecord],
    /// Now, unix seconds (for time left).
    pub now_s: u64,
    /// A notice from the redirect.
    pub notice: Option<Notice>,
    /// The report of a bulk add just made.
    pub report: Option<&'a AddReport>,
    /// An action's refusal, already in the page's language.
    pub error: Option<&'a str>,
}

/// The list's URL with `query` (a query string without `?`).
pub fn list_url(provider: &str, query: &str) -> String {
    if query.is_empty() {
        format!("/keys/{provider}")
    } else {
        format!("/keys/{provider}?{query}")
    }
}

fn tab_label(tab: Tab, t: &Text) -> &'static str {
    match tab {
        Tab::Active => t.active,
        Tab::Cooling => t.cooling,
        Tab::Blocked => t.blocked,
    }
}

/// A sort's name on `tab`: the default sort lists the cooling tab by when the cooldowns end.
fn sort_label(sort: Sort, tab: Tab, t: &Text) -> &'static str {
    match sort {
        Sort::Created if tab == Tab::Cooling => t.sort_cooldown_end,
        Sort::Created => t.sort_created,
        Sort::Cooling => t.sort_cooling,
        Sort::Usage => t.sort_usage,
    }
}

/// The whole key list page.
pub fn keys_page(chrome: &Chrome, csrf: &str, p: &KeysPage) -> Markup {
    let t = chrome.lang.text();
    frame(
        chrome,
        p.provider,
        false,
        html! {
            h1 { (p.provider) }
            @if !p.known {
                p.warning { (p.provider) ": " (t.unknown_provider) }
            }
            @if let Some(notice) = p.notice {
                p.notice role="status" { (notice.text(t)) }
            }
            @if let Some(error) = p.error {
                p.error role="alert" { (error) }
            }
            @if let Some(report) = p.report {
                (report_view(report, t))
            }
            (tabs(p, t))
            (toolbar(p, csrf, t))
            (table(p, csrf, t))
            (pager(p, t))
            (add_form(p.provider, p.query, csrf, t))
            (danger_zone(p.provider, csrf, t))
        },
    )
}

fn tabs(p: &KeysPage, t: &Text) -> Markup {
    html! {
        nav.tabs {
            @for tab in Tab::ALL {
                a class=[(tab == p.query.tab).then_some("current")] href=(list_url(p.provider, &p.query.to_query(Some(tab), None, Some(1)))) {
                    (tab_label(tab, t)) " "
                    span class={ "badge " (if p.counts.of(tab) == 0 { "zero" } else { tab.code() }) } { (display::count(p.counts.of(tab))) }
                }
            }
        }
    }
}

fn toolbar(p: &KeysPage, csrf: &str, t: &Text) -> Markup {
    let q = p.query;
    let cleared = ListQuery { search: String::new(), page: 1, ..q.clone() };
    html! {
        div.toolbar {
            form.row.search method="get" action={ "/keys/" (p.provider) } role="search" {
                @if q.tab != Tab::Active {
                    input type="hidden" name="status" value=(q.tab.code());
                }
                input type="search" name="q" value=(q.search) placeholder=(t.search_placeholder) aria-label=(t.search_placeholder);
                select name="sort" aria-label=(t.sort_label) {
                    @for sort in Sort::ALL {
                        option value=(sort.code()) selected[sort == q.sort] { (t.sort_label) ": " (sort_label(sort, q.tab, t)) }
                    }
                }
                button type="submit" { (t.search_button) }
                @if !q.search.is_empty() {
                    a href=(list_url(p.provider, &cleared.to_query(None, None, None))) { (t.clear_search) }
                }
            }
            form #bulk .row method="post" action={ "/keys/" (p.provider) "/selected" } {
                (csrf_input(csrf))
                (back_fields(q))
                @if q.tab == Tab::Blocked {
                    button type="submit" name="action" value="unblock" { (t.unblock_selected) }
                }
                @if q.tab != Tab::Active {
                    button type="submit" name="action" value="reset" { (t.reset_selected) }
                }
                button type="submit" name="action" value="check" { (t.check_selected) }
                button.danger type="submit" name="action" value="delete" data-confirm=(t.confirm_delete_selected) { (t.delete_selected) }
            }
        }
    }
}

fn table(p: &KeysPage, csrf: &str, t: &Text) -> Markup {
    html! {
        @if p.keys.is_empty() {
            p.card.muted { (t.no_keys) }
        } @else {
            table.keys {
                thead {
                    tr {
                        th.check { input type="checkbox" hidden data-select-all="bulk" aria-label=(t.select_all); }
                        th { (t.col_key) }
                        th { (t.col_status) }
                        th { (t.col_cooldowns) }
                        th { (t.col_usage) }
                        th { (t.col_remark) }
                        th { (t.col_added) }
                    }
                }
                tbody {
                    @for key in p.keys {
                        (key_row(p.provider, p.query, key, p.now_s, csrf, t))
                    }
                }
            }
        }
    }
}

fn pager(p: &KeysPage, t: &Text) -> Markup {
    let total = p.counts.of(p.query.tab);
    let pages = page_count(total);
    let page = p.query.page;
    let link = |n: u32| list_url(p.provider, &p.query.to_query(None, None, Some(n)));
    let from = p.query.offset() + 1;
    let to = p.query.offset() + p.keys.len() as u64;
    html! {
        @if !p.keys.is_empty() {
            p.muted.small-text {
                (fill(t.showing, &[("from", &from.to_string()), ("to", &to.to_string()), ("total", &total.to_string())]))
            }
        }
        @if pages > 1 {
            nav.pager aria-label=(t.pages_label) {
                @if page > 1 {
                    a href=(link((page - 1).min(pages))) rel="prev" { "‹ " (t.page_prev) }
                }
                @for entry in page_links(page, pages) {
                    @match entry {
                        PageLink::Page(n) if n == page => span.current aria-current="page" { (n) },
                        PageLink::Page(n) => a href=(link(n)) { (n) },
                        PageLink::Gap => span.muted { "…" },
                    }
                }
                @if page < pages {
                    a href=(link(page + 1)) rel="next" { (t.page_next) " ›" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::bulk::{Rejected, Rejection};
    use crate::admin::i18n::Lang;
    use crate::admin::listing::PER_PAGE;
    use crate::admin::rows::{CheckState, UsageFigures};
    use crate::cooldown::ModelCooling;
    use crate::pool::Secret;

    const NOW: u64 = 1_764_000_000;

    fn key(secret: &str, remark: Option<&str>) -> KeyRecord {
        KeyRecord {
            id: "3f2a9c1e-0000-4000-8000-000000000001".to_string(),
            secret: Secret::new(secret.to_string()),
            status: "active".to_string(),
            remark: remark.map(str::to_string),
            created_at_s: NOW - 100,
            total_cooling_s: 130,
            coolings: vec![("gemini-2.5-pro".to_string(), ModelCooling { end_at_s: NOW + 65, total_seconds: 130, streak: 1, at_ms: 0 })],
            usage: UsageFigures { requests: 7, successes: 5, rate_limited: 2, last_used_at_s: Some(NOW - 5), ..Default::default() },
            check: CheckState::default(),
        }
    }

    fn render(keys: &[KeyRecord], query: &ListQuery, counts: &Counts, report: Option<&AddReport>) -> String {
        let page = KeysPage { provider: "google-ai-studio", known: true, query, counts, keys, now_s: NOW, notice: None, report, error: None };
        keys_page(&Chrome { lang: Lang::En, here: "/keys/google-ai-studio", csrf: Some("tok") }, "tok", &page).into_string()
    }

    #[test]
    fn a_key_and_remark_holding_script_tags_render_as_text() {
        let evil = key("<script>alert('key')</script>", Some("<script>alert(\"remark\")</script>"));
        let html = render(&[evil], &ListQuery::default(), &Counts { active: 1, ..Default::default() }, None);
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("<code class=\"key\">&lt;scr…ipt&gt;</code>"), "the mask is shown escaped");
        assert!(html.contains("<summary>&lt;script&gt;alert(&quot;remark&quot;)&lt;/script&gt;</summary>"), "{html}");
        assert!(html.contains("value=\"&lt;script&gt;alert(&quot;remark&quot;)&lt;/script&gt;\""), "{html}");
        assert!(!html.contains("alert('key')"), "the full key is not in the page");
    }

    #[test]
    fn keys_show_masked_with_cooldowns_usage_and_a_copy_route() {
        let html = render(&[key("AIzaSyABCDEFGHIJKLMNOPx9Qk", None)], &ListQuery::default(), &Counts { active: 1, ..Default::default() }, None);
        assert!(html.contains("AIza…x9Qk") && !html.contains("ABCDEFGHIJ"), "{html}");
        assert!(html.contains("data-copy-url=\"/keys/google-ai-studio/secret/3f2a9c1e-0000-4000-8000-000000000001\""));
        assert!(html.contains("gemini-2.5-pro") && html.contains("1m 05s left"), "{html}");
        assert!(html.contains("7 req · 5 ok · 2 × 429 · 0 err"));
        assert!(html.contains(r#"form="bulk""#) && html.contains(r#"<form class="row" id="bulk" method="post""#), "{html}");
    }

    #[test]
    fn every_state_changing_form_carries_the_csrf_token() {
        let html = render(&[key("AIzaSyABCDEFGHIJKLMNOPx9Qk", None)], &ListQuery::default(), &Counts::default(), None);
        let posts = html.matches(r#"method="post""#).count();
        let tokens = html.matches(r#"<input type="hidden" name="csrf" value="tok">"#).count();
        assert!(posts >= 6, "bulk, remark, add, two deletes, logout: {posts}");
        assert_eq!(posts, tokens);
    }

    #[test]
    fn tabs_carry_counts_and_keep_the_search() {
        let query = ListQuery { search: "x9Qk".to_string(), ..Default::default() };
        let html = render(&[], &query, &Counts { active: 0, cooling: 2, blocked: 5 }, None);
        assert!(html.contains(r#"href="/keys/google-ai-studio?status=blocked&amp;q=x9Qk""#), "{html}");
        assert!(html.contains(r#"<span class="badge blocked">5</span>"#));
        assert!(html.contains("No keys here."));
    }

    #[test]
    fn the_pager_links_pages_of_twenty() {
        let query = ListQuery { page: 2, ..Default::default() };
        let keys: Vec<KeyRecord> = (0..PER_PAGE).map(|_| key("AIzaSyABCDEFGHIJKLMNOPx9Qk", None)).collect();
        let html = render(&keys, &query, &Counts { active: 45, ..Default::default() }, None);
        assert!(html.contains("21–40 of 45"), "{html}");
        assert!(html.contains(r#"<a href="/keys/google-ai-studio?page=3" rel="next">"#));
        assert!(html.contains(r#"<a href="/keys/google-ai-studio" rel="prev">"#));
    }

    #[test]
    fn the_add_report_lists_rejections_masked() {
        let report = AddReport {
            added: 998,
            already_present: 1,
            duplicates: 1,
            rejected: vec![Rejected { key_masked: "<scr…ipt>".to_string(), reason: Rejection::TooLong }],
        };
        let html = render(&[], &ListQuery::default(), &Counts::default(), Some(&report));
        assert!(html.contains("998 added") && html.contains("1 already present") && html.contains("1 rejected"), "{html}");
        assert!(html.contains("&lt;scr…ipt&gt;") && html.contains("longer than 512 characters"));
    }

    #[test]
    fn notices_round_trip_through_the_query() {
        let checked = Notice::Checked { checked: 3, passed: 1 };
        for notice in [Notice::Deleted(3), Notice::Unblocked(1), Notice::Reset(20), Notice::RemarkSaved, checked] {
            assert_eq!(Notice::from_pairs(&wire::parse_pairs(&notice.to_query())), Some(notice));
        }
        assert_eq!(Notice::from_pairs(&wire::parse_pairs("notice=<x>")), None);
        assert_eq!(
            Notice::from_pairs(&wire::parse_pairs("notice=checked&n=2&ok=9")),
            Some(Notice::Checked { checked: 2, passed: 2 }),
            "never more passed than checked"
        );
        assert_eq!(checked.text(Lang::En.text()), "3 keys checked, 1 passed.");
    }

    fn blocked(result: &str, last_checked_at_s: Option<u64>, check_after_s: Option<u64>) -> KeyRecord {
        KeyRecord {
            status: "blocked".to_string(),
            coolings: Vec::new(),
            check: CheckState { last_checked_at_s, last_result: Some(result.to_string()), check_after_s, failures: 1 },
            ..key("AIzaSyABCDEFGHIJKLMNOPx9Qk", None)
        }
    }

    #[test]
    fn a_blocked_key_shows_its_last_check_escaped_and_when_the_next_is_due() {
        let query = ListQuery { tab: Tab::Blocked, ..Default::default() };
        let counts = Counts { blocked: 2, ..Default::default() };
        let keys = [
            blocked("inconclusive: <b>timeout</b>", Some(NOW - 300), Some(NOW + 3_600)),
            blocked("no probe for this provider", None, None),
        ];
        let html = render(&keys, &query, &counts, None);
        assert!(html.contains("last checked 5m 00s ago"), "{html}");
        assert!(html.contains("<code>inconclusive: &lt;b&gt;timeout&lt;/b&gt;</code>") && !html.contains("<b>timeout"), "{html}");
        assert!(html.contains("next check in 1h 00m"), "{html}");
        assert!(html.contains("not checked yet") && html.contains("next check at the next scheduled run"), "{html}");
        assert_eq!(html.matches(r#"<div class="check small-text">"#).count(), 2, "{html}");
        assert!(html.contains(r#"<button type="submit" name="action" value="check">Check now</button>"#), "{html}");
    }

    #[test]
    fn keys_in_the_pool_show_no_check_and_exhausted_ones_do() {
        let mut fine = key("AIzaSyABCDEFGHIJKLMNOPx9Qk", None);
        fine.check = CheckState { last_checked_at_s: Some(NOW - 10), last_result: Some("ok".to_string()), ..Default::default() };
        let html = render(&[fine.clone()], &ListQuery::default(), &Counts { active: 1, ..Default::default() }, None);
        assert!(!html.contains(r#"class="check small-text""#), "{html}");
        let mut spent = fine;
        spent.coolings = vec![("*".to_string(), ModelCooling { end_at_s: NOW + 600, total_seconds: 600, streak: 0, at_ms: 0 })];
        spent.check.last_result = Some("exhausted".to_string());
        let query = ListQuery { tab: Tab::Cooling, ..Default::default() };
        let html = render(&[spent], &query, &Counts { cooling: 1, ..Default::default() }, None);
        assert!(html.contains("<code>exhausted</code>") && html.contains("last checked 10s ago"), "{html}");
    }

    #[test]
    fn the_check_notice_and_refusal_read_in_chinese() {
        let zh = Lang::Zh.text();
        assert_eq!(Notice::Checked { checked: 4, passed: 0 }.text(zh), "已检测 4 个密钥，0 个通过。");
        assert_eq!(zh.for_error("too_many_checks"), Some("每次最多检测 20 个密钥。"));
    }

    #[test]
    fn the_default_sort_reads_as_the_order_each_tab_is_listed_in() {
        let counts = Counts { active: 1, cooling: 1, ..Default::default() };
        let active = render(&[], &ListQuery::default(), &counts, None);
        assert!(active.contains("Sort by: Newest") && !active.contains("Cooldown ends first"), "{active}");
        let cooling = render(&[], &ListQuery { tab: Tab::Cooling, ..Default::default() }, &counts, None);
        assert!(cooling.contains("Sort by: Cooldown ends first") && !cooling.contains("Sort by: Newest"), "{cooling}");
        assert_eq!(sort_label(Sort::Created, Tab::Cooling, Lang::Zh.text()), "冷却最先结束");
        assert_eq!(sort_label(Sort::Usage, Tab::Cooling, Lang::Zh.text()), "使用量");
    }
}
