//! Service keys: the `AUTH_KEY` secret's grammar, and deciding what a presented key may do.
//!
//! `AUTH_KEY` holds one or more definitions separated by `;`, each
//! `key[(unix_expiry)][=provider[,model…][&provider[,model…]…]]`. A definition without `=` is unrestricted and may
//! use the admin page. With a scope, the key may use only the listed providers and, for a provider that lists models,
//! only those models — per provider (the original flattened models across providers; that let a key scoped to
//! `openai,gpt-4o` use `gpt-4o` on any provider it could reach).
//!
//! A definition without a scope must be at least [`MIN_UNRESTRICTED_KEY_CHARS`] characters long: it opens the
//! admin page, which shows and deletes every pool key, so a short one is refused at start like the public default
//! (every request answers 500 saying how to fix it). Restricted keys keep any length, as in the original: they reach
//! only the providers and models they name, never the admin page or a pool key, the guess limit
//! (`crate::guess_limit`) bounds how fast anyone can try them, and `npm run deploycf` warns below 16 characters.
//! Refusing them would take down deployments that hand out short per-application tokens, for a smaller gain.
//!
//! A model-restricted grant is checked against EVERY model a request names ([`Grant::permits_request`], using
//! `request_model::named_models`), not only the one the cooldowns use; a request whose models cannot be read is
//! refused before any pool key is used.
//!
//! Comparison is constant-time: both the presented and the configured keys are hashed with SHA-256 and compared with
//! `subtle`, over every configured key with no early exit, so neither a key's length nor which definition matched
//! shows in the timing. Parsing reports a definition by its position, never by its text.

use crate::providers::Provider;
use crate::request_model::{self, ModelRequest, Unverifiable};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// The value the original project shipped as its default; anyone can guess it, so it is refused.
pub const PUBLIC_DEFAULT_KEY: &str = "my-auth-key";

/// Shortest unrestricted key accepted, in characters. 16 characters of even lower-case letters and digits are
/// over 80 bits: out of reach of online guessing however many addresses try, while still short enough to type.
/// `npm run deploycf` warns at the same length, and `openssl rand -hex 24` gives 48.
pub const MIN_UNRESTRICTED_KEY_CHARS: usize = 16;

/// What one service key may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every provider and model, and the admin page.
    Unrestricted,
    /// Only these providers; each with its own model allow-list (empty: every model of that provider).
    Restricted(Vec<ProviderGrant>),
}

/// One provider a restricted key may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderGrant {
    /// Provider slug, as in `/api/{provider}/…`.
    pub provider: String,
    /// Models allowed on that provider; empty means all.
    pub models: Vec<String>,
}

/// A service key's rights, once it has been recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The definition's 1-based position in `AUTH_KEY`: names the service key without revealing it (AI Gateway cache
    /// keys are scoped by it, see [`crate::upstream::scoped_cache_key`]).
    pub position: usize,
    /// Unix seconds after which the key no longer works.
    pub expires_at_s: Option<u64>,
    /// What it may reach.
    pub scope: Scope,
}

/// One parsed definition: the key's digest (the key itself is not kept) and its grant.
#[derive(Clone)]
struct Definition {
    digest: [u8; 32],
    grant: Grant,
}

/// The parsed `AUTH_KEY`.
#[derive(Clone)]
pub struct ServiceKeys {
    definitions: Vec<Definition>,
}

impl fmt::Debug for ServiceKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceKeys({} definitions)", self.definitions.len())
    }
}

/// Why `AUTH_KEY` cannot be used. Messages name a definition by position and never quote a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrammarError {
    /// The secret is unset or holds no definition.
    Empty,
    /// A definition uses the public default key.
    PublicDefault {
        /// 1-based position of the definition.
        position: usize,
    },
    /// An unrestricted definition is shorter than [`MIN_UNRESTRICTED_KEY_CHARS`].
    WeakKey {
        /// 1-based position of the definition.
        position: usize,
    },
    /// A definition is malformed.
    Malformed {
        /// 1-based position of the definition.
        position: usize,
        /// What is wrong.
        problem: &'static str,
    },
}

