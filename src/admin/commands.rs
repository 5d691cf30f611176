//! The changes an operator can make, validated the same way whether they come from a page form or the JSON admin
//! API: add keys, delete (selected, all blocked, all active with confirmation), unblock, reset cooldowns, check keys
//! now (a probe each, at most [`MAX_CHECK_IDS`] per request), edit a remark. Every refusal is an [`ApiError`] with a message that says what to send instead, and is decided before
//! anything is written.

use super::bulk::{self, Paste, Rejected};
use super::wire;
use crate::api_error::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashSet;

/// Longest remark, in characters.
pub const MAX_REMARK_CHARS: usize = 256;
/// Most ids one command may name.
pub const MAX_IDS: usize = 10_000;
/// Most keys one "check now" may probe: each probe is one subrequest, and a request has few.
pub const MAX_CHECK_IDS: usize = 20;
/// Longest provider slug.
pub const MAX_SLUG_CHARS: usize = 64;

fn invalid(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, message)
}

/// Whether `slug` can name a provider: 1–64 of `a-z 0-9 - _ .`, starting with a letter or digit. Slugs outside the
/// provider table are allowed (D1 may hold keys of a provider this Worker does not serve).
pub fn is_slug(slug: &str) -> bool {
    slug.len() <= MAX_SLUG_CHARS
        && slug.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
}

/// The provider slug, or a 400.
pub fn check_provider(slug: &str) -> Result<String, ApiError> {
    let slug = slug.trim();
    if is_slug(slug) {
        Ok(slug.to_string())
    } else {
        Err(invalid("invalid_provider", "provider must be a slug such as google-ai-studio: lower-case letters, digits, '-', '_' or '.', at most 64"))
    }
}

/// A remark trimmed (`None` when empty), or a 400 when too long or holding control characters.
pub fn check_remark(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let remark = raw.map(str::trim).unwrap_or_default();
    if remark.chars().count() > MAX_REMARK_CHARS {
        return Err(invalid("invalid_remark", format!("the remark is longer than {MAX_REMARK_CHARS} characters")));
    }
    if remark.chars().any(char::is_control) {
        return Err(invalid("invalid_remark", "the remark holds control characters (line breaks included)"));
    }
    Ok((!remark.is_empty()).then(|| remark.to_string()))
}

fn is_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A non-empty list of key ids without repeats, or a 400.
pub fn check_ids<S: AsRef<str>>(ids: &[S]) -> Result<Vec<String>, ApiError> {
    if ids.is_empty() {
        return Err(invalid("no_keys_selected", "select at least one key (ids is empty)"));
    }
    if ids.len() > MAX_IDS {
        return Err(invalid("too_many_ids", format!("at most {MAX_IDS} ids per request")));
    }
    let mut seen: HashSet<&str> = HashSet::with_capacity(ids.len());
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids.iter().map(|id| id.as_ref().trim()) {
        if !is_id(id) {
            return Err(invalid("invalid_id", "ids are the key ids the list returns (letters, digits and '-')"));
        }
        if seen.insert(id) {
            out.push(id.to_string());
        }
    }
    Ok(out)
}

/// The ids of a "check now", at most [`MAX_CHECK_IDS`] after repeats are dropped, or a 400.
pub fn check_probe_ids<S: AsRef<str>>(ids: &[S]) -> Result<Vec<String>, ApiError> {
    let ids = check_ids(ids)?;
    if ids.len() > MAX_CHECK_IDS {
        return Err(invalid(
            "too_many_checks",
            format!("at most {MAX_CHECK_IDS} keys per check (each is one probe request); {} were given", ids.len()),
        ));
    }
    Ok(ids)
}

/// What the page's selected-keys form does (its `action` button).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selected {
    /// Delete the keys.
    Delete,
    /// Make blocked keys active.
    Unblock,
    /// End their cooldowns.
    Reset,
    /// Probe them now.
    Check,
}

impl Selected {
    /// The form's `action` value, or a 400.
    pub fn parse(action: Option<&str>) -> Result<Selected, ApiError> {
        match action.map(str::trim) {
            Some("delete") => Ok(Selected::Delete),
            Some("unblock") => Ok(Selected::Unblock),
            Some("reset") => Ok(Selected::Reset),
            Some("check") => Ok(Selected::Check),
            _ => Err(invalid("invalid_action", "action must be delete, unblock, reset or check")),
        }
    }

