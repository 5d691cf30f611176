//! Service keys: the `AUTH_KEY` secret's grammar, and deciding what a presented key may do.
//!
//! `AUTH_KEY` holds one or more definitions separated by `;`, each
//! `key[(unix_expiry)][=provider[,model…][&provider[,model…]…]]`. A definition without `=` is unrestricted and may
//! use the admin page. With a scope, the key may use only the listed providers and, for a provider that lists models,
//! only those models — per provider (the original flattened models across providers; that let a key scoped to
//! `openai,gpt-4o` use `gpt-4o` on any provider it could reach).
//!
//! Comparison is constant-time: both the presented and the configured keys are hashed with SHA-256 and compared with
//! `subtle`, over every configured key with no early exit, so neither a key's length nor which definition matched
//! shows in the timing. Parsing reports a definition by its position, never by its text.

use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// The value the original project shipped as its default; anyone can guess it, so it is refused.
pub const PUBLIC_DEFAULT_KEY: &str = "my-auth-key";

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
    /// The key is restricted and the admin page needs an unrestricted one.
    NotAdmin,
}

impl Denial {
    /// HTTP status: 401 when the caller is not recognised, 403 when it is but may not do this.
    pub fn status(self) -> u16 {
        match self {
            Denial::Missing | Denial::Unknown | Denial::Expired => 401,
            Denial::ProviderNotAllowed | Denial::ModelNotAllowed | Denial::NotAdmin => 403,
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
        if presented.is_empty() {
            return Err(Denial::Missing);
        }
        let presented = digest(presented);
        let mut found: Option<&Grant> = None;
        for definition in &self.definitions {
            let equal: bool = definition.digest.ct_eq(&presented).into();
            if equal && found.is_none() {
                found = Some(&definition.grant);
            }
        }
        let grant = found.ok_or(Denial::Unknown)?;
        match grant.expires_at_s {
            Some(expiry) if now_s >= expiry => Err(Denial::Expired),
            _ => Ok(grant),
        }
    }
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
        None => Scope::Unrestricted,
        Some(scope_text) => Scope::Restricted(parse_scope(scope_text).ok_or(malformed("a provider name is empty"))?),
    };
    Ok(Definition { digest: digest(key), grant: Grant { expires_at_s, scope } })
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
        let k = keys("s3cret-value");
        let grant = k.authenticate("s3cret-value", 0).expect("known");
        assert_eq!(grant.scope, Scope::Unrestricted);
        assert!(grant.permits_admin().is_ok());
        assert!(grant.permits("openai", Some("gpt-4o")).is_ok());
    }

    #[test]
    fn unknown_and_missing_keys_are_told_apart_without_echoing_them() {
        let k = keys("alpha;beta");
        assert_eq!(k.authenticate("gamma", 0).err(), Some(Denial::Unknown));
        assert_eq!(k.authenticate("", 0).err(), Some(Denial::Missing));
        assert_eq!(k.authenticate("alph", 0).err(), Some(Denial::Unknown), "a prefix is not the key");
        assert!(k.authenticate("beta", 0).is_ok());
        assert_eq!(Denial::Unknown.status(), 401);
        assert!(!Denial::Unknown.message().contains("gamma"));
    }

    #[test]
    fn expiry_is_unix_seconds_and_ends_access_at_that_second() {
        let k = keys("temp(1700000000)");
        assert!(k.authenticate("temp", 1_699_999_999).is_ok());
        assert_eq!(k.authenticate("temp", 1_700_000_000).err(), Some(Denial::Expired));
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
        let k = keys(" admin ; app=openai ;; ");
        assert_eq!(k.authenticate("admin", 0).expect("known").scope, Scope::Unrestricted);
        assert!(k.authenticate("app", 0).expect("known").permits_admin().is_err());
    }

    #[test]
    fn empty_default_and_malformed_secrets_are_refused_naming_the_position_only() {
        assert_eq!(ServiceKeys::parse("").err(), Some(GrammarError::Empty));
        assert_eq!(ServiceKeys::parse(" ; ").err(), Some(GrammarError::Empty));
        assert_eq!(ServiceKeys::parse("ok;my-auth-key").err(), Some(GrammarError::PublicDefault { position: 2 }));
        for bad in ["(123)", "k(soon)", "k(1", "k=", "k=&openai", "has space", "k=,gpt-4o"] {
            let err = ServiceKeys::parse(bad).expect_err(bad);
            assert!(matches!(err, GrammarError::Malformed { position: 1, .. }), "{bad}: {err:?}");
        }
        let message = ServiceKeys::parse("super-secret;has space").expect_err("malformed").to_string();
        assert!(message.contains("definition 2") && !message.contains("super-secret"), "{message}");
    }

    #[test]
    fn debug_output_never_shows_keys() {
        let shown = format!("{:?}", keys("visible-secret"));
        assert!(!shown.contains("visible-secret"), "{shown}");
    }
}