impl fmt::Display for GrammarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrammarError::Empty => write!(
                f,
                "AUTH_KEY is not set. Set it as a secret: `npx wrangler secret put AUTH_KEY` (locally: AUTH_KEY=… in .dev.vars)"
            ),
            GrammarError::PublicDefault { position } => write!(
                f,
                "AUTH_KEY definition {position} uses the public default `{PUBLIC_DEFAULT_KEY}`; set a long random secret with `npx wrangler secret put AUTH_KEY`"
            ),
            GrammarError::WeakKey { position } => write!(
                f,
                "AUTH_KEY definition {position} is an unrestricted key (it can open the admin page) shorter than {MIN_UNRESTRICTED_KEY_CHARS} characters, \
                 so it could be guessed; set a long random one: `openssl rand -hex 24 | npx wrangler secret put AUTH_KEY` \
                 (keys restricted to providers, key=provider…, may be shorter)"
            ),
            GrammarError::Malformed { position, problem } => write!(
                f,
                "AUTH_KEY definition {position} is malformed: {problem}. Expected key[(unix_expiry)][=provider[,model…][&provider…]], definitions separated by ';'"
            ),
        }
    }
}

impl std::error::Error for GrammarError {}

/// Why a presented key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// No key was presented.
    Missing,
    /// The key matches no definition.
    Unknown,
    /// The key's expiry has passed.
    Expired,
    /// The key may not use this provider.
    ProviderNotAllowed,
    /// The key may not use this model on this provider.
    ModelNotAllowed,
    /// The key may use only some models, and the models this request names cannot be read.
    ModelUnverifiable(Unverifiable),
    /// The key is restricted and the admin page needs an unrestricted one.
    NotAdmin,
}

impl Denial {
    /// HTTP status: 401 when the caller is not recognised, 403 when it is but may not do this.
    pub fn status(self) -> u16 {
        match self {
            Denial::Missing | Denial::Unknown | Denial::Expired => 401,
            Denial::ProviderNotAllowed | Denial::ModelNotAllowed | Denial::ModelUnverifiable(_) | Denial::NotAdmin => 403,
        }
    }

    /// A message for the caller; it never echoes the key.
    pub fn message(self) -> &'static str {
        match self {
            Denial::Missing => "no service key: send it in the provider's auth header (e.g. Authorization: Bearer …)",
            Denial::Unknown => "the service key is not valid",
            Denial::Expired => "the service key has expired",
            Denial::ProviderNotAllowed => "this service key may not use this provider",
            Denial::ModelNotAllowed => "this service key may not use this model",
            Denial::ModelUnverifiable(why) => why.message(),
            Denial::NotAdmin => "this service key is restricted; the admin API needs an unrestricted key",
        }
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl ServiceKeys {
    /// Parses `AUTH_KEY`. Refuses an empty secret, the public default, and malformed definitions.
    pub fn parse(raw: &str) -> Result<ServiceKeys, GrammarError> {
        let mut definitions = Vec::new();
        for (index, text) in raw.split(';').map(str::trim).filter(|d| !d.is_empty()).enumerate() {
            definitions.push(parse_definition(text, index + 1)?);
        }
        if definitions.is_empty() {
            return Err(GrammarError::Empty);
        }
        Ok(ServiceKeys { definitions })
    }

    /// Recognises `presented` in constant time and returns its grant if it is current.
    pub fn authenticate(&self, presented: &str, now_s: u64) -> Result<&Grant, Denial> {
        self.recognise(presented, now_s).map(|r| r.grant)
    }

    /// The grant of the definition at `definition` (as [`Recognised::definition`] names it).
    pub fn grant(&self, definition: usize) -> Option<&Grant> {
        self.definitions.get(definition).map(|d| &d.grant)
    }

    /// [`ServiceKeys::authenticate`], also saying which definition matched (the guess limit remembers a client
    /// per definition, so a client known for one key is not waved through with another).
    pub fn recognise(&self, presented: &str, now_s: u64) -> Result<Recognised<'_>, Denial> {
        if presented.is_empty() {
            return Err(Denial::Missing);
        }
        let presented = digest(presented);
        let mut found: Option<usize> = None;
        for (index, definition) in self.definitions.iter().enumerate() {
            let equal: bool = definition.digest.ct_eq(&presented).into();
            if equal && found.is_none() {
                found = Some(index);
            }
        }
        let definition = found.ok_or(Denial::Unknown)?;
        let grant = &self.definitions[definition].grant;
        match grant.expires_at_s {
            Some(expiry) if now_s >= expiry => Err(Denial::Expired),
            _ => Ok(Recognised { definition, grant }),
        }
    }
}