    /// The ids the action takes: a check has its own, lower limit.
    pub fn ids<S: AsRef<str>>(self, ids: &[S]) -> Result<Vec<String>, ApiError> {
        match self {
            Selected::Check => check_probe_ids(ids),
            Selected::Delete | Selected::Unblock | Selected::Reset => check_ids(ids),
        }
    }
}

/// Which keys a delete removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// These keys.
    Ids(Vec<String>),
    /// Every blocked key of the provider.
    AllBlocked,
    /// Every key of the provider that is not blocked (cooling ones included).
    AllActive,
}

/// Keys to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddKeys {
    /// Provider slug.
    pub provider: String,
    /// The parsed paste.
    pub paste: Paste,
    /// Remark stored with every added key.
    pub remark: Option<String>,
}

/// What adding keys did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddReport {
    /// Keys inserted.
    pub added: u64,
    /// Keys the provider already had.
    pub already_present: u64,
    /// Repeats within the paste.
    pub duplicates: usize,
    /// Keys refused, masked.
    pub rejected: Vec<Rejected>,
}

impl AddReport {
    /// The admin API's answer.
    pub fn to_json(&self) -> Value {
        let rejected: Vec<Value> =
            self.rejected.iter().map(|r| json!({ "key_masked": r.key_masked, "reason": r.reason.code() })).collect();
        json!({ "added": self.added, "already_present": self.already_present, "duplicates": self.duplicates, "rejected": rejected })
    }
}

fn paste_text(text: &str) -> Result<Paste, ApiError> {
    if bulk::count_text(text) > bulk::MAX_KEYS_PER_PASTE {
        return Err(too_many_keys());
    }
    Ok(bulk::parse_text(text))
}

fn too_many_keys() -> ApiError {
    invalid("too_many_keys", format!("at most {} keys per request; split the paste", bulk::MAX_KEYS_PER_PASTE))
}

fn nothing_to_add(paste: &Paste) -> Result<(), ApiError> {
    if paste.keys.is_empty() && paste.rejected.is_empty() {
        return Err(invalid("no_keys", "no keys given: paste keys separated by newlines, commas or spaces"));
    }
    Ok(())
}

/// `POST /admin/api/keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddBody {
    provider: String,
    keys: Option<Vec<String>>,
    text: Option<String>,
    remark: Option<String>,
}

impl AddBody {
    /// Validates the body into a command.
    pub fn into_command(self) -> Result<AddKeys, ApiError> {
        let provider = check_provider(&self.provider)?;
        let remark = check_remark(self.remark.as_deref())?;
        let paste = match (self.keys, self.text) {
            (Some(keys), None) if keys.len() > bulk::MAX_KEYS_PER_PASTE => return Err(too_many_keys()),
            (Some(keys), None) => bulk::parse_list(&keys),
            (None, Some(text)) => paste_text(&text)?,
            _ => return Err(invalid("invalid_body", "send exactly one of keys (an array of strings) or text (a paste)")),
        };
        nothing_to_add(&paste)?;
        Ok(AddKeys { provider, paste, remark })
    }
}

/// The page's add form: fields `keys` (the paste) and `remark`.
pub fn add_from_form(provider: &str, pairs: &[(String, String)]) -> Result<AddKeys, ApiError> {
    let provider = check_provider(provider)?;
    let remark = check_remark(wire::first(pairs, "remark"))?;
    let paste = paste_text(wire::first(pairs, "keys").unwrap_or_default())?;
    nothing_to_add(&paste)?;
    Ok(AddKeys { provider, paste, remark })
}

/// `POST /admin/api/keys/delete`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteBody {
    provider: String,
    ids: Option<Vec<String>>,
    status: Option<String>,
    confirm: Option<String>,
}

impl DeleteBody {
    /// Validates the body into (provider, target).
    pub fn into_command(self) -> Result<(String, Target), ApiError> {
        let provider = check_provider(&self.provider)?;
        let target = match (self.ids, self.status.as_deref()) {
            (Some(ids), None) => Target::Ids(check_ids(&ids)?),
            (None, Some("blocked")) => Target::AllBlocked,
            (None, Some("active")) => all_active(&provider, self.confirm.as_deref())?,
            _ => {
                return Err(invalid(
                    "invalid_body",
                    "send ids (an array), or status \"blocked\", or status \"active\" with confirm set to the provider",
                ))
            }
        };
        Ok((provider, target))
    }
}

