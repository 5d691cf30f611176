//! The admin site's words in English and Simplified Chinese, and how a request's language is chosen.
//!
//! Every string lives in one [`Text`] struct with one constant per language, so a string missing in one language
//! is a compile error. Templates mark their values as `{name}` and are filled by [`fill`]; the result is plain text
//! that the views escape like any other. Language: `?lang=` (which the edge also stores in the `lang` cookie), else
//! the cookie, else the first supported language in `Accept-Language`, else English.

/// A supported language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// Both, in the order the switch shows them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Zh];

    /// The code in `?lang=` and the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// The language named `code` (`zh-CN`, `zh-Hans`… count as Chinese).
    pub fn parse(code: &str) -> Option<Lang> {
        let code = code.trim().to_ascii_lowercase();
        let primary = code.split(['-', '_']).next().unwrap_or_default();
        match primary {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// The strings of this language.
    pub fn text(self) -> &'static Text {
        match self {
            Lang::En => &EN,
            Lang::Zh => &ZH,
        }
    }
}

/// The language for a request: `?lang=`, the `lang` cookie, `Accept-Language` (by q-value), English.
pub fn negotiate(query: Option<&str>, cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
    if let Some(lang) = query.and_then(Lang::parse).or_else(|| cookie.and_then(Lang::parse)) {
        return lang;
    }
    let mut best: Option<(Lang, f32)> = None;
    for item in accept_language.unwrap_or_default().split(',') {
        let mut parts = item.split(';');
        let Some(lang) = parts.next().and_then(Lang::parse) else { continue };
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q > 0.0 && best.is_none_or(|(_, best_q)| q > best_q) {
            best = Some((lang, q));
        }
    }
    best.map_or(Lang::En, |(lang, _)| lang)
}

/// Replaces each `{name}` in `template` with its value.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

impl Text {
    /// The page's wording for a refusal the operator can fix, by the error's code; `None`: show its own message.
    pub fn for_error(&self, code: &str) -> Option<&'static str> {
        match code {
            "no_keys_selected" => Some(self.error_nothing_selected),
            "confirmation_required" => Some(self.error_confirm_mismatch),
            "invalid_remark" => Some(self.error_remark),
            "no_keys" => Some(self.error_no_keys),
            "too_many_keys" => Some(self.error_too_many_keys),
            "body_too_large" => Some(self.too_large),
            "too_many_checks" => Some(self.error_too_many_checks),
            _ => None,
        }
    }
}