/// A recognised, current service key.
#[derive(Debug, Clone, Copy)]
pub struct Recognised<'a> {
    /// Its definition's position in `AUTH_KEY`, from 0.
    pub definition: usize,
    /// What it may reach.
    pub grant: &'a Grant,
}

impl Grant {
    /// Whether this grant may use `provider`, and `model` on it when the request names one.
    pub fn permits(&self, provider: &str, model: Option<&str>) -> Result<(), Denial> {
        let Scope::Restricted(grants) = &self.scope else { return Ok(()) };
        let grant = grants.iter().find(|g| g.provider == provider).ok_or(Denial::ProviderNotAllowed)?;
        match model {
            Some(model) if !grant.models.is_empty() && !grant.models.iter().any(|m| m == model) => {
                Err(Denial::ModelNotAllowed)
            }
            _ => Ok(()),
        }
    }

    /// Whether this grant may make `request` to `provider`: the provider must be granted, and for a grant that
    /// lists models, EVERY model the request names (path, query and body; `request_model::named_models`) must be
    /// listed. A request whose models cannot be read is refused ([`Denial::ModelUnverifiable`]). Unrestricted keys
    /// and provider-only grants parse nothing here.
    pub fn permits_request(&self, provider: &Provider, request: &ModelRequest<'_>) -> Result<(), Denial> {
        self.permits_named(provider, || request_model::named_models(provider, request))
    }

    /// [`Grant::permits_request`] for the OpenAI-compatible route: `model` is the part of the body's
    /// `"{provider}/{model}"` after the provider, `body` the client's body.
    pub fn permits_compat(&self, provider: &Provider, model: &str, body: &[u8]) -> Result<(), Denial> {
        self.permits_named(provider, || request_model::named_models_compat(provider, model, body))
    }

    fn permits_named(&self, provider: &Provider, named: impl FnOnce() -> Result<Vec<String>, Unverifiable>) -> Result<(), Denial> {
        self.permits(provider.slug, None)?;
        let Some(allowed) = self.models_for(provider.slug) else { return Ok(()) };
        let named = named().map_err(Denial::ModelUnverifiable)?;
        match named.iter().all(|model| allowed.iter().any(|a| a == model)) {
            true => Ok(()),
            false => Err(Denial::ModelNotAllowed),
        }
    }

    /// The models this grant may use on `provider`: `None` when every model is allowed.
    pub fn models_for(&self, provider: &str) -> Option<&[String]> {
        let Scope::Restricted(grants) = &self.scope else { return None };
        grants.iter().find(|g| g.provider == provider).map(|g| g.models.as_slice()).filter(|m| !m.is_empty())
    }

    /// Whether this grant may use the admin page and API.
    pub fn permits_admin(&self) -> Result<(), Denial> {
        match self.scope {
            Scope::Unrestricted => Ok(()),
            Scope::Restricted(_) => Err(Denial::NotAdmin),
        }
    }
}