/// The confirmation that deleting every active key needs: the provider's slug typed out.
pub fn all_active(provider: &str, confirm: Option<&str>) -> Result<Target, ApiError> {
    if confirm.map(str::trim) == Some(provider) {
        Ok(Target::AllActive)
    } else {
        Err(invalid("confirmation_required", format!("to delete every active key, confirm with the provider name \"{provider}\"")))
    }
}

/// `POST /admin/api/keys/unblock`, `POST /admin/api/keys/reset-cooldowns` and `POST /admin/api/keys/check`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdsBody {
    provider: String,
    ids: Vec<String>,
}

impl IdsBody {
    /// Validates the body into (provider, ids).
    pub fn into_command(self) -> Result<(String, Vec<String>), ApiError> {
        Ok((check_provider(&self.provider)?, check_ids(&self.ids)?))
    }

    /// Validates the body of a check into (provider, ids), at most [`MAX_CHECK_IDS`].
    pub fn into_check(self) -> Result<(String, Vec<String>), ApiError> {
        Ok((check_provider(&self.provider)?, check_probe_ids(&self.ids)?))
    }
}

/// `PATCH /admin/api/keys/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemarkBody {
    remark: Option<String>,
}

impl RemarkBody {
    /// The new remark (`None`: cleared).
    pub fn into_command(self) -> Result<Option<String>, ApiError> {
        check_remark(self.remark.as_deref())
    }
}

