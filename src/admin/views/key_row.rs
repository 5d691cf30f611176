//! One row of the key table: checkbox, masked key with its copy button, state (with the scheduled re-check of a key
//! out of the pool: last checked, last result, next check), per-model cooldowns with time left, usage figures, the
//! remark with its edit form, and when the key was added.

use super::layout::csrf_input;
use crate::admin::display::{ago, date, duration};
use crate::admin::i18n::{fill, Text};
use crate::admin::listing::{ListQuery, Tab};
use crate::admin::rows::{CheckState, KeyRecord};
use crate::cooldown::ALL_MODELS;
use maud::{html, Markup};

/// Hidden fields that bring an action back to the list view it came from.
pub fn back_fields(query: &ListQuery) -> Markup {
    let page = query.page.to_string();
    html! {
        input type="hidden" name="status" value=(query.tab.code());
        input type="hidden" name="q" value=(query.search);
        input type="hidden" name="sort" value=(query.sort.code());
        input type="hidden" name="page" value=(page);
    }
}

/// The scheduled re-check of a key out of the pool: when it was last checked and with what result, and when the
/// next check is due.
fn check_view(check: &CheckState, now_s: u64, t: &Text) -> Markup {
    html! {
        div.check.small-text {
            div {
                @match check.last_checked_at_s {
                    Some(at) => {
                        span.muted { (fill(t.check_last, &[("when", &ago(at, now_s, t))])) }
                        @if let Some(result) = &check.last_result { ": " code { (result) } }
                    }
                    None => span.muted { (t.check_never) },
                }
            }
            div.muted {
                @match check.due_in(now_s) {
                    Some(wait) => (fill(t.check_next, &[("time", &duration(wait, t))])),
                    None => (t.check_due),
                }
            }
        }
    }
}

/// The row of `key`.
pub fn key_row(provider: &str, query: &ListQuery, key: &KeyRecord, now_s: u64, csrf: &str, t: &Text) -> Markup {
    let cooling = key.cooling_now(now_s);
    let state = match (key.status.as_str(), cooling.is_empty()) {
        ("blocked", _) => Tab::Blocked,
        (_, true) => Tab::Active,
        (_, false) => Tab::Cooling,
    };
    let state_label = match state {
        Tab::Active => t.active,
        Tab::Cooling => t.cooling,
        Tab::Blocked => t.blocked,
    };
    let u = &key.usage;
    html! {
        tr data-key-id=(key.id) {
            td.check { input type="checkbox" name="id" value=(key.id) form="bulk" aria-label=(t.select_key); }
            td data-label=(t.col_key) {
                code.key { (key.secret.masked()) }
                " "
                button.small type="button" hidden
                    data-copy-url={ "/keys/" (provider) "/secret/" (key.id) }
                    data-done=(t.copied) data-failed=(t.copy_failed) { (t.copy) }
            }
            td data-label=(t.col_status) {
                span class={ "badge " (state.code()) } { (state_label) }
                @if key.out_of_pool(now_s) {
                    (check_view(&key.check, now_s, t))
                }
            }
            td data-label=(t.col_cooldowns) {
                @if let Some((_, soonest)) = cooling.first() {
                    details.cooldowns {
                        summary {
                            (fill(t.models_cooling, &[("count", &cooling.len().to_string())])) " · "
                            (fill(t.time_left, &[("time", &duration(soonest.end_at_s - now_s, t))]))
                        }
                        ul {
                            @for (model, c) in &cooling {
                                li {
                                    code { @if *model == ALL_MODELS { (t.all_models) } @else { (model) } }
                                    " — " (fill(t.time_left, &[("time", &duration(c.end_at_s - now_s, t))]))
                                }
                            }
                        }
                    }
                } @else {
                    span.muted { "—" }
                }
                @if key.total_cooling_s > 0 {
                    div.small-text.muted { (fill(t.cooled_total, &[("time", &duration(key.total_cooling_s, t))])) }
                }
            }
            td data-label=(t.col_usage) {
                @if u.requests == 0 {
                    span.muted.small-text { (t.never_used) }
                } @else {
                    div.small-text {
                        (fill(t.usage_line, &[
                            ("requests", &u.requests.to_string()),
                            ("successes", &u.successes.to_string()),
                            ("limited", &u.rate_limited.to_string()),
                            ("errors", &u.errors.to_string()),
                        ]))
                    }
                    @if let Some(last) = u.last_used_at_s {
                        div.small-text.muted { (fill(t.last_used, &[("when", &ago(last, now_s, t))])) }
                    }
                    @if let Some(error) = &u.last_error {
                        div.small-text { span.muted { (t.last_error) ": " } code { (error) } }
                    }
                }
            }
            td data-label=(t.col_remark) {
                details.remark {
                    summary {
                        @if let Some(remark) = &key.remark { (remark) } @else { span.muted { (t.add_remark) } }
                    }
                    form.row method="post" action={ "/keys/" (provider) "/remark" } {
                        (csrf_input(csrf))
                        (back_fields(query))
                        input type="hidden" name="id" value=(key.id);
                        input type="text" name="remark" value=[key.remark.as_deref()] maxlength="256" aria-label=(t.col_remark);
                        button.small type="submit" { (t.save) }
                    }
                }
            }
            td data-label=(t.col_added) { span.small-text.muted { (date(key.created_at_s)) } }
        }
    }
}