fn parse_definition(text: &str, position: usize) -> Result<Definition, GrammarError> {
    let malformed = |problem| GrammarError::Malformed { position, problem };
    let (head, scope_text) = match text.split_once('=') {
        Some((head, scope)) => (head.trim(), Some(scope.trim())),
        None => (text, None),
    };
    let (key, expires_at_s) = match head.strip_suffix(')') {
        Some(rest) => {
            let (key, expiry) = rest.rsplit_once('(').ok_or(malformed("')' without '('"))?;
            let expiry = expiry.trim().parse::<u64>().map_err(|_| malformed("the expiry must be unix seconds"))?;
            (key.trim(), Some(expiry))
        }
        None => (head, None),
    };
    if key.is_empty() {
        return Err(malformed("the key is empty"));
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control() || "()=&,".contains(c)) {
        return Err(malformed("the key contains whitespace or one of ( ) = & ,"));
    }
    if key == PUBLIC_DEFAULT_KEY {
        return Err(GrammarError::PublicDefault { position });
    }
    let scope = match scope_text {
        None if key.chars().count() < MIN_UNRESTRICTED_KEY_CHARS => return Err(GrammarError::WeakKey { position }),
        None => Scope::Unrestricted,
        Some(scope_text) => Scope::Restricted(parse_scope(scope_text).ok_or(malformed("a provider name is empty"))?),
    };
    Ok(Definition { digest: digest(key), grant: Grant { position, expires_at_s, scope } })
}