/// Every string of the admin site in one language.
pub struct Text {
    pub html_lang: &'static str,
    pub lang_name: &'static str,
    pub nav_providers: &'static str,
    pub logout: &'static str,
    pub login_title: &'static str,
    pub login_hint: &'static str,
    pub auth_key_label: &'static str,
    pub login_button: &'static str,
    pub login_failed: &'static str,
    pub login_restricted: &'static str,
    pub login_throttled: &'static str,
    pub providers_title: &'static str,
    pub col_provider: &'static str,
    pub active: &'static str,
    pub cooling: &'static str,
    pub blocked: &'static str,
    pub total: &'static str,
    pub unknown_provider: &'static str,
    pub goto_label: &'static str,
    pub goto_button: &'static str,
    pub search_placeholder: &'static str,
    pub search_button: &'static str,
    pub clear_search: &'static str,
    pub sort_label: &'static str,
    pub sort_created: &'static str,
    /// The default order on the cooling tab (the cooldowns that end first: an index's own order).
    pub sort_cooldown_end: &'static str,
    pub sort_cooling: &'static str,
    pub sort_usage: &'static str,
    pub col_key: &'static str,
    pub col_status: &'static str,
    pub col_cooldowns: &'static str,
    pub col_usage: &'static str,
    pub col_remark: &'static str,
    pub col_added: &'static str,
    pub select_all: &'static str,
    pub select_key: &'static str,
    pub copy: &'static str,
    pub copied: &'static str,
    pub copy_failed: &'static str,
    pub no_keys: &'static str,
    pub showing: &'static str,
    pub page_prev: &'static str,
    pub page_next: &'static str,
    pub pages_label: &'static str,
    pub models_cooling: &'static str,
    pub all_models: &'static str,
    pub time_left: &'static str,
    pub cooled_total: &'static str,
    pub usage_line: &'static str,
    pub last_used: &'static str,
    pub last_error: &'static str,
    pub never_used: &'static str,
    pub ago: &'static str,
    pub add_remark: &'static str,
    pub save: &'static str,
    pub delete_selected: &'static str,
    pub unblock_selected: &'static str,
    pub reset_selected: &'static str,
    pub confirm_delete_selected: &'static str,
    pub add_title: &'static str,
    pub keys_label: &'static str,
    pub remark_label: &'static str,
    pub add_button: &'static str,
    pub report_added: &'static str,
    pub report_present: &'static str,
    pub report_duplicates: &'static str,
    pub report_rejected: &'static str,
    pub reason_empty: &'static str,
    pub reason_too_long: &'static str,
    pub reason_whitespace: &'static str,
    pub reason_control: &'static str,
    pub danger_title: &'static str,
    pub delete_all_blocked: &'static str,
    pub confirm_delete_blocked: &'static str,
    pub delete_all_active: &'static str,
    pub confirm_active_label: &'static str,
    pub notice_deleted: &'static str,
    pub notice_unblocked: &'static str,
    pub notice_reset: &'static str,
    pub notice_remark_saved: &'static str,
    pub error_nothing_selected: &'static str,
    pub error_confirm_mismatch: &'static str,
    pub error_remark: &'static str,
    pub error_no_keys: &'static str,
    pub error_too_many_keys: &'static str,
    pub error_title: &'static str,
    pub not_found: &'static str,
    pub csrf_failed: &'static str,
    pub too_large: &'static str,
    pub misconfigured_title: &'static str,
    pub misconfigured_hint: &'static str,
    pub back_home: &'static str,
    pub check_selected: &'static str,
    pub check_last: &'static str,
    pub check_never: &'static str,
    pub check_next: &'static str,
    pub check_due: &'static str,
    pub notice_checked: &'static str,
    pub error_too_many_checks: &'static str,
    pub throttle_title: &'static str,
    pub affinity_title: &'static str,
    pub affinity_note: &'static str,
    pub affinity_none: &'static str,
    pub affinity_figures: &'static str,
    pub throttle_note: &'static str,
    pub throttle_off: &'static str,
    pub throttle_none: &'static str,
    pub col_model: &'static str,
    pub col_keys_tried: &'static str,
    pub col_rate_limited: &'static str,
    pub col_succeeded: &'static str,
    pub col_rate_limited_bare: &'static str,
    pub col_usable: &'static str,
    pub col_paused: &'static str,
    pub col_pauses: &'static str,
    pub no_model: &'static str,
    pub unit_s: &'static str,
    pub unit_m: &'static str,
    pub unit_h: &'static str,
    pub unit_d: &'static str,
    pub unit_gap: &'static str,
}