/// Parses a JSON body into `T`, with a message naming what is wrong.
pub fn parse_json<T: for<'de> Deserialize<'de>>(body: &str) -> Result<T, ApiError> {
    serde_json::from_str(body).map_err(|e| invalid("invalid_json", format!("the body is not the expected JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_checked_but_need_not_be_known() {
        assert_eq!(check_provider(" google-ai-studio "), Ok("google-ai-studio".to_string()));
        assert!(check_provider("my-own.provider_2").is_ok());
        for bad in ["", "-x", "OpenAI", "a/b", "a b", "<script>", &"a".repeat(65)] {
            assert!(check_provider(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn remarks_are_trimmed_limited_and_single_line() {
        assert_eq!(check_remark(Some("  team A ")), Ok(Some("team A".to_string())));
        assert_eq!(check_remark(Some("   ")), Ok(None));
        assert_eq!(check_remark(None), Ok(None));
        assert!(check_remark(Some(&"é".repeat(MAX_REMARK_CHARS))).is_ok());
        assert!(check_remark(Some(&"é".repeat(MAX_REMARK_CHARS + 1))).is_err());
        assert_eq!(check_remark(Some("a\nb")).map_err(|e| e.code), Err("invalid_remark"));
    }

    #[test]
    fn ids_must_be_present_well_formed_and_are_deduplicated() {
        assert_eq!(check_ids(&["a-1", "a-1", "b_2"]), Ok(vec!["a-1".to_string(), "b_2".to_string()]));
        assert_eq!(check_ids::<&str>(&[]).map_err(|e| e.code), Err("no_keys_selected"));
        assert!(check_ids(&["a'; DROP TABLE keys;--"]).is_err());
        assert!(check_ids(&vec!["x"; MAX_IDS + 1]).is_err());
    }

    #[test]
    fn the_selected_form_names_its_action_and_a_check_takes_at_most_twenty_keys() {
        assert_eq!(Selected::parse(Some("check")), Ok(Selected::Check));
        assert_eq!(Selected::parse(Some("unblock")), Ok(Selected::Unblock));
        for bad in [None, Some(""), Some("CHECK"), Some("<script>")] {
            assert_eq!(Selected::parse(bad).map_err(|e| e.code), Err("invalid_action"), "{bad:?}");
        }
        let twenty: Vec<String> = (0..MAX_CHECK_IDS).map(|i| format!("id-{i}")).collect();
        assert_eq!(Selected::Check.ids(&twenty).map(|ids| ids.len()), Ok(MAX_CHECK_IDS));
        let mut more = twenty.clone();
        more.push("id-20".to_string());
        let refused = Selected::Check.ids(&more).expect_err("21 keys");
        assert_eq!((refused.status, refused.code), (400, "too_many_checks"));
        assert!(refused.message.contains("at most 20"), "{}", refused.message);
        assert_eq!(Selected::Delete.ids(&more).map(|ids| ids.len()), Ok(21), "other actions keep their own limit");
        let mut repeated = twenty.clone();
        repeated.push("id-0".to_string());
        assert_eq!(Selected::Check.ids(&repeated).map(|ids| ids.len()), Ok(MAX_CHECK_IDS), "repeats do not count");
        assert_eq!(Selected::Check.ids::<&str>(&[]).map_err(|e| e.code), Err("no_keys_selected"));
    }

    #[test]
    fn a_check_body_is_a_provider_and_at_most_twenty_ids() {
        let parse = |raw: &str| parse_json::<IdsBody>(raw).and_then(IdsBody::into_check);
        assert_eq!(parse(r#"{"provider":"groq","ids":["a","a"]}"#), Ok(("groq".to_string(), vec!["a".to_string()])));
        let ids: Vec<String> = (0..21).map(|i| format!("\"k{i}\"")).collect();
        let many = format!(r#"{{"provider":"groq","ids":[{}]}}"#, ids.join(","));
        assert_eq!(parse(&many).map_err(|e| e.code), Err("too_many_checks"));
        assert_eq!(parse(r#"{"provider":"groq","ids":["a"],"all":true}"#).map_err(|e| e.code), Err("invalid_json"));
        assert_eq!(parse(r#"{"provider":"Groq","ids":["a"]}"#).map_err(|e| e.code), Err("invalid_provider"));
    }

    #[test]
    fn add_takes_exactly_one_of_keys_or_text() {
        let body: AddBody = parse_json(r#"{"provider":"openai","keys":["sk-1234567890abcdef"," "],"remark":"r"}"#).expect("json");
        let cmd = body.into_command().expect("valid");
        assert_eq!(cmd.paste.keys, vec!["sk-1234567890abcdef"]);
        assert_eq!(cmd.paste.rejected.len(), 1);
        assert_eq!(cmd.remark.as_deref(), Some("r"));
        let both: AddBody = parse_json(r#"{"provider":"openai","keys":["a"],"text":"b"}"#).expect("json");
        assert_eq!(both.into_command().map_err(|e| e.code), Err("invalid_body"));
        let empty: AddBody = parse_json(r#"{"provider":"openai","text":" ,\n"}"#).expect("json");
        assert_eq!(empty.into_command().map_err(|e| e.code), Err("no_keys"));
        let unknown = parse_json::<AddBody>(r#"{"provider":"openai","key":"a"}"#).expect_err("unknown field");
        assert!(unknown.message.contains("unknown field"), "{}", unknown.message);
    }

    #[test]
    fn oversized_pastes_are_refused_before_parsing() {
        let text = "k1234567 ".repeat(bulk::MAX_KEYS_PER_PASTE + 1);
        let pairs = vec![("keys".to_string(), text)];
        assert_eq!(add_from_form("openai", &pairs).map_err(|e| e.code), Err("too_many_keys"));
    }

    #[test]
    fn deleting_every_active_key_needs_the_provider_name() {
        let parse = |raw: &str| parse_json::<DeleteBody>(raw).and_then(DeleteBody::into_command).map(|(_, t)| t);
        assert_eq!(parse(r#"{"provider":"groq","status":"blocked"}"#), Ok(Target::AllBlocked));
        assert_eq!(parse(r#"{"provider":"groq","status":"active","confirm":"groq"}"#), Ok(Target::AllActive));
        assert_eq!(parse(r#"{"provider":"groq","status":"active"}"#).map_err(|e| e.code), Err("confirmation_required"));
        assert_eq!(parse(r#"{"provider":"groq","status":"active","confirm":"openai"}"#).map_err(|e| e.code), Err("confirmation_required"));
        assert_eq!(parse(r#"{"provider":"groq","ids":["a"]}"#), Ok(Target::Ids(vec!["a".to_string()])));
        assert!(parse(r#"{"provider":"groq","ids":["a"],"status":"blocked"}"#).is_err());
        assert!(parse(r#"{"provider":"groq","status":"cooling"}"#).is_err());
    }

    #[test]
    fn the_add_report_is_the_documented_json() {
        let report = AddReport {
            added: 2,
            already_present: 1,
            duplicates: 0,
            rejected: vec![Rejected { key_masked: "…ab".to_string(), reason: bulk::Rejection::TooLong }],
        };
        assert_eq!(
            report.to_json(),
            json!({"added":2,"already_present":1,"duplicates":0,"rejected":[{"key_masked":"…ab","reason":"too_long"}]})
        );
    }
}
