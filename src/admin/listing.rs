//! The key list's query: which tab, what search, which order, which page — validated from a query string — and the
//! arithmetic of paging and of search patterns.
//!
//! Tabs are disjoint: *active* keys are usable for every model now, *cooling* keys are active but resting for at
//! least one model, *blocked* keys were found invalid. Search matches a fragment of the key or of the remark with
//! `LIKE … ESCAPE '\'`, so `%` and `_` in the search are literal. Sorting is a closed set; the SQL for each choice
//! is a constant in `edge::admin::store`, so nothing from the URL reaches SQL text.

use super::wire;

/// Keys per page.
pub const PER_PAGE: u32 = 20;
/// Longest search accepted, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;
/// Highest page number accepted.
pub const MAX_PAGE: u32 = 1_000_000;

/// A tab of the key list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Active and not cooling for any model.
    Active,
    /// Active, cooling for at least one model.
    Cooling,
    /// Blocked.
    Blocked,
}

impl Tab {
    /// Every tab, in display order.
    pub const ALL: [Tab; 3] = [Tab::Active, Tab::Cooling, Tab::Blocked];

    /// The name in URLs and JSON.
    pub fn code(self) -> &'static str {
        match self {
            Tab::Active => "active",
            Tab::Cooling => "cooling",
            Tab::Blocked => "blocked",
        }
    }

    /// The tab named `code`.
    pub fn parse(code: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|t| t.code() == code)
    }
}

/// The order of the key list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Newest first; on the cooling tab, the cooldowns that end first.
    Created,
    /// Longest total cooling time first.
    Cooling,
    /// Most requests first.
    Usage,
}

impl Sort {
    /// Every order, in display order.
    pub const ALL: [Sort; 3] = [Sort::Created, Sort::Cooling, Sort::Usage];

    /// The name in URLs and JSON.
    pub fn code(self) -> &'static str {
        match self {
            Sort::Created => "created",
            Sort::Cooling => "cooling",
            Sort::Usage => "usage",
        }
    }

    /// The order named `code`.
    pub fn parse(code: &str) -> Option<Sort> {
        Sort::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// A validated key-list query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Which tab.
    pub tab: Tab,
    /// Search text, trimmed; empty: no search.
    pub search: String,
    /// Order.
    pub sort: Sort,
    /// 1-based page.
    pub page: u32,
}

impl Default for ListQuery {
    fn default() -> ListQuery {
        ListQuery { tab: Tab::Active, search: String::new(), sort: Sort::Created, page: 1 }
    }
}

impl ListQuery {
    /// Reads `status`, `q`, `sort` and `page` from decoded pairs; absent or empty values take the defaults, others
    /// must be valid.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<ListQuery, String> {
        let value = |name| wire::first(pairs, name).map(str::trim).filter(|v| !v.is_empty());
        let tab = match value("status") {
            None => Tab::Active,
            Some(code) => Tab::parse(code).ok_or_else(|| format!("status {code:?} is not one of active, cooling, blocked"))?,
        };
        let sort = match value("sort") {
            None => Sort::Created,
            Some(code) => Sort::parse(code).ok_or_else(|| format!("sort {code:?} is not one of created, cooling, usage"))?,
        };
        let page = match value("page") {
            None => 1,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|p| (1..=MAX_PAGE).contains(p))
                .ok_or_else(|| format!("page {raw:?} is not a whole number from 1 to {MAX_PAGE}"))?,
        };
        let search = value("q").unwrap_or_default().to_string();
        if search.chars().count() > MAX_SEARCH_CHARS {
            return Err(format!("the search is longer than {MAX_SEARCH_CHARS} characters"));
        }
        Ok(ListQuery { tab, search, sort, page })
    }

    /// The query as URL pairs (defaults left out), with another tab, order or page when given.
    pub fn to_query(&self, tab: Option<Tab>, sort: Option<Sort>, page: Option<u32>) -> String {
        let tab = tab.unwrap_or(self.tab);
        let sort = sort.unwrap_or(self.sort);
        let page = page.unwrap_or(self.page).to_string();
        wire::query_string(&[
            ("status", if tab == Tab::Active { "" } else { tab.code() }),
            ("q", &self.search),
            ("sort", if sort == Sort::Created { "" } else { sort.code() }),
            ("page", if page == "1" { "" } else { &page }),
        ])
    }

    /// The `LIKE` pattern of the search, or `None` without a search.
    pub fn like_pattern(&self) -> Option<String> {
        (!self.search.is_empty()).then(|| format!("%{}%", escape_like(&self.search)))
    }

    /// Rows to skip for this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(PER_PAGE)
    }
}