const EN: Text = Text {
    html_lang: "en",
    lang_name: "English",
    nav_providers: "Providers",
    logout: "Log out",
    login_title: "Sign in",
    login_hint: "Enter an unrestricted service key from AUTH_KEY.",
    auth_key_label: "Service key",
    login_button: "Sign in",
    login_failed: "That key is not valid.",
    login_restricted: "This key is restricted to some providers; the admin page needs an unrestricted key.",
    login_throttled: "Too many failed attempts. Try again in {time}.",
    providers_title: "Providers",
    col_provider: "Provider",
    active: "Active",
    cooling: "Cooling",
    blocked: "Blocked",
    total: "Total",
    unknown_provider: "not served by this Worker: its keys are never used",
    goto_label: "Open a provider by its slug",
    goto_button: "Open",
    search_placeholder: "Key fragment or remark",
    search_button: "Search",
    clear_search: "Clear",
    sort_label: "Sort by",
    sort_created: "Newest",
    sort_cooldown_end: "Cooldown ends first",
    sort_cooling: "Cooling time",
    sort_usage: "Usage",
    col_key: "Key",
    col_status: "Status",
    col_cooldowns: "Cooldowns",
    col_usage: "Usage",
    col_remark: "Remark",
    col_added: "Added",
    select_all: "Select all",
    select_key: "Select key",
    copy: "Copy",
    copied: "Copied",
    copy_failed: "Copy failed",
    no_keys: "No keys here.",
    showing: "{from}–{to} of {total}",
    page_prev: "Previous",
    page_next: "Next",
    pages_label: "Pages",
    models_cooling: "{count} cooling",
    all_models: "all models",
    time_left: "{time} left",
    cooled_total: "{time} in total",
    usage_line: "{requests} req · {successes} ok · {limited} × 429 · {errors} err",
    last_used: "last used {when}",
    last_error: "last error",
    never_used: "never used",
    ago: "{time} ago",
    add_remark: "add remark",
    save: "Save",
    delete_selected: "Delete selected",
    unblock_selected: "Unblock selected",
    reset_selected: "Reset cooldowns",
    confirm_delete_selected: "Delete the selected keys?",
    add_title: "Add keys",
    keys_label: "Keys — one per line, or separated by commas or spaces",
    remark_label: "Remark (optional)",
    add_button: "Add keys",
    report_added: "{count} added",
    report_present: "{count} already present",
    report_duplicates: "{count} repeated in the paste",
    report_rejected: "{count} rejected",
    reason_empty: "empty",
    reason_too_long: "longer than 512 characters",
    reason_whitespace: "whitespace inside",
    reason_control: "control or invisible character",
    danger_title: "Bulk delete",
    delete_all_blocked: "Delete all blocked keys",
    confirm_delete_blocked: "Delete every blocked key of this provider?",
    delete_all_active: "Delete all active keys",
    confirm_active_label: "Type {provider} to confirm",
    notice_deleted: "{count} keys deleted.",
    notice_unblocked: "{count} keys unblocked.",
    notice_reset: "Cooldowns reset on {count} keys.",
    notice_remark_saved: "Remark saved.",
    error_nothing_selected: "Select at least one key first.",
    error_confirm_mismatch: "Type the provider name exactly to delete all active keys.",
    error_remark: "A remark is one line of at most 256 characters.",
    error_no_keys: "Paste at least one key.",
    error_too_many_keys: "At most 20,000 keys per paste; split it.",
    error_title: "Something is wrong",
    not_found: "There is no page here.",
    csrf_failed: "This form has expired or did not come from this site. Go back, reload the page and try again.",
    too_large: "The form is too large (over 2 MB). Split the paste.",
    misconfigured_title: "The Worker is not configured",
    misconfigured_hint: "Set the secret with `npx wrangler secret put AUTH_KEY` (locally: AUTH_KEY=… in .dev.vars), then reload this page.",
    back_home: "Back to providers",
    check_selected: "Check now",
    check_last: "last checked {when}",
    check_never: "not checked yet",
    check_next: "next check in {time}",
    check_due: "next check at the next scheduled run",
    notice_checked: "{count} keys checked, {ok} passed.",
    error_too_many_checks: "Check at most 20 keys at a time.",
    throttle_title: "Pool-wide throttling",
    affinity_title: "Sessions and their keys",
    affinity_note: "Requests of one conversation go to the same key while it is healthy, so the provider's prompt cache hits (SESSION_AFFINITY). These figures are per isolate, since it started.",
    affinity_none: "No requests in this isolate yet.",
    affinity_figures: "{requests} requests: {with_session}% named a session; the session's own key served {held}% of those ({moved} moved to its next key).",
    throttle_note: "These figures are per isolate: each Worker instance counts only the requests it served since it started, so another instance may show other numbers. A provider and model is paused for {pause} (twice as long on each repeat) when, within {window}, no key answered successfully, at least {min_keys} distinct keys answered 429 without quota details (a 429 that names the key's own quota never counts), and they are at least {percent}% of the usable keys not yet tried plus themselves.",
    throttle_off: "Pool-wide throttle detection is off (THROTTLE_MIN_KEYS=0).",
    throttle_none: "No requests in the window and no pauses in this isolate yet.",
    col_model: "Model",
    col_keys_tried: "Keys tried",
    col_rate_limited: "Rate-limited (429)",
    col_succeeded: "Answered 2xx",
    col_rate_limited_bare: "429 without quota details",
    col_usable: "Usable keys",
    col_paused: "Paused",
    col_pauses: "Pauses",
    no_model: "(no model)",
    unit_s: "s",
    unit_m: "m",
    unit_h: "h",
    unit_d: "d",
    unit_gap: " ",
};