fn parse_scope(text: &str) -> Option<Vec<ProviderGrant>> {
    let mut grants: Vec<ProviderGrant> = Vec::new();
    for part in text.split('&') {
        let mut items = part.split(',').map(str::trim);
        let provider = items.next().filter(|p| !p.is_empty())?.to_string();
        let models: Vec<String> = items.filter(|m| !m.is_empty()).map(str::to_string).collect();
        match grants.iter_mut().find(|g| g.provider == provider) {
            Some(existing) if existing.models.is_empty() || models.is_empty() => existing.models.clear(),
            Some(existing) => existing.models.extend(models),
            None => grants.push(ProviderGrant { provider, models }),
        }
    }
    Some(grants)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(raw: &str) -> ServiceKeys {
        ServiceKeys::parse(raw).expect("valid AUTH_KEY")
    }

    #[test]
    fn a_bare_key_is_unrestricted_and_may_use_the_admin_page() {
        let k = keys("s3cret-value-0123456");
        let grant = k.authenticate("s3cret-value-0123456", 0).expect("known");
        assert_eq!(grant.scope, Scope::Unrestricted);
        assert!(grant.permits_admin().is_ok());
        assert!(grant.permits("openai", Some("gpt-4o")).is_ok());
    }

    #[test]
    fn unknown_and_missing_keys_are_told_apart_without_echoing_them() {
        let k = keys("alpha-0123456789ab;beta-0123456789abc");
        assert_eq!(k.authenticate("gamma", 0).err(), Some(Denial::Unknown));
        assert_eq!(k.authenticate("", 0).err(), Some(Denial::Missing));
        assert_eq!(k.authenticate("alpha-0123456789a", 0).err(), Some(Denial::Unknown), "a prefix is not the key");
        assert!(k.authenticate("beta-0123456789abc", 0).is_ok());
        assert_eq!(k.recognise("beta-0123456789abc", 0).map(|r| r.definition).ok(), Some(1));
        assert_eq!(Denial::Unknown.status(), 401);
        assert!(!Denial::Unknown.message().contains("gamma"));
    }

    #[test]
    fn expiry_is_unix_seconds_and_ends_access_at_that_second() {
        let k = keys("temp-0123456789abcdef(1700000000)");
        assert!(k.authenticate("temp-0123456789abcdef", 1_699_999_999).is_ok());
        assert_eq!(k.authenticate("temp-0123456789abcdef", 1_700_000_000).err(), Some(Denial::Expired));
    }

    #[test]
    fn models_are_allowed_per_provider_not_flattened_across_providers() {
        let k = keys("app(4000000000)=openai,gpt-4o&google-ai-studio,gemini-2.5-flash");
        let grant = k.authenticate("app", 0).expect("known");
        assert!(grant.permits("openai", Some("gpt-4o")).is_ok());
        assert!(grant.permits("google-ai-studio", Some("gemini-2.5-flash")).is_ok());
        assert_eq!(grant.permits("google-ai-studio", Some("gpt-4o")), Err(Denial::ModelNotAllowed));
        assert_eq!(grant.permits("openai", Some("gemini-2.5-flash")), Err(Denial::ModelNotAllowed));
        assert_eq!(grant.permits("anthropic", None), Err(Denial::ProviderNotAllowed));
        assert_eq!(grant.permits_admin(), Err(Denial::NotAdmin));
        assert!(grant.permits("openai", None).is_ok(), "a models listing names no model");
        assert_eq!(grant.models_for("openai"), Some(&["gpt-4o".to_string()][..]));
        assert_eq!(k.authenticate("app", 0).expect("known").models_for("anthropic"), None);
    }

    #[test]
    fn a_provider_without_models_allows_all_its_models() {
        let k = keys("k=openrouter&openai,gpt-4o");
        let grant = k.authenticate("k", 0).expect("known");
        assert!(grant.permits("openrouter", Some("meta-llama/llama-3-8b")).is_ok());
        assert_eq!(grant.permits("openai", Some("o3")), Err(Denial::ModelNotAllowed));
    }

    #[test]
    fn model_names_may_hold_slashes_colons_and_dots() {
        let k = keys("k=openrouter,meta-llama/llama-3.1-8b-instruct:free");
        let grant = k.authenticate("k", 0).expect("known");
        assert!(grant.permits("openrouter", Some("meta-llama/llama-3.1-8b-instruct:free")).is_ok());
    }

    #[test]
    fn several_definitions_each_keep_their_own_scope() {
        let k = keys(" admin-0123456789abcdef ; app=openai ;; ");
        assert_eq!(k.authenticate("admin-0123456789abcdef", 0).expect("known").scope, Scope::Unrestricted);
        assert!(k.authenticate("app", 0).expect("known").permits_admin().is_err());
    }

    #[test]
    fn empty_default_and_malformed_secrets_are_refused_naming_the_position_only() {
        assert_eq!(ServiceKeys::parse("").err(), Some(GrammarError::Empty));
        assert_eq!(ServiceKeys::parse(" ; ").err(), Some(GrammarError::Empty));
        assert_eq!(ServiceKeys::parse("ok-0123456789abcdef;my-auth-key").err(), Some(GrammarError::PublicDefault { position: 2 }));
        assert_eq!(ServiceKeys::parse("my-auth-key=openai").err(), Some(GrammarError::PublicDefault { position: 1 }));
        for bad in ["(123)", "k(soon)", "k(1", "k=", "k=&openai", "has space", "k=,gpt-4o"] {
            let err = ServiceKeys::parse(bad).expect_err(bad);
            assert!(matches!(err, GrammarError::Malformed { position: 1, .. }), "{bad}: {err:?}");
        }
        let message = ServiceKeys::parse("super-secret-0123456;has space").expect_err("malformed").to_string();
        assert!(message.contains("definition 2") && !message.contains("super-secret"), "{message}");
    }

    #[test]
    fn debug_output_never_shows_keys() {
        let shown = format!("{:?}", keys("visible-secret-0123456"));
        assert!(!shown.contains("visible-secret"), "{shown}");
    }

    #[test]
    fn a_short_unrestricted_key_is_refused_at_start_and_a_short_restricted_one_is_kept() {
        let err = ServiceKeys::parse("long-enough-key-0001;short-admin").expect_err("too short");
        assert_eq!(err, GrammarError::WeakKey { position: 2 });
        let message = err.to_string();
        assert!(message.contains("definition 2") && message.contains("16 characters") && message.contains("wrangler secret put AUTH_KEY"), "{message}");
        assert!(!message.contains("short-admin"), "the key is never quoted: {message}");
        assert_eq!(ServiceKeys::parse("fifteen-chars-1").err(), Some(GrammarError::WeakKey { position: 1 }));
        assert!(ServiceKeys::parse("sixteen-chars-12").is_ok(), "16 is enough");
        assert_eq!(ServiceKeys::parse("ключ-ключ-ключ1").err(), Some(GrammarError::WeakKey { position: 1 }), "characters, not bytes");
        assert_eq!(ServiceKeys::parse("short(4102444800)").err(), Some(GrammarError::WeakKey { position: 1 }), "an expiry does not count");
        let k = keys("app=openai;x=groq,llama-3.1-8b-instant");
        assert!(k.authenticate("app", 0).is_ok(), "restricted keys keep any length");
        assert!(k.authenticate("x", 0).is_ok());
    }

    fn provider(slug: &str) -> &'static Provider {
        crate::providers::find(slug).expect("listed")
    }

    fn request<'a>(rest: &'a str, body: &'a [u8]) -> ModelRequest<'a> {
        ModelRequest { rest, query: "", content_type: Some("application/json"), body }
    }

    #[test]
    fn every_model_a_request_names_must_be_listed() {
        let k = keys("app=openai,gpt-4o-mini&openrouter,openai/gpt-4o-mini");
        let grant = k.authenticate("app", 0).expect("known");
        let openai = provider("openai");
        assert!(grant.permits_request(openai, &request("chat/completions", br#"{"model":"gpt-4o-mini"}"#)).is_ok());
        let tool = br#"{"model":"gpt-4o-mini","tools":[{"type":"image_generation","model":"gpt-image-1"}]}"#;
        assert_eq!(grant.permits_request(openai, &request("responses", tool)), Err(Denial::ModelNotAllowed));
        let fallback = br#"{"model":"openai/gpt-4o-mini","models":["openai/gpt-4o-mini","openai/o3"]}"#;
        assert_eq!(grant.permits_request(provider("openrouter"), &request("v1/chat/completions", fallback)), Err(Denial::ModelNotAllowed));
        let multipart = ModelRequest { rest: "audio/transcriptions", query: "", content_type: Some("multipart/form-data; boundary=x"), body: b"--x\r\n" };
        assert_eq!(grant.permits_request(openai, &multipart), Err(Denial::ModelUnverifiable(Unverifiable::Body)));
        assert_eq!(Denial::ModelUnverifiable(Unverifiable::Body).status(), 403);
        assert_eq!(grant.permits_request(provider("groq"), &request("chat/completions", b"{}")), Err(Denial::ProviderNotAllowed));
        assert!(grant.permits_request(openai, &request("models", b"")).is_ok(), "a listing names no model");
    }

    #[test]
    fn unrestricted_and_provider_only_grants_parse_nothing() {
        let k = keys("admin-0123456789abcdef;app=openai");
        let unreadable = ModelRequest { rest: "x", query: "", content_type: Some("multipart/form-data"), body: b"\xff" };
        for key in ["admin-0123456789abcdef", "app"] {
            let grant = k.authenticate(key, 0).expect("known");
            assert!(grant.permits_request(provider("openai"), &unreadable).is_ok(), "{key}");
            assert!(grant.permits_compat(provider("openai"), "anything", b"not json").is_ok(), "{key}");
        }
    }

    #[test]
    fn compat_requests_are_checked_on_the_split_model_and_the_other_places() {
        let k = keys("app=openai,gpt-4o-mini");
        let grant = k.authenticate("app", 0).expect("known");
        let openai = provider("openai");
        assert!(grant.permits_compat(openai, "gpt-4o-mini", br#"{"model":"openai/gpt-4o-mini"}"#).is_ok());
        assert_eq!(grant.permits_compat(openai, "o3", br#"{"model":"openai/o3"}"#), Err(Denial::ModelNotAllowed));
        let tool = br#"{"model":"openai/gpt-4o-mini","tools":[{"type":"image_generation","model":"gpt-image-1"}]}"#;
        assert_eq!(grant.permits_compat(openai, "gpt-4o-mini", tool), Err(Denial::ModelNotAllowed));
        let shadow = br#"{"model":"openai/gpt-4o-mini","Model":"o3"}"#;
        assert_eq!(grant.permits_compat(openai, "gpt-4o-mini", shadow), Err(Denial::ModelNotAllowed), "another spelling of model");
    }
}