/// Escapes `\`, `%` and `_` for `LIKE … ESCAPE '\'`.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Number of pages for `total` rows (at least 1, so an empty list is "page 1 of 1").
pub fn page_count(total: u64) -> u32 {
    u32::try_from(total.div_ceil(u64::from(PER_PAGE)).max(1)).unwrap_or(u32::MAX)
}

/// One link in the pager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageLink {
    /// A page number (the current one is not a link).
    Page(u32),
    /// A run of pages left out.
    Gap,
}

/// The pager: first, last, and the pages within two of `page`, with gaps between.
pub fn page_links(page: u32, pages: u32) -> Vec<PageLink> {
    let mut wanted = vec![1, pages];
    wanted.extend((page.saturating_sub(2)..=page.saturating_add(2)).filter(|n| (1..=pages).contains(n)));
    wanted.sort_unstable();
    wanted.dedup();
    let mut links = Vec::with_capacity(wanted.len() + 2);
    let mut previous = 0;
    for n in wanted {
        if n > previous + 1 {
            links.push(PageLink::Gap);
        }
        links.push(PageLink::Page(n));
        previous = n;
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(raw: &str) -> Result<ListQuery, String> {
        ListQuery::from_pairs(&wire::parse_pairs(raw))
    }

    #[test]
    fn absent_values_take_defaults_and_present_ones_are_validated() {
        assert_eq!(query(""), Ok(ListQuery::default()));
        assert_eq!(query("status=&sort=&page=&q="), Ok(ListQuery::default()));
        let q = query("status=blocked&q=+x9Qk+&sort=usage&page=3").expect("valid");
        assert_eq!((q.tab, q.search.as_str(), q.sort, q.page), (Tab::Blocked, "x9Qk", Sort::Usage, 3));
        for bad in ["status=all", "sort=key", "page=0", "page=-1", "page=two", "page=1000001", "sort=created;DROP"] {
            assert!(query(bad).is_err(), "{bad}");
        }
        assert!(query(&format!("q={}", "a".repeat(MAX_SEARCH_CHARS + 1))).is_err());
    }

    #[test]
    fn like_wildcards_in_a_search_are_literal() {
        assert_eq!(escape_like(r"50%_off\x"), r"50\%\_off\\x");
        let q = query("q=a%25b").expect("valid");
        assert_eq!(q.like_pattern().as_deref(), Some(r"%a\%b%"));
        assert_eq!(ListQuery::default().like_pattern(), None);
    }

    #[test]
    fn pages_hold_twenty_keys() {
        assert_eq!(page_count(0), 1);
        assert_eq!(page_count(20), 1);
        assert_eq!(page_count(21), 2);
        assert_eq!(page_count(10_000), 500);
        assert_eq!(query("page=3").expect("valid").offset(), 40);
        assert_eq!(query("page=1000000").expect("valid").offset(), 19_999_980);
    }

    #[test]
    fn the_pager_shows_ends_and_neighbours_with_gaps() {
        use PageLink::{Gap, Page};
        assert_eq!(page_links(1, 1), vec![Page(1)]);
        assert_eq!(page_links(2, 4), vec![Page(1), Page(2), Page(3), Page(4)]);
        assert_eq!(page_links(6, 50), vec![Page(1), Gap, Page(4), Page(5), Page(6), Page(7), Page(8), Gap, Page(50)]);
        assert_eq!(page_links(1, 50), vec![Page(1), Page(2), Page(3), Gap, Page(50)]);
        assert_eq!(page_links(50, 50), vec![Page(1), Gap, Page(48), Page(49), Page(50)]);
        assert_eq!(page_links(60, 50).first(), Some(&Page(1)), "a page past the end still gets a pager");
    }

    #[test]
    fn the_url_form_leaves_defaults_out_and_round_trips() {
        let q = query("status=cooling&q=a+b%26c&sort=usage&page=2").expect("valid");
        assert_eq!(q.to_query(None, None, None), "status=cooling&q=a%20b%26c&sort=usage&page=2");
        assert_eq!(q.to_query(Some(Tab::Active), Some(Sort::Created), Some(1)), "q=a%20b%26c");
        assert_eq!(query(&q.to_query(None, None, None)), Ok(q));
    }
}