const ZH: Text = Text {
    html_lang: "zh-CN",
    lang_name: "中文",
    nav_providers: "服务商",
    logout: "退出登录",
    login_title: "登录",
    login_hint: "请输入 AUTH_KEY 中不受限制的服务密钥。",
    auth_key_label: "服务密钥",
    login_button: "登录",
    login_failed: "密钥无效。",
    login_restricted: "该密钥仅限部分服务商使用；管理页面需要不受限制的密钥。",
    login_throttled: "失败次数过多，请在 {time} 后重试。",
    providers_title: "服务商",
    col_provider: "服务商",
    active: "可用",
    cooling: "冷却中",
    blocked: "已封禁",
    total: "合计",
    unknown_provider: "本 Worker 不提供此服务商，其密钥不会被使用",
    goto_label: "按标识打开服务商",
    goto_button: "打开",
    search_placeholder: "密钥片段或备注",
    search_button: "搜索",
    clear_search: "清除",
    sort_label: "排序",
    sort_created: "最新添加",
    sort_cooldown_end: "冷却最先结束",
    sort_cooling: "冷却时长",
    sort_usage: "使用量",
    col_key: "密钥",
    col_status: "状态",
    col_cooldowns: "冷却",
    col_usage: "使用情况",
    col_remark: "备注",
    col_added: "添加时间",
    select_all: "全选",
    select_key: "选择密钥",
    copy: "复制",
    copied: "已复制",
    copy_failed: "复制失败",
    no_keys: "这里没有密钥。",
    showing: "第 {from}–{to} 条，共 {total} 条",
    page_prev: "上一页",
    page_next: "下一页",
    pages_label: "分页",
    models_cooling: "{count} 个模型冷却中",
    all_models: "所有模型",
    time_left: "剩余 {time}",
    cooled_total: "累计 {time}",
    usage_line: "请求 {requests} · 成功 {successes} · 429 {limited} 次 · 错误 {errors}",
    last_used: "最近使用：{when}",
    last_error: "最近错误",
    never_used: "从未使用",
    ago: "{time}前",
    add_remark: "添加备注",
    save: "保存",
    delete_selected: "删除所选",
    unblock_selected: "解封所选",
    reset_selected: "重置冷却",
    confirm_delete_selected: "确定删除所选密钥？",
    add_title: "添加密钥",
    keys_label: "密钥——每行一个，或用逗号、空格分隔",
    remark_label: "备注（可选）",
    add_button: "添加密钥",
    report_added: "新增 {count} 个",
    report_present: "{count} 个已存在",
    report_duplicates: "粘贴内容中重复 {count} 个",
    report_rejected: "拒绝 {count} 个",
    reason_empty: "为空",
    reason_too_long: "超过 512 个字符",
    reason_whitespace: "包含空白字符",
    reason_control: "包含控制字符或不可见字符",
    danger_title: "批量删除",
    delete_all_blocked: "删除所有已封禁密钥",
    confirm_delete_blocked: "确定删除该服务商的所有已封禁密钥？",
    delete_all_active: "删除所有可用密钥",
    confirm_active_label: "输入 {provider} 以确认",
    notice_deleted: "已删除 {count} 个密钥。",
    notice_unblocked: "已解封 {count} 个密钥。",
    notice_reset: "已重置 {count} 个密钥的冷却。",
    notice_remark_saved: "备注已保存。",
    error_nothing_selected: "请先选择至少一个密钥。",
    error_confirm_mismatch: "请准确输入服务商名称，才能删除所有可用密钥。",
    error_remark: "备注为单行，最多 256 个字符。",
    error_no_keys: "请至少粘贴一个密钥。",
    error_too_many_keys: "每次最多粘贴 20,000 个密钥，请分批添加。",
    error_title: "出错了",
    not_found: "此页面不存在。",
    csrf_failed: "表单已过期或并非来自本站。请返回、刷新页面后重试。",
    too_large: "表单过大（超过 2 MB），请分批粘贴。",
    misconfigured_title: "Worker 尚未配置",
    misconfigured_hint: "请用 `npx wrangler secret put AUTH_KEY` 设置密钥（本地开发：在 .dev.vars 中写入 AUTH_KEY=…），然后刷新本页。",
    back_home: "返回服务商列表",
    check_selected: "立即检测",
    check_last: "上次检测：{when}",
    check_never: "尚未检测",
    check_next: "{time}后再次检测",
    check_due: "下次定时运行时检测",
    notice_checked: "已检测 {count} 个密钥，{ok} 个通过。",
    error_too_many_checks: "每次最多检测 20 个密钥。",
    throttle_title: "全池限流",
    affinity_title: "会话与密钥",
    affinity_note: "同一对话的请求在密钥健康时发往同一个密钥，使服务商的提示词缓存命中（SESSION_AFFINITY）。以下数据按隔离实例统计，自其启动以来。",
    affinity_none: "此隔离实例尚无请求。",
    affinity_figures: "共 {requests} 个请求：{with_session}% 带有会话；其中 {held}% 由会话自己的密钥处理（{moved} 个转到了下一个密钥）。",
    throttle_note: "以下数据按隔离实例（isolate）统计：每个 Worker 实例只统计自启动以来自己处理的请求，其他实例的数字可能不同。若在 {window} 内没有密钥成功响应，至少 {min_keys} 个不同密钥返回不带配额详情的 429（注明密钥自身配额的 429 从不计入），且它们占“这些密钥加上尚未尝试的可用密钥”的 {percent}% 以上，该服务商与模型将暂停 {pause}（每次重复加倍）。",
    throttle_off: "全池限流检测已关闭（THROTTLE_MIN_KEYS=0）。",
    throttle_none: "本实例在统计窗口内尚无请求，也没有暂停记录。",
    col_model: "模型",
    col_keys_tried: "已尝试密钥",
    col_rate_limited: "被限流（429）",
    col_succeeded: "成功响应（2xx）",
    col_rate_limited_bare: "不带配额详情的 429",
    col_usable: "可用密钥",
    col_paused: "暂停",
    col_pauses: "暂停次数",
    no_model: "（无模型）",
    unit_s: "秒",
    unit_m: "分",
    unit_h: "小时",
    unit_d: "天",
    unit_gap: "",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_wins_then_the_cookie_then_accept_language() {
        assert_eq!(negotiate(Some("zh"), Some("en"), Some("en")), Lang::Zh);
        assert_eq!(negotiate(Some("xx"), Some("zh"), None), Lang::Zh, "an unknown ?lang= is ignored");
        assert_eq!(negotiate(None, None, Some("zh-CN,zh;q=0.9,en;q=0.8")), Lang::Zh);
        assert_eq!(negotiate(None, None, Some("fr-FR, en;q=0.5, zh;q=0.4")), Lang::En);
        assert_eq!(negotiate(None, None, Some("en;q=0.2, zh-Hans;q=0.7")), Lang::Zh);
        assert_eq!(negotiate(None, None, Some("zh;q=0")), Lang::En, "q=0 means not acceptable");
        assert_eq!(negotiate(None, None, None), Lang::En);
    }

    #[test]
    fn refusals_the_operator_can_fix_are_translated() {
        assert_eq!(ZH.for_error("no_keys_selected"), Some("请先选择至少一个密钥。"));
        assert_eq!(EN.for_error("confirmation_required"), Some(EN.error_confirm_mismatch));
        assert_eq!(EN.for_error("misconfigured"), None);
    }

    #[test]
    fn templates_are_filled_by_name() {
        assert_eq!(fill(EN.showing, &[("from", "1"), ("to", "20"), ("total", "57")]), "1–20 of 57");
        assert_eq!(fill(ZH.confirm_active_label, &[("provider", "groq")]), "输入 groq 以确认");
    }

    #[test]
    fn both_languages_use_the_same_placeholders() {
        let pairs = [
            (EN.login_throttled, ZH.login_throttled),
            (EN.showing, ZH.showing),
            (EN.models_cooling, ZH.models_cooling),
            (EN.time_left, ZH.time_left),
            (EN.cooled_total, ZH.cooled_total),
            (EN.usage_line, ZH.usage_line),
            (EN.last_used, ZH.last_used),
            (EN.ago, ZH.ago),
            (EN.report_added, ZH.report_added),
            (EN.report_present, ZH.report_present),
            (EN.report_duplicates, ZH.report_duplicates),
            (EN.report_rejected, ZH.report_rejected),
            (EN.confirm_active_label, ZH.confirm_active_label),
            (EN.notice_deleted, ZH.notice_deleted),
            (EN.notice_unblocked, ZH.notice_unblocked),
            (EN.notice_reset, ZH.notice_reset),
            (EN.check_last, ZH.check_last),
            (EN.check_next, ZH.check_next),
            (EN.notice_checked, ZH.notice_checked),
            (EN.throttle_note, ZH.throttle_note),
        ];
        let holes = |s: &str| {
            let mut found: Vec<String> = s.split('{').skip(1).filter_map(|p| p.split_once('}')).map(|(n, _)| n.to_string()).collect();
            found.sort();
            found
        };
        for (en, zh) in pairs {
            assert!(!holes(en).is_empty(), "{en}");
            assert_eq!(holes(en), holes(zh), "{en} / {zh}");
        }
    }
}
