//! The forms below the key table: bulk add with the report of the last add, and the bulk deletes (every blocked
//! key; every active key, which needs the provider's name typed out).

use super::key_row::back_fields;
use super::layout::csrf_input;
use crate::admin::bulk::Rejection;
use crate::admin::commands::AddReport;
use crate::admin::i18n::{fill, Text};
use crate::admin::listing::ListQuery;
use maud::{html, Markup};

/// Rejected keys listed by name in a report; the rest are only counted.
const REPORT_LIMIT: usize = 200;

fn reason_label(reason: Rejection, t: &Text) -> &'static str {
    match reason {
        Rejection::Empty => t.reason_empty,
        Rejection::TooLong => t.reason_too_long,
        Rejection::Whitespace => t.reason_whitespace,
        Rejection::ControlCharacter => t.reason_control,
    }
}

/// What the last bulk add did.
pub fn report_view(report: &AddReport, t: &Text) -> Markup {
    let count = |template, n: u64| fill(template, &[("count", &n.to_string())]);
    let rejected = report.rejected.len() as u64;
    html! {
        section.card.report role="status" {
            p {
                strong { (count(t.report_added, report.added)) }
                " · " (count(t.report_present, report.already_present))
                @if report.duplicates > 0 {
                    " · " (count(t.report_duplicates, report.duplicates as u64))
                }
                @if rejected > 0 {
                    " · " (count(t.report_rejected, rejected))
                }
            }
            @if rejected > 0 {
                details open {
                    summary { (count(t.report_rejected, rejected)) }
                    ul {
                        @for r in report.rejected.iter().take(REPORT_LIMIT) {
                            li { code { (r.key_masked) } " — " (reason_label(r.reason, t)) }
                        }
                        @if report.rejected.len() > REPORT_LIMIT {
                            li.muted { "… " (report.rejected.len() - REPORT_LIMIT) }
                        }
                    }
                }
            }
        }
    }
}

/// The bulk-add form.
pub fn add_form(provider: &str, query: &ListQuery, csrf: &str, t: &Text) -> Markup {
    html! {
        section.card #add {
            h2 { (t.add_title) }
            form method="post" action={ "/keys/" (provider) "/add" } {
                (csrf_input(csrf))
                (back_fields(query))
                label for="keys" { (t.keys_label) }
                textarea #keys name="keys" rows="6" required spellcheck="false" autocomplete="off" {}
                label for="remark" { (t.remark_label) }
                input #remark type="text" name="remark" maxlength="256" autocomplete="off";
                p { button.primary type="submit" { (t.add_button) } }
            }
        }
    }
}

/// The bulk deletes.
pub fn danger_zone(provider: &str, csrf: &str, t: &Text) -> Markup {
    html! {
        section.card.danger-zone {
            h2 { (t.danger_title) }
            form method="post" action={ "/keys/" (provider) "/delete-blocked" } {
                (csrf_input(csrf))
                button.danger type="submit" data-confirm=(t.confirm_delete_blocked) { (t.delete_all_blocked) }
            }
            form method="post" action={ "/keys/" (provider) "/delete-active" } {
                (csrf_input(csrf))
                label for="confirm-active" { (fill(t.confirm_active_label, &[("provider", provider)])) }
                div.row {
                    input #confirm-active type="text" name="confirm" required autocomplete="off" spellcheck="false";
                    button.danger type="submit" { (t.delete_all_active) }
                }
            }
        }
    }
}
